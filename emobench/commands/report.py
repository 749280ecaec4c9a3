"""``emobench report RUN_DIR [RUN_DIR ...]``: leaderboard.md/csv, index.html and figures/ from stored scores."""
from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    from emobench.cliargs import COUNT   # range-checked while parsing

    p = sub.add_parser(
        "report", help="leaderboard (md, csv), one-file HTML page and figures from scored runs",
        description="Write leaderboard.md, leaderboard.csv, index.html and figures/ for one run, or for "
                    "several runs of the same plan and judges merged into one report.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="scored run directories (`emobench score`)")
    p.add_argument("--out", metavar="DIR", help="write here instead of into the first RUN_DIR")
    p.add_argument("--no-figures", action="store_true", help="skip figures/ (faster)")
    p.add_argument("--latex", action="store_true",
                   help="also write leaderboard.tex: the main table for a paper (booktabs + amssymb)")
    p.add_argument("--no-html", action="store_true", help="skip index.html")
    p.add_argument("--grid-cells", type=COUNT, default=24, metavar="N",
                   help="cells per emotion in the HTML image grid (default 24; 0 = all)")
    p.add_argument("--human", metavar="STORE", help="add the human-study section from this vote store "
                                                    "(`emobench human`: votes.sqlite)")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    import sys
    from pathlib import Path

    from emobench.report import build_report
    from emobench.run.binding import zoo_drift

    for run_dir in args.run_dirs:   # a report shows the run as stored; say when its zoo has moved on since
        drift = zoo_drift(Path(run_dir))
        if drift:
            print(f"emobench report: note: the zoo of {run_dir} changed since it was made or scored ("
                  + "; ".join(map(str, drift[:2])) + (" ..." if len(drift) > 2 else "")
                  + "); the report shows the run as it was made and scored", file=sys.stderr)

    res = build_report(args.run_dirs, args.out, figures=not args.no_figures, html=not args.no_html,
                       grid_cells=args.grid_cells or None, human=args.human,
                       latex=args.latex)
    print(f"wrote {len(res.files)} files into {res.out}: " + ", ".join(
        f for f in res.files if not f.startswith("figures/")) + (
        f", figures/ ({sum(f.startswith('figures/') for f in res.files)} files)" if any(
            f.startswith("figures/") for f in res.files) else ""))
    return 0
