"""leaderboard.tex: a booktabs table for papers (configured order, declared names, bold best, small intervals,
significance marks, scale notes) that a TeX engine compiles."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from emobench.cli import main as cli_main
from emobench.report.latex import standalone, tex
from support.report_fixture import make_run

NAMES = {"sd": "Stable Diffusion", "textual-inversion": "Textual Inversion", "emogen": "EmoGen (mapper=fc)"}
NOTE = "LPIPS here is unweighted, about 3; the paper's lies in [0, 1] & 100% sure_"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("latex")
    run = make_run(tmp / "run", methods=("sd", "textual-inversion", "emogen"), failed={"dreambooth": "crashed"})
    methods = json.loads((run / "methods.json").read_text())
    for i, m in enumerate(("sd", "textual-inversion", "dreambooth", "emogen")):   # the paper's order
        methods[m].update(position=i, display_name=NAMES.get(m, "DreamBooth"))
    (run / "methods.json").write_text(json.dumps(methods))
    summary = json.loads((run / "summary.json").read_text())
    summary["display"]["lpips"]["scale_note"] = NOTE
    (run / "summary.json").write_text(json.dumps(summary))
    import pandas as pd

    df = pd.read_csv(run / "summary.csv")   # one clearly significant difference, so a mark must appear
    df.loc[(df["method"] == "emogen") & (df["metric"] == "emo-a") & (df["emotion"] == "all"), "p_holm"] = 0.004
    df.to_csv(run / "summary.csv", index=False)
    assert cli_main(["report", str(run), "--latex", "--no-figures", "--no-html", "--out", str(tmp / "out")]) == 0
    return tmp / "out"


def test_methods_in_configured_order_with_declared_names(report):
    text = (report / "leaderboard.tex").read_text()
    body = text[text.index(r"\midrule"):text.index(r"\bottomrule")]
    rows = [line.split(" & ")[0] for line in body.splitlines() if " & " in line]
    assert rows[:3] == ["Stable Diffusion", "Textual Inversion", "EmoGen (mapper=fc)"]
    csv = (report / "leaderboard.csv").read_text().splitlines()
    assert csv[0].startswith("section,method,display_name,")
    assert any(line.startswith("baseline,sd,Stable Diffusion,") for line in csv)   # the id stays in the CSV
    md = (report / "leaderboard.md").read_text()
    assert md.index("`sd`") < md.index("`textual-inversion`") < md.index("`emogen`")


def test_booktabs_bold_best_small_intervals_marks_and_scale_note(report):
    text = (report / "leaderboard.tex").read_text()
    for part in (r"\toprule", r"\midrule", r"\bottomrule", r"\textbf{", r"{\scriptsize [", r"\textsuperscript{**}"):
        assert part in text, part
    assert "FID$\\downarrow$" in text and "Emo-A$\\uparrow$" in text
    assert "Scale: " + tex(NOTE) in text and r"\&" in text and r"100\%" in text and r"sure\_" in text
    assert "Scale: " + NOTE in (report / "leaderboard.md").read_text()
    assert "dreambooth" not in text.split(r"\bottomrule")[0]   # failed methods have no row


def test_tex_escapes_everything_latex_treats_specially():
    assert tex("a_b & 5% #1 {x} ~ ^ \\") == r"a\_b \& 5\% \#1 \{x\} \textasciitilde{} \textasciicircum{} \textbackslash{}"
    assert tex("▲ ↓ é") == r"$\blacktriangle$ $\downarrow$ é"   # non-ASCII names are kept (UTF-8)


def test_leaderboard_tex_compiles(report, tmp_path):
    engine = shutil.which("pdflatex") or shutil.which("lualatex") or shutil.which("xelatex")
    if engine is None:
        pytest.skip("no TeX engine (pdflatex/lualatex/xelatex) installed: bash scripts/test-setup.d/latex.sh")
    doc = tmp_path / "doc.tex"
    doc.write_text(standalone((report / "leaderboard.tex").read_text()))
    proc = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")
    assert "Overfull" not in proc.stdout or "Warning" not in proc.stdout.split("Overfull")[0][-200:]


def test_scale_notes_come_from_the_zoos_judges_not_metric_names(zoo):
    """The mini judges declare that their LPIPS / feature distances are off the paper's scale; the scorer
    records it as a display fact; a zoo whose judges declare nothing gets no note."""
    from emobench import registry
    from emobench.scoring.run import display_facts

    metrics = [registry.metrics().create(n)[1] for n in ("lpips", "fid", "kid", "emo-a")]
    facts = display_facts(metrics, zoo)
    assert "[0, 1]" in facts["lpips"]["scale_note"] and facts["fid"]["scale_note"].startswith("FID: ")
    assert facts["kid"]["scale_note"].startswith("KID: ") and "scale_note" not in facts["emo-a"]
    assert all("scale_note" not in f for f in display_facts(metrics).values())   # no zoo: no claim
