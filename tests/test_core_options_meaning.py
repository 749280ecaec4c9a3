"""Options mean what they say: degenerate lists are refused (never silently shortened or taken as "all"),
LaTeX keeps non-ASCII names, and ``report A B`` across protocols never rewrites run A's files."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from support.core_plugins import PLUGINS
from support.report_fixture import make_run

from emobench import registry
from emobench.cli import main as cli
from emobench.errors import EmobenchError
from emobench.report.latex import standalone, tex
from emobench.spec.config import merge
from emobench.spec.protocol import Protocol


@pytest.mark.parametrize("layer,needle", [
    ({"methods": ","}, "--methods"), ({"metrics": " , "}, "--metrics"), ({"emotions": ",,"}, "--emotions"),
    ({"templates": ","}, "--prompts"), ({"track": "content", "contents": ","}, "--contents"),
    ({"track": "content", "contents": []}, "contents"), ({"methods": []}, "methods")])
def test_lists_that_name_nothing_are_refused(layer, needle):
    with pytest.raises(EmobenchError, match="names nothing|empty list") as err:
        merge(layer)
    assert needle in str(err.value)


def test_degenerate_option_lists_are_refused(monkeypatch):
    monkeypatch.setenv("EMOBENCH_PLUGINS", PLUGINS)
    for spec in ("noise:tags=a++b", "noise:tags=+a", "noise:tags=a+"):
        with pytest.raises(EmobenchError, match="empty item"):
            registry.methods().create(spec)
    assert registry.methods().create("noise:tags=a+b")[1].config.tags == ("a", "b")
    with pytest.raises(EmobenchError, match="names an emotion twice"):
        registry.methods().create("emogen:fuse=fear+fear")
    assert registry.methods().create("emogen:fuse=fear+awe")[1].config.fusion == ("fear", "awe")


def test_latex_keeps_non_ascii_names(tmp_path):
    assert tex("▲ ↓ é Ω 情") == r"$\blacktriangle$ $\downarrow$ é Ω 情"
    assert tex("a\x00b\x07c") == "abc"   # control characters: no engine sets them
    run = make_run(tmp_path / "run", methods=("sd", "emogen"))
    methods = json.loads((run / "methods.json").read_text())
    methods["emogen"]["display_name"] = "Émotion-Générale"
    (run / "methods.json").write_text(json.dumps(methods))
    assert cli(["report", str(run), "--latex", "--no-figures", "--no-html", "--out", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "leaderboard.tex").read_text(encoding="utf-8")
    assert "Émotion-Générale &" in text and "?" not in text.split(r"\midrule")[1].split(r"\bottomrule")[0]
    engine = shutil.which("pdflatex")
    if engine is None:
        pytest.skip("no pdflatex: bash scripts/test-setup.d/latex.sh")
    doc = tmp_path / "doc.tex"
    doc.write_text(standalone(text), encoding="utf-8")
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:]


def test_report_across_protocols_never_rewrites_the_first_run(tmp_path, capsys):
    a = make_run(tmp_path / "a", methods=("sd", "emogen"))
    b = make_run(tmp_path / "b", methods=("sd", "emogen"), emotions=("awe", "fear"))
    protocols = {}
    for run, seed in ((a, 0), (b, 1)):   # two protocols: another base seed
        p = Protocol("emotion", ("an image of {emotion}",), (), ("amusement", "awe", "contentment"), 4, seed, "mini",
                     (("judges", "j1"),), "LatentSeededDDPMScheduler", 25, 7.5, (32, 32))
        (run / "protocol.json").write_text(json.dumps(p.to_json()))
        protocols[run] = p.fingerprint
    assert cli(["report", str(a), "--no-figures"]) == 0
    capsys.readouterr()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in a.iterdir() if p.is_file()}
    assert cli(["report", str(a), str(b), "--no-figures"]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("emobench report: note:")]
    assert len(errors) == 1 and errors[0].startswith("emobench: error:") and "--out" in errors[0]
    assert cli(["report", str(a), str(b), "--no-figures", "--out", str(tmp_path / "both")]) == 0
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in a.iterdir() if p.is_file()} == before
    index = (tmp_path / "both" / "leaderboard.md").read_text()
    assert f"protocol-{protocols[a]}" in index and f"protocol-{protocols[b]}" in index
