"""leaderboard.md / leaderboard.csv: content, marks, sections, determinism, merging and bad input."""
from __future__ import annotations

import io
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest

from emobench.cli import main as cli_main
from emobench.errors import EmobenchError
from emobench.report import build_report
from emobench.report.board_csv import to_csv
from emobench.report.leaderboard import build, sig_mark, to_markdown
from emobench.rundir.results import load_run, load_runs
from support.report_fixture import make_run

REPO = Path(__file__).resolve().parents[1]


def _section(md: str, title: str) -> str:
    start = md.index(f"## {title}")
    end = md.find("\n## ", start + 3)
    return md[start:end if end != -1 else None]


def test_leaderboard_content_and_sections(tmp_path):
    run = make_run(tmp_path / "run", failed={"dreambooth": "fit failed: loss is NaN at step 12"})
    build_report([run], figures=False, html=False)
    md = (run / "leaderboard.md").read_text()
    methods = _section(md, "Methods")
    assert "`sd` (baseline)" in methods and "`emogen`" in methods and "`textual-inversion`" in methods
    assert "control" not in methods and "dreambooth" not in methods
    assert "FID↓ | KID↓ | LPIPS↑ | Emo-A↑ | Sem-C↑ | Sem-D↑ | CLIP score↑" in methods
    assert "loss is NaN at step 12" in _section(md, "Failed methods")
    controls = _section(md, "Controls")
    assert "`real (control)`" in controls and "`shuffled (control)`" in controls and "**" not in controls
    assert "paper-reported" not in md  # mini scale: the paper's rows are not mixed in

    # The best value per column is the one marked, by direction (lower FID, higher Emo-A).
    s = pd.read_csv(run / "summary.csv")
    pooled = s[(s.emotion == "all") & s.method.isin(["sd", "emogen", "textual-inversion"])]
    for metric, pick in (("fid", "idxmin"), ("emo-a", "idxmax"), ("sem-d", "idxmax")):
        sub = pooled[pooled.metric == metric].set_index("method")["value"]
        best = getattr(sub, pick)()
        line = next(l for l in methods.splitlines() if l.startswith(f"| `{best}`"))
        col = ["fid", "kid", "lpips", "emo-a", "sem-c", "sem-d", "clip-score"].index(metric) + 2
        assert line.split(" | ")[col].startswith("**"), (metric, best, line)

    csv = pd.read_csv(run / "leaderboard.csv", keep_default_na=False)
    assert list(csv["section"]) == ["baseline", "method", "method", "failed", "control", "control"]
    assert csv.loc[csv.method == "dreambooth", "reason"].item() == "fit failed: loss is NaN at step 12"
    emogen = pooled[(pooled.method == "emogen") & (pooled.metric == "emo-a")].iloc[0]
    row = csv[csv.method == "emogen"].iloc[0]
    assert float(row["emo-a"]) == emogen["value"] and float(row["emo-a_p_holm"]) == emogen["p_holm"]
    assert float(row["emo-a_ci_low"]) == emogen["ci_low"]


def test_significance_marks_follow_holm_p(tmp_path):
    assert [sig_mark(p) for p in (0.0005, 0.005, 0.03, 0.2, math.nan)] == ["***", "**", "*", "n.s.", ""]
    run = make_run(tmp_path / "run")
    s = pd.read_csv(run / "summary.csv")
    pick = (s.method == "emogen") & (s.metric == "emo-a") & (s.emotion == "all")
    s.loc[pick, ["diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm"]] = [0.25, 0.1, 0.4, 0.0001, 0.0004]
    s.to_csv(run / "summary.csv", index=False)
    md = to_markdown(build(load_run(run)))
    line = next(l for l in _section(md, "Paired difference").splitlines() if l.startswith("| `emogen`"))
    assert "+25.0% [+10.0%, +40.0%] ▲***" in line


def test_marks_tell_better_from_worse_without_colour(tmp_path):
    """Direction by symbol (greyscale-safe): a lower FID is better (▲), a lower Emo-A worse (▼); a cell whose
    data carry no test says so and has no mark — in the markdown and in the CSV."""
    assert sig_mark(0.0005, -1.0, False) == "▲***" and sig_mark(0.0005, -1.0, True) == "▼***"
    assert sig_mark(0.2, -1.0, True) == "n.s."
    run = make_run(tmp_path / "run")
    s = pd.read_csv(run / "summary.csv")
    cols = ["diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm"]
    at = lambda m: (s.method == "emogen") & (s.metric == m) & (s.emotion == "all")  # noqa: E731
    s.loc[at("emo-a"), cols] = [-0.25, -0.4, -0.1, 0.0001, 0.0004]
    s.loc[at("fid"), cols] = [-3.0, -4.0, -2.0, 0.001, 0.004]
    s.loc[at("kid"), cols] = [0.01, -0.01, 0.03, float("nan"), float("nan")]
    s["p_note"] = ""
    s.loc[at("kid"), "p_note"] = "no test: 2 cell(s) in an emotion < 5"
    s.to_csv(run / "summary.csv", index=False)
    lb = build(load_run(run))
    line = next(l for l in _section(to_markdown(lb), "Paired difference").splitlines() if l.startswith("| `emogen`"))
    assert "-25.0% [-40.0%, -10.0%] ▼***" in line and "-3.00 [-4.00, -2.00] ▲**" in line
    assert "[-0.0100, +0.0300] no test" in line
    board = pd.read_csv(io.StringIO(to_csv(lb)), keep_default_na=False)
    row = board[board.method == "emogen"].iloc[0]
    assert (row["emo-a_mark"], row["fid_mark"], row["kid_mark"]) == ("▼***", "▲**", "no test")


