"""Reports from stored run results: leaderboard (Markdown, CSV), a one-file HTML page and paper figures.

``build_report(run_dirs, out)`` is what ``emobench report`` runs; ``build_figures(run_dirs, out)`` is
``emobench figures``. Both read only the files a scored run holds (see docs/ARCHITECTURE.md) and write
through ``AtomicOutput``, so a failure never leaves a half-written file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from emobench.report import figures as _figures
from emobench.report import html as _html
from emobench.report import judges_section as _judges
from emobench.report import leaderboard as _leaderboard
from emobench.report.output import AtomicOutput
from emobench.report.rundata import RunData, load_runs


@dataclass
class ReportResult:
    out: Path
    files: list[str]


def _out_dir(run_dirs: Sequence[str | Path], out: str | Path | None) -> Path:
    return Path(out) if out is not None else Path(run_dirs[0])


def provenance(run: RunData) -> str:
    """What the report was made from (config, zoo hashes, plan hash, scoring settings), deterministic JSON.

    Written beside the leaderboard, so a leaderboard copied out of its run (``--out``) keeps its run config
    and hashes. Run folder names and machine facts (env.json) are left out: they differ between reruns.
    """
    doc = {
        "format": "emobench-report-provenance", "version": 1,
        "config": run.config, "zoo": run.zoo, "plan_hash": run.plan_hash, "judges_hash": run.judges_hash,
        "baseline": run.baseline, "scoring": {k: v for k, v in run.scoring.items() if k != "problems"},
        "methods": {m: {k: v for k, v in info.items() if k in ("status", "reason", "config", "artifact_key")}
                    for m, info in sorted(run.methods.items())},
    }
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


def build_report(run_dirs: Sequence[str | Path], out: str | Path | None = None, *,
                 figures: bool = True, html: bool = True, grid_cells: int | None = 24,
                 human: str | Path | None = None) -> ReportResult:
    run: RunData = load_runs(list(run_dirs))
    lb = _leaderboard.build(run)
    study = None
    if human is not None:   # a human-study vote store: its analysis becomes a section (emobench.human)
        from emobench.human.analyze import analyze
        from emobench.human.store import VoteStore

        study = analyze(VoteStore.open(human), run_dir=run.root)
    dest = _out_dir(run_dirs, out)
    files = ["leaderboard.md", "leaderboard.csv", "provenance.json"]
    with AtomicOutput(dest) as w:
        judges_md = _judges.to_markdown(run, lb)   # per-judge Emo-A, agreement, audit (when the run has them)
        w.write_text("leaderboard.md", _leaderboard.to_markdown(lb) + ("\n" + judges_md if judges_md else ""))
        w.write_text("leaderboard.csv", _leaderboard.to_csv(lb))
        w.write_text("provenance.json", provenance(run))
        if study is not None:
            from emobench.human import report as _human

            w.write_text("human.md", _human.to_markdown(study))
            w.write_text("human.json", study.to_json())
            files += ["human.md", "human.json"]
        if html:
            page = _html.render(run, lb, max_cells=grid_cells)
            if study is not None:
                page = _human.insert_into_page(page, _human.to_html(study))
            w.write_text("index.html", page)
            files.append("index.html")
        if figures:
            files += [f"figures/{n}.{ext}" for n in _figures.write_figures(run, w) for ext in ("png", "pdf")]
    return ReportResult(dest, files)


def build_figures(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> ReportResult:
    run = load_runs(list(run_dirs))
    dest = _out_dir(run_dirs, out)
    with AtomicOutput(dest) as w:
        names = _figures.write_figures(run, w)
    return ReportResult(dest, [f"figures/{n}.{ext}" for n in names for ext in ("png", "pdf")])
