"""``emobench agree RUN_DIR...``: Kendall τ-b of a leaderboard against every reference table of its track, with a
bootstrap interval over cells and fits; ``emobench agree --reported``: the reference tables' percentages with
their count check and Wilson interval (``leaderboards/paper/reported_intervals.*``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from emobench.cliargs import POSITIVE, SEED

from emobench.errors import EmobenchError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "agree", help="rank agreement with the papers' reported tables (τ-b with intervals); reported intervals",
        description="Kendall's τ-b between a scored run's pooled values and every paper-reported table of the "
                    "same track (methods matched by display name), per shared column, with a 95% bootstrap "
                    "interval that resamples the run's cells (per emotion) and fits. --reported instead prints "
                    "each reported percentage's whole-count check and 95% Wilson interval where n is stated.")
    p.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="scored run folder(s) (merged as `report` does)")
    p.add_argument("--resamples", type=POSITIVE, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--seed", type=SEED, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--reported", action="store_true", help="the reported tables' count checks and Wilson intervals")
    p.add_argument("--out", type=Path, default=None,
                   help="with --reported: write reported_intervals.csv and .md into this folder")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    if args.reported:
        from emobench.report.reported import all_reported, to_csv, to_markdown
        from emobench.io.files import atomic_write_text

        cells = all_reported()
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(args.out / "reported_intervals.csv", to_csv(cells))
            atomic_write_text(args.out / "reported_intervals.md", to_markdown(cells))
            print(f"wrote reported_intervals.csv and reported_intervals.md into {args.out}")
        else:
            print(json.dumps([c.__dict__ for c in cells], indent=1) if args.json else to_markdown(cells))
        return 0
    if not args.run_dirs:
        raise EmobenchError("no run directory given", "pass a scored RUN_DIR, or --reported")
    if args.resamples < 1:
        raise EmobenchError(f"--resamples must be positive, got {args.resamples}", "pass --resamples 1000")
    from emobench.report.rank_agreement import agreements, to_markdown
    from emobench.rundir.results import load_runs

    items = agreements(load_runs(args.run_dirs), resamples=args.resamples, seed=args.seed)
    if not items:
        print("no reference table shares this run's track")
        return 0
    print(json.dumps([a.to_json() for a in items], indent=1) if args.json else to_markdown(items), end="")
    return 0