def test_report_bytes_are_deterministic(tmp_path):
    run = make_run(tmp_path / "run", failed={"dreambooth": "crashed"})
    build_report([run], figures=False, grid_cells=None)
    first = {n: (run / n).read_bytes() for n in ("leaderboard.md", "leaderboard.csv", "index.html")}
    build_report([run], out=tmp_path / "again", figures=False, grid_cells=None)
    for n, data in first.items():
        assert (tmp_path / "again" / n).read_bytes() == data, n
    assert str(tmp_path) not in first["leaderboard.md"].decode()  # no absolute paths in committed files
    assert not [p for p in run.iterdir() if p.name.startswith(".emobench-report-")]


def _paper_protocol(run, **zoo_changes):
    """Give a fake paper-scale run the paper's protocol: official pinned judges, 512 px (the prompt and n come
    from make_run's arguments)."""
    zoo = json.loads((run / "zoo.json").read_text())
    zoo.update(sampling={"height": 512, "width": 512},
               hashes={"judges.object": "0676ba61" + "0" * 56, "judges.lpips": "7be5be79" + "0" * 56 + ":ab"})
    zoo.update(zoo_changes)
    (run / "zoo.json").write_text(json.dumps(zoo))
    return run


def test_paper_reference_rows_only_at_paper_scale(tmp_path):
    run = _paper_protocol(make_run(tmp_path / "run", scale="paper", emotions=("awe", "fear"), n_per_emotion=10))
    build_report([run], figures=False)
    md = (run / "leaderboard.md").read_text()
    ref = _section(md, "Reference")
    assert "EmoGen (paper-reported) | – | 41.60 | – | 0.717 | 76.25% | 0.633 | 0.0335 | – |" in ref
    assert "paper-reported" not in _section(md, "Methods") and "**" not in ref
    csv = pd.read_csv(run / "leaderboard.csv", keep_default_na=False)
    refs = csv[csv.section.str.startswith("reference")]
    assert len(refs) == 4 and (refs["fid_best"] == "").all()
    assert (REPO / "leaderboards/paper/table1.csv").read_bytes() == \
        (REPO / "emobench/report/paper_table1.csv").read_bytes()


def test_merge_runs_with_same_plan_and_judges(tmp_path):
    a = make_run(tmp_path / "a", methods=("sd", "emogen"), seed=1)
    b = make_run(tmp_path / "b", methods=("sd", "textual-inversion"), seed=2)
    merged = load_runs([a, b])
    assert merged.method_names() == ["sd", "emogen", "textual-inversion"]
    res = build_report([a, b], out=tmp_path / "merged", figures=False)
    md = (res.out / "leaderboard.md").read_text()
    assert "merged runs: `a, b`" in md and "`textual-inversion`" in md and "`emogen`" in md
    html = (res.out / "index.html").read_text()
    assert html.count("<img ") == 3 * 3 * 4  # images found in whichever run made them


@pytest.mark.parametrize("change,named", [
    ({"judges": "judges-v2"}, "judges_hash"),
    ({"n_per_emotion": 3}, "plan_hash"),
    ({"baseline": "emogen"}, "baseline"),
])
def test_merge_refuses_different_runs(tmp_path, change, named):
    a = make_run(tmp_path / "a", methods=("sd", "emogen"))
    b = make_run(tmp_path / "b", **{"methods": ("sd", "emogen"), **change})
    with pytest.raises(EmobenchError, match=named):
        load_runs([a, b])


def test_merge_refuses_same_method_with_different_images(tmp_path):
    a = make_run(tmp_path / "a", methods=("sd", "emogen"))
    b = make_run(tmp_path / "b", methods=("sd", "emogen"))
    lines = (b / "manifest.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    rec["key"] = "0" * 16
    (b / "manifest.jsonl").write_text("\n".join([json.dumps(rec)] + lines[1:]) + "\n")
    with pytest.raises(EmobenchError, match="different images"):
        load_runs([a, b])


def test_unscored_run_tells_the_user_to_score(tmp_path, capsys):
    run = make_run(tmp_path / "run", scored=False)
    assert cli_main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"run `emobench score {run}` first" in err and len(err.strip().splitlines()) == 1
    assert not (run / "leaderboard.md").exists()
    assert cli_main(["report", str(tmp_path / "nope")]) == 2


def test_unwritable_output_is_a_clear_error(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cli_main(["report", str(run), "--out", str(blocker / "sub"), "--no-figures"]) == 2
    assert "cannot write the report into" in capsys.readouterr().err
    if os.geteuid() != 0:  # root ignores permissions; the blocker case above covers it there
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(EmobenchError, match="cannot write"):
            build_report([run], out=ro, figures=False)


def test_failure_midway_leaves_no_half_written_files(tmp_path, monkeypatch):
    run = make_run(tmp_path / "run")
    import emobench.report.html as html_mod

    def boom(*a, **k):
        raise RuntimeError("disk full while rendering")

    monkeypatch.setattr(html_mod, "render", boom)
    with pytest.raises(RuntimeError):
        build_report([run], figures=False)
    assert not (run / "leaderboard.md").exists() and not (run / "leaderboard.csv").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".emobench-report-")]


