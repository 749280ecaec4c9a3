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

from emobench.errors import EmobenchError
from emobench.report import board_csv
from emobench.report import leaderboard as _leaderboard
from emobench.report import pairs as _pairs
from emobench.report.output import AtomicOutput, check_report_dest
from emobench.rundir.identity import run_id
from emobench.rundir.results import (RunData, group_by_protocol, load_run, load_runs, merge_runs,
                                     protocol_differences)


@dataclass
class ReportResult:
    out: Path
    files: list[str]


def _out_dir(run_dirs: Sequence[str | Path], out: str | Path | None) -> Path:
    if out is None:
        return Path(run_dirs[0])
    check_report_dest(Path(out))   # --out: never into a folder of the user's own (the rule of `run --out`)
    return Path(out)


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
                 human: str | Path | None = None, latex: bool = False) -> ReportResult:
    """One report over ``run_dirs``; runs of different protocols (fingerprints) are never merged into one
    table: each protocol gets its own report in ``protocol-<fingerprint>/`` and ``leaderboard.md`` says why."""
    groups = group_by_protocol([load_run(p) for p in run_dirs])
    if len(groups) > 1:
        if out is None:   # never into the first run: its own report (and stamp) would be replaced by an index
            raise EmobenchError(f"the {len(run_dirs)} runs are of {len(groups)} different protocols, so they get one "
                                "report each plus an index, which would overwrite the first run's own report",
                                "pass --out DIR (a new or empty folder) for the per-protocol reports")
        return _build_per_protocol(groups, _out_dir(run_dirs, out), figures=figures, html=html,
                                   grid_cells=grid_cells, human=human, latex=latex)
    from emobench.report import figures as _figures   # matplotlib: imported only when a report is written
    from emobench.report import html as _html
    from emobench.report import judges_section as _judges

    run: RunData = merge_runs(groups[0])
    lb = _leaderboard.build(run)
    study = None
    if human is not None:   # a human-study vote store: its analysis becomes a section (emobench.human)
        from emobench.human.analyze import analyze
        from emobench.human.store import VoteStore

        store = VoteStore.open(human)
        ids = {i for i in (run_id(r) for r in run.roots) if i}
        store.check_run(", ".join(str(r) for r in run.roots), ids, {r.key for r in run.records})
        study = analyze(store, run_dir=run.root)
        study.display_names = {m: run.display_name(m) for m in run.method_names()}   # as the tables above
        exported = store.meta().get("protocol")
        if exported and run.fingerprint and exported != run.fingerprint:
            study.notes.append(f"the study was exported under protocol {exported}; the run is now scored under "
                               f"{run.fingerprint} (re-scored with other judges): the metric–human agreement "
                               "uses the current scores")
    dest = _out_dir(run_dirs, out)
    files = ["leaderboard.md", "leaderboard.csv", "provenance.json"]
    with AtomicOutput(dest) as w:
        judges_md = _judges.to_markdown(run, lb)   # per-judge Emo-A, agreement, audit (when the run has them)
        pairs_md = _pairs.to_markdown(run)         # image pairs a metric declared (memorisation's closest pairs)
        w.write_text("leaderboard.md", _leaderboard.to_markdown(lb) + ("\n" + judges_md if judges_md else "")
                     + ("\n" + pairs_md if pairs_md else ""))
        w.write_text("leaderboard.csv", board_csv.to_csv(lb))
        w.write_text("provenance.json", provenance(run))
        if latex:
            from emobench.report.latex import to_latex

            w.write_text("leaderboard.tex", to_latex(lb))
            files.append("leaderboard.tex")
        if study is not None:
            from emobench.human import report as _human

            w.write_text("human.md", _human.to_markdown(study))
            w.write_text("human.json", study.to_json())
            files += ["human.md", "human.json"]
        if html:
            page = _html.render(run, lb, max_cells=grid_cells)
            if study is not None:
                page = _human.insert_into_page(page, _human.to_html(study), _human.link_summary(study))
            w.write_text("index.html", page)
            files.append("index.html")
        if figures:
            files += [f"figures/{n}.{ext}" for n in _figures.write_figures(run, w) for ext in ("png", "pdf")]
    return ReportResult(dest, files)


def _build_per_protocol(groups: list[list[RunData]], dest: Path, **kw) -> ReportResult:
    """One report per protocol under ``dest/protocol-<fingerprint>/``, and an index saying why."""
    files: list[str] = []
    lines = ["# emobench report: runs of different protocols", "",
             "These runs were measured under different protocols (track, templates, contents, emotions, judges, "
             "sampler, steps, guidance, resolution, ... — see docs/protocols.md). A number is comparable only "
             "with numbers of the same protocol, so each protocol has its own leaderboard:", ""]
    first = groups[0][0]
    for group in groups:
        fp = group[0].fingerprint or "unrecorded"
        sub = f"protocol-{fp}"
        res = build_report([r.root for r in group], dest / sub, **kw)
        files += [f"{sub}/{f}" for f in res.files]
        name = group[0].protocol.get("name", "protocol not recorded")
        runs = ", ".join(f"`{r.root.name}`" for r in group)
        diff = protocol_differences(first, group[0])
        why = f" — differs from `{first.fingerprint}` in: {', '.join(diff)}" if diff else ""
        lines.append(f"- [`{fp}`]({sub}/leaderboard.md) ({name}): {runs}{why}")
    lines.append("")
    with AtomicOutput(dest) as w:
        w.write_text("leaderboard.md", "\n".join(lines))
    return ReportResult(dest, ["leaderboard.md"] + files)


def build_figures(run_dirs: Sequence[str | Path], out: str | Path | None = None) -> ReportResult:
    from emobench.report import figures as _figures

    run = load_runs(list(run_dirs))
    dest = _out_dir(run_dirs, out)
    with AtomicOutput(dest) as w:
        names = _figures.write_figures(run, w)
    return ReportResult(dest, [f"figures/{n}.{ext}" for n in names for ext in ("png", "pdf")])
