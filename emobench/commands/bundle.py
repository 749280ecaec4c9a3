"""``emobench bundle RUN --method NAME --out FILE.zip``: pack one method's images of a run with its plan, protocol
and provenance; ``emobench run --methods bundle:FILE.zip`` re-scores it anywhere (docs/submit-images.md)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("bundle", help="pack a method's images of a run, with its plan, protocol and provenance, "
                                      "into a zip that `run --methods bundle:FILE.zip` re-scores anywhere",
                       description="Write one method's stored images of RUN (one per plan cell), the run's plan.json "
                                   "and protocol.json and the method's provenance into FILE.zip (deterministic "
                                   "bytes). Re-score it with `emobench run --methods bundle:FILE.zip` and the "
                                   "run's flags; a run of another protocol refuses it.")
    p.add_argument("run", type=Path, metavar="RUN", help="a run directory written by `emobench run`")
    p.add_argument("--method", required=True, help="the method's label in the run (as in summary.csv)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.zip", help="the bundle to write (must not exist)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from emobench.rundir.bundle import write_bundle

    meta = write_bundle(args.run, args.method, args.out)
    print(f"bundle: {meta['n_images']} images of {meta['method']!r}, protocol {meta['protocol']} "
          f"{meta['fingerprint']} -> {args.out}")
    print(f"re-score: emobench run --methods bundle:{args.out} (with the run's zoo and plan flags)")
    return 0