def test_cli_report_writes_into_the_run(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert cli_main(["report", str(run), "--no-figures"]) == 0
    assert (run / "leaderboard.md").is_file() and (run / "index.html").is_file()
    assert "leaderboard.md" in capsys.readouterr().out


def test_large_images_are_embedded_as_thumbnails(tmp_path):
    import base64
    import io
    import re

    from PIL import Image

    run = make_run(tmp_path / "run", methods=("sd",), emotions=("awe",), n_per_emotion=2, size=300)
    build_report([run], figures=False)
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', (run / "index.html").read_text())
    assert len(uris) == 2
    with Image.open(io.BytesIO(base64.b64decode(uris[0]))) as im:
        assert max(im.size) == 128  # a 512-px paper-scale page stays a few MB, not hundreds


@pytest.mark.parametrize("change, reason", [
    ({"scale": "mini"}, "at mini scale"),
    ({"hashes": {"judges.object": "deadbeef" + "0" * 56, "judges.lpips": "7be5be79" + "0" * 56}},
     "judges.object (unknown"),
    ({"sampling": {"height": 32, "width": 32}}, "32×32 pixels"),
    ("templates", "not the paper's emotion-only prompt"),
    ("n", "fewer than the official evaluation's 10"),
])
def test_paper_reference_needs_the_papers_protocol(tmp_path, change, reason):
    """A 32-pixel random-weight paper-scale zoo (make-tiny-paper) must not sit beside the paper's numbers; the
    report says why the block is absent."""
    kw = {"templates": ("a photo of {emotion} at night",)} if change == "templates" else {}
    run = make_run(tmp_path / "run", scale="paper", emotions=("awe",), n_per_emotion=4 if change == "n" else 10,
                   **kw)
    _paper_protocol(run, **(change if isinstance(change, dict) else {}))
    build_report([run], figures=False)
    md = (run / "leaderboard.md").read_text()
    assert "paper-reported" not in md and reason in md, md[-600:]
    assert reason in (run / "index.html").read_text().replace("&#x27;", "'")


def test_official_files_by_published_hash_prefix_only():
    from emobench.zoo.official import NOT_PINNED, UNKNOWN, file_status, statuses

    assert file_status("judges.object", "11ad3fa6" + "f" * 56) == "official: torchvision ResNet50_Weights.IMAGENET1K_V2"
    assert file_status("judges.object", "12345678" + "f" * 56) == UNKNOWN
    assert file_status("judges.fid", "6726825d" + "f" * 56) == NOT_PINNED   # no published sha256 to check
    assert statuses({"pipeline.unet": "ab", "judges.lpips": "7be5be79aa:cc"})["judges.lpips"].startswith("official")


def test_tables_show_declared_display_names_beside_ids(tmp_path):
    """Paper tables name methods as their plugins declare them (methods.json ``display_name``); the id stays
    beside it in md/html and alone in the CSV's method column, so a reader can still type it."""
    run = make_run(tmp_path / "run")
    methods = json.loads((run / "methods.json").read_text())
    methods["emogen"]["display_name"] = "EmoGen"
    (run / "methods.json").write_text(json.dumps(methods))
    build_report([run], tmp_path / "out", figures=False)
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert "EmoGen (`emogen`)" in md and "`sd`" in md   # sd declared none here: its id alone
    assert "EmoGen <code>emogen</code>" in (tmp_path / "out" / "index.html").read_text()
    csv_rows = pd.read_csv(io.StringIO((tmp_path / "out" / "leaderboard.csv").read_text()))
    row = csv_rows[csv_rows["method"] == "emogen"].iloc[0]
    assert row["display_name"] == "EmoGen"


def test_rows_that_read_the_dataset_statistics_are_marked_with_a_note(tmp_path):
    """A zero-training control that samples content from the dataset's statistics (uses_dataset_statistics in
    methods.json) is marked § in every table, with one note saying it learns nothing but reads the data."""
    run = make_run(tmp_path / "run", methods=("sd", "emogen"))
    methods = json.loads((run / "methods.json").read_text())
    methods["emogen"]["uses_dataset_statistics"] = True
    (run / "methods.json").write_text(json.dumps(methods))
    lb = build(load_run(run))
    assert lb.display_names["emogen"].endswith(" §") and not lb.display_names["sd"].endswith("§")
    md = to_markdown(lb)
    assert "§ emogen: no training, but it reads the emotion dataset at generation time" in md
    assert "§" in to_csv(lb).split("emogen", 1)[1].split("\n", 1)[0]
