"""``emobench figures RUN_DIR --paper``: regenerate only figures/ (PNG + PDF, deterministic bytes)."""
from __future__ import annotations

import argparse


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "figures", help="paper figures (PNG + PDF) from a scored run",
        description="Regenerate figures/ at text width (6.875 in) and figures/column/ at column width "
                    "(3.25 in), PDF and PNG, no text under 7 pt: comparison grid, per-emotion bars with CIs "
                    "and significance marks, Emo-A confusion matrices, Emo-A vs Sem-D and Emo-A vs recall scatters, "
                    "memorisation's closest pairs, and emotion transfer/fusion grids when present.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--paper", action="store_true",
                   help="paper-ready output (the only style there is; accepted for the documented command)")
    p.add_argument("--out", metavar="DIR", help="write figures/ here instead of into the first RUN_DIR")
    p.set_defaults(func=main)
    return p


def main(args) -> int:
    from emobench.report import build_figures

    res = build_figures(args.run_dirs, args.out)
    print(f"wrote {len(res.files)} figure files into {res.out / 'figures'}")
    return 0
