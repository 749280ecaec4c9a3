"""A method that copies one training image per emotion into every cell, scored end to end: the judge loves it
(Emo-A 100 %, above the real images' interval) and so does precision, but its recall is 0, its coverage near 0,
its Vendi 1 and its copy rate 100 %; the report marks it "above real images" in every table and in the
figures, with the sentence that says what that usually means and where to look."""
from __future__ import annotations

import json

import pytest

from emobench.report import figures as report_figures
from emobench.report.board_csv import to_csv
from emobench.report.ceilings import ceilings
from emobench.report.figstyle import TEXT
from emobench.report.html import render
from emobench.report.latex import to_latex
from emobench.report.leaderboard import build, to_markdown
from emobench.report.output import AtomicOutput
from emobench.rundir.results import load_run
from emobench.scoring import score_run
from emobench.scoring.stats import BootstrapConfig

from support.coverage_fakes import collapse_run, split_zoo

METRICS = ["emo-a", "coverage", "coverage-clip", "copy-rate", "vendi"]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("collapse")
    mp = pytest.MonkeyPatch()
    mp.setenv("EMOBENCH_CACHE", str(tmp / "cache"))
    zoo = split_zoo(tmp)
    run = tmp / "run"
    collapse_run(run, zoo, methods=("sd", "varied", "collapse"), n_per_emotion=16)
    score_run(run, zoo, METRICS, baseline="sd", bootstrap=BootstrapConfig(n_resamples=100), cache_dir=tmp / "cache",
              progress=False)
    yield run
    mp.undo()


def _all(run) -> dict[tuple[str, str], dict]:
    rows = json.loads((run / "summary.json").read_text())["rows"]
    return {(r["method"], r["metric"]): r for r in rows if r["emotion"] == "all" and r["status"] == "ok"}


def test_collapse_has_emotion_and_precision_but_no_coverage(scored):
    v = {k: r["value"] for k, r in _all(scored).items()}
    assert v[("collapse", "emo-a")] == 1.0 and v[("collapse", "precision")] >= 0.75
    assert v[("collapse", "recall")] == 0.0 and v[("collapse", "recall-clip")] == 0.0
    assert v[("collapse", "coverage")] < 0.2 and v[("collapse", "coverage-clip")] < 0.2
    assert v[("collapse", "vendi")] == pytest.approx(1.0)
    assert v[("collapse", "copy-rate")] == 1.0 and v[("collapse", "copy-rate-clip")] == 1.0
    # a method that draws the same emotion with fresh images reaches much more of the real distribution
    assert v[("varied", "recall")] > 0.5 and v[("varied", "coverage")] > 3 * v[("collapse", "coverage")]
    assert v[("varied", "copy-rate")] < 0.2 and v[("real (control)", "copy-rate")] < 0.15


def test_intervals_contain_their_estimates(scored):
    rows = _all(scored)
    for (m, col), r in rows.items():
        if col in ("coverage", "recall", "vendi"):
            if r["ci_low"] is None:   # no interval: the row says why (one image copied everywhere: no replicate moves)
                assert m == "collapse" and r["ci_note"].startswith("variance not estimable"), (m, col, r)
                continue
            assert r["ci_low"] - 1e-12 <= r["value"] <= r["ci_high"] + 1e-12, (m, col, r)
    # every method that draws fresh images has an interval, and so do the controls
    assert all(rows[(m, c)]["ci_low"] is not None for m in ("sd", "varied", "real (control)")
               for c in ("coverage", "recall", "vendi"))


def test_the_report_marks_it_above_real_images(scored):
    run = load_run(scored)
    (c,) = ceilings(run)
    assert c.column == "emo-a" and c.mark == "above real images" and "collapse" in c.methods and "sd" not in c.methods
    assert c.see == ["Recall", "Coverage"]   # the coverage columns the sentence points at
    lb = build(run)
    md = to_markdown(lb)
    assert "(above real images)" in md and "most typical picture" in md and "columns Recall, Coverage" in md
    board = to_csv(lb)
    header, *rows = [line.split(",") for line in board.splitlines()]
    col = header.index("emo-a_above")
    marked = {r[1]: r[col] for r in rows}
    assert marked["collapse"] == "above real images" and marked["sd"] == ""
    assert 'class="above"' in render(run, lb) and r"\ddag" in to_latex(lb)


def test_the_figures_carry_the_mark(scored, tmp_path, monkeypatch):
    run = load_run(scored)
    legends: dict[str, list[str]] = {}

    def capture(fig, out, name, size):
        legends[name] = [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
        return name
    monkeypatch.setattr(report_figures.scatter, "save", capture)
    monkeypatch.setattr(report_figures.bars, "save", capture)
    styles = report_figures.method_styles(run.method_names() + ["real (control)", "shuffled (control)"])
    methods = run.method_names()
    with AtomicOutput(tmp_path / "out") as out:
        assert report_figures.scatter_emoa_coverage(run, methods, styles, out, TEXT) == "scatter_emoa_coverage"
        spec = next(s for s in report_figures.ordered_specs(["emo-a"], run.display) if s.key == "emo-a")
        report_figures.bar_chart(run, methods, spec, styles, out, TEXT)
    # legends name methods by their declared display names (the fake run declares m.title())
    assert "Collapse (above real images)" in legends["scatter_emoa_coverage"]
    assert "Sd" in legends["scatter_emoa_coverage"] and "real (control)" in legends["scatter_emoa_coverage"]
    assert "Collapse (above real images)" in legends["bars_emo-a"]


def test_new_figures_at_both_widths_with_no_text_under_7pt(scored, tmp_path, monkeypatch):
    from matplotlib.text import Text

    from emobench.report.figstyle import MIN_PT, SIZES

    run = load_run(scored)
    seen: dict[str, tuple[float, float]] = {}

    def capture(fig, out, name, size):
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        seen[name] = (fig.get_figwidth(), min(t.get_fontsize() for t in texts))
        return name
    monkeypatch.setattr(report_figures.scatter, "save", capture)
    monkeypatch.setattr(report_figures.pairs, "save", capture)
    styles = report_figures.method_styles(run.method_names() + ["real (control)", "shuffled (control)"])
    with AtomicOutput(tmp_path / "out") as out:
        for size in SIZES:
            assert report_figures.scatter_emoa_coverage(run, run.method_names(), styles, out, size)
            assert report_figures.pairs_figure(run, run.method_names(), styles, out, size) == "closest_pairs"
            for name in ("scatter_emoa_coverage", "closest_pairs"):
                width, smallest = seen.pop(name)
                assert width == pytest.approx(size.width) and smallest >= MIN_PT, (name, size, smallest)
