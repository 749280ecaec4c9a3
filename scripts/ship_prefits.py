"""Copy the fitted artifacts that committed leaderboards use into the shipped mini zoo's ``prefit/``.

After a zoo rebuild, run the leaderboards with one cache (``EMOBENCH_CACHE=DIR emobench run --config
leaderboards/<board>/config.toml ...``); every fit lands in ``DIR/artifacts/<method>/<key>/``. This script
resolves each board's learning methods as the runner does (zoo scale defaults, fit seeds 0..K-1), checks every
artifact against its ``fit.json`` and copies it to ``emobench/zoo_weights/mini/prefit/<method>/<key>/``, so a
fresh clone runs the boards (and ``bash scripts/run.sh``) without refitting. It never deletes anything.

    python scripts/ship_prefits.py --cache DIR leaderboards/mini/config.toml leaderboards/mini-ablations/config.toml
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.registry import methods
from emobench.run.artifacts import artifact_key, verify
from emobench.zoo.load import SHIPPED_MINI, load_zoo

DEFAULT_LEARNERS = ("textual-inversion", "dreambooth", "emogen")   # what `emobench run` without --methods fits


def wanted(configs: list[Path], zoo) -> list[tuple[str, str]]:
    """(method name, artifact key) of every fit the boards use, and of each default learner's fit seed 0."""
    out: set[tuple[str, str]] = set()
    for cfg_path in configs:
        run = tomllib.loads(cfg_path.read_text())["run"]
        emotions = run.get("emotions", list(EMOTIONS))
        for spec in [*run.get("methods", []), *DEFAULT_LEARNERS]:
            _, method = methods().create(spec, zoo.scale)
            if not method.learns:
                continue
            name = spec.split(":")[0]
            seeds = range(int(run.get("fit_seeds", 1))) if spec in run.get("methods", []) else range(1)
            out |= {(name, artifact_key(name, method, zoo, emotions, seed)) for seed in seeds}
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="+", type=Path, help="leaderboard config.toml files")
    ap.add_argument("--cache", required=True, type=Path, help="the EMOBENCH_CACHE the boards were run with")
    args = ap.parse_args(argv)
    zoo = load_zoo("mini")
    missing = 0
    for name, key in wanted(args.configs, zoo):
        src, dst = args.cache / "artifacts" / name / key, SHIPPED_MINI / "prefit" / name / key
        if dst.is_dir():
            verify(dst)
            print(f"shipped already  {name}/{key}")
            continue
        if not src.is_dir():
            print(f"MISSING          {name}/{key} (not in {args.cache}: run the board with this cache)")
            missing += 1
            continue
        verify(src)
        shutil.copytree(src, dst)
        verify(dst)
        print(f"copied           {name}/{key}")
    return 1 if missing else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except EmobenchError as err:
        print(f"ship_prefits: {err}", file=sys.stderr)
        sys.exit(2)
