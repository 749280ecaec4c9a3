"""Empirical coverage of 95 % interval procedures for FID and KID on real-vs-real splits of EmoSet-mini.

The set statistics are scored like the real control of a run: ``k`` real images per emotion (here drawn at
random from the **val** split, so every replication is a fresh real set) against the whole held-out **test**
split, pooled over the eight emotions (the leaderboard's "all" value, n = 8·k). The target of an interval is
what a leaderboard compares: the expected value of the statistic at this n, estimated as the mean over
``--target-draws`` independent draws. For each of ``--reps`` replications the script computes, from the same
cell-level resamples the scorer uses (multinomial counts stratified by emotion), the intervals of:

* ``percentile``: the bootstrap's 2.5 / 97.5 % quantiles (emobench before issue #15);
* ``basic``: 2·θ̂ − those quantiles;
* ``shifted``: the percentile interval moved by the bootstrap's bias estimate (θ̂ − mean θ*), i.e. centred
  on θ̂: resampling repeats images, which lowers their diversity and inflates FID/KID, and this removes that
  shift while keeping the bootstrap's spread and skew;
* ``half-sampling``: subsampling without replacement, m = k/2 per emotion (no repeated images; at m = n/2
  a linear statistic's spread equals its full-sample spread, so no rescaling), centred the same way.

It prints, per statistic, n and procedure: the coverage of the target, the share of intervals that contain
their own estimate, and the mean width. Features are computed once (mini zoo's FID network) and resampled.

    HF_HUB_OFFLINE=1 .venv/bin/python scripts/fid_interval_coverage.py --reps 200
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from emobench.emotions import EMOTIONS
from emobench.metrics.fid import FidStat, KidStat
from emobench.zoo.load import load_zoo

PROCEDURES = ("percentile", "basic", "shifted", "half-sampling")


def features(zoo, split: str, emotion: str) -> torch.Tensor:
    from emobench.api import batched

    samples = zoo.dataset.by_emotion(split, emotion)
    size = int(zoo.sampling.height)
    with torch.no_grad():
        return batched(zoo.judges.fid_features, zoo.dataset.load_images(samples, size=size), 64).double()


_KID_REF: dict[int, KidStat] = {}


def stat_of(kind: str, fake: torch.Tensor, real: torch.Tensor):
    if kind == "fid":
        return FidStat(fake, real, None)
    # KID's reference-only term costs an m×m kernel: computed once, the fake side per draw (same formulas).
    base = _KID_REF.setdefault(id(real), KidStat(real[:2], real, 3, None, 1.0))
    s = KidStat.__new__(KidStat)
    f, r = fake.double(), real.double()
    g = 1.0 / f.shape[1]
    s.n, s.m, s.rr_term, s.extra = f.shape[0], base.m, base.rr_term, {}
    s.k_ff = (f @ f.T * g + 1.0) ** 3
    s.k_ff_diag = torch.diagonal(s.k_ff).clone()
    s.k_fr_rows = ((f @ r.T * g + 1.0) ** 3).sum(1)
    return s


def cached_features(zoo) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """val features per emotion and all test features, cached under $EMOBENCH_CACHE/coverage/."""
    from safetensors.torch import load_file, save_file

    from emobench.api import stable_hash
    from emobench.io.files import cache_root

    path = cache_root() / "coverage" / f"{stable_hash([zoo.judges_hash, zoo.dataset.content_hash])}.safetensors"
    if path.is_file():
        t = load_file(path)
        return {e: t[f"val/{e}"] for e in EMOTIONS}, t["test"]
    pool = {e: features(zoo, "val", e) for e in EMOTIONS}
    ref = torch.cat([features(zoo, "test", e) for e in EMOTIONS])
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({**{f"val/{e}": v.contiguous() for e, v in pool.items()}, "test": ref.contiguous()}, str(path))
    return pool, ref


def intervals(point: float, boot: np.ndarray, half: np.ndarray, alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    bias = boot.mean() - point
    hlo, hhi = np.quantile(half - half.mean(), [alpha / 2, 1 - alpha / 2])
    return {"percentile": (lo, hi), "basic": (2 * point - hi, 2 * point - lo),
            "shifted": (lo - bias, hi - bias), "half-sampling": (point + hlo, point + hhi)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--per-emotion", type=int, nargs="+", default=[4, 16, 50])
    ap.add_argument("--resamples", type=int, default=400)
    ap.add_argument("--target-draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    zoo = load_zoo("mini")
    pool, ref = cached_features(zoo)
    print(f"features: val {sum(len(v) for v in pool.values())}, test {len(ref)}, dim {ref.shape[1]} "
          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    rng = np.random.default_rng(args.seed)
    results = []
    for k in args.per_emotion:
        def draw(m: int) -> torch.Tensor:
            return torch.cat([pool[e][torch.from_numpy(rng.choice(len(pool[e]), m, replace=False))] for e in EMOTIONS])

        ones = lambda n: torch.ones(1, n, dtype=torch.float64)  # noqa: E731
        for kind in ("fid", "kid"):
            target = float(np.mean([float(stat_of(kind, draw(k), ref).evaluate(ones(8 * k))[0])
                                    for _ in range(args.target_draws)]))
            hits = {p: 0 for p in PROCEDURES}
            own = {p: 0 for p in PROCEDURES}
            width = {p: 0.0 for p in PROCEDURES}
            for _ in range(args.reps):
                stat = stat_of(kind, draw(k), ref)
                point = float(stat.evaluate(ones(8 * k))[0])
                w = torch.cat([torch.from_numpy(rng.multinomial(k, np.full(k, 1 / k), size=args.resamples))
                               for _ in EMOTIONS], 1).double()
                boot = stat.evaluate(w).numpy()
                h = torch.zeros(args.resamples, 8 * k, dtype=torch.float64)
                for i in range(args.resamples):
                    for j in range(8):
                        h[i, j * k + rng.choice(k, max(2, k // 2), replace=False)] = 1.0
                half = stat.evaluate(h).numpy()
                for p, (lo, hi) in intervals(point, boot[np.isfinite(boot)], half[np.isfinite(half)]).items():
                    hits[p] += lo <= target <= hi
                    own[p] += lo <= point <= hi
                    width[p] += (hi - lo) / args.reps
            for p in PROCEDURES:
                row = {"stat": kind, "per_emotion": k, "n": 8 * k, "procedure": p, "target": target,
                       "coverage": hits[p] / args.reps, "contains_estimate": own[p] / args.reps,
                       "mean_width": width[p], "reps": args.reps, "resamples": args.resamples}
                results.append(row)
                print(f"{kind} n={8 * k:4d} {p:14s} coverage {row['coverage']:.3f}  contains θ̂ "
                      f"{row['contains_estimate']:.3f}  width {row['mean_width']:.4g}  (target {target:.4g})")
            sys.stdout.flush()
    print(f"total {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
