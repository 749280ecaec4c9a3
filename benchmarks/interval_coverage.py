"""Coverage benchmark of the scorer's 95 % intervals on the shipped zoo (issue 32's simulation, rerun with the
real code): ``python benchmarks/interval_coverage.py [--grid full|quick] [--out results.json] [--markdown]``.

The pool is ``benchmarks/coverage_pool.py``'s (held-out draws of the zoo's world, every statistic built by its
metric plugin); the simulated methods are ``coverage_pool.leaderboard_world`` (a baseline like ``sd`` and a
learner with a stated between-fit SD of Emo-A, in points) and, for the real-image control,
the untilted pool. Each setting prints one line per statistic: coverage (%) of the learner's value, the
baseline's value and their paired difference, pooled over the 8 emotions and per emotion (two emotions'
rows, summed), with its binomial standard error; a learner with one fit prints no interval (the table shows
``caveat`` and what a cells-only interval would have covered).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coverage_pool import leaderboard_world, load  # noqa: E402

from emobench.testing.coverage import Setting, calibrate, simulate  # noqa: E402

BAND = (0.93, 0.97)


def grid(name: str) -> list[tuple[str, Setting, tuple[str, ...]]]:
    """(world, setting, statistics) triples. ``full``: the operating range of issue 32; ``quick``: its corners."""
    cheap = ("Emo-A", "LPIPS", "Sem-D")
    every = cheap + ("FID",)
    r, rf = (500, 200) if name == "full" else (150, 60)
    out: list[tuple[str, Setting, tuple[str, ...]]] = []
    for n in (4, 8, 16, 50, 400):                                   # cells per emotion, 3 fits, SD 4 points
        out.append(("leaderboard", Setting(n, 3, 4.0, 0.25, r if n < 400 else rf), cheap))
        out.append(("leaderboard", Setting(n, 3, 4.0, 0.25, rf if n < 400 else rf // 2), ("FID",)))
    for k in (1, 2, 5, 10):                                         # fits at the leaderboard's 50 cells
        for sd in (0.0, 2.0, 4.0, 6.0):
            out.append(("leaderboard", Setting(50, k, sd, 0.25, r), cheap))
    for sd in (0.0, 2.0, 6.0):
        out.append(("leaderboard", Setting(50, 3, sd, 0.25, r), cheap))
    for k, sd in ((1, 6.0), (2, 6.0), (10, 0.0), (10, 6.0)):
        out.append(("leaderboard", Setting(50, k, sd, 0.25, rf), ("FID",)))
    for n, k, sd in ((4, 10, 6.0), (4, 2, 0.0), (400, 10, 6.0), (400, 2, 0.0)):   # corners
        out.append(("leaderboard", Setting(n, k, sd, 0.25, r if n < 400 else rf), cheap))
    for rho in (0.0, 0.6):                                          # cells shared less / more across methods
        out.append(("leaderboard", Setting(16, 3, 4.0, rho, r), every))
    for n in (8, 50):                                               # real images (the real control's regime)
        out.append(("real", Setting(n, 3, 0.0, 0.25, rf), every))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--zoo", default="mini")
    ap.add_argument("--grid", default="full", choices=["full", "quick"])
    ap.add_argument("--per-emotion", type=int, default=3000, help="pool images per emotion")
    ap.add_argument("--only", help="run the settings whose index (in the grid) is listed, e.g. 0,3,7")
    ap.add_argument("--out", help="append results as JSON lines here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-reps", type=int, help="at most this many repetitions per setting (the slow FID rows)")
    ap.add_argument("--statistics", help="only these of a setting's statistics, e.g. Emo-A (the draws stay the same "
                    "where the others' targets are exact, as every one but FID's is)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    src = load(args.zoo, args.per_emotion)
    sources = src.sources()
    worlds = {"leaderboard": leaderboard_world(src), "real": leaderboard_world(src, 0.0, 0.0, 0.0)}
    emo_a = sources["Emo-A"]
    print(f"# pool: {args.per_emotion} images per emotion, world seed {int(src.pool['world_seed'][0])}; "
          f"baseline Emo-A {emo_a.truth(worlds['leaderboard'].base):.3f}, learner {emo_a.truth(worlds['leaderboard'].learner):.3f} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    lams: dict[tuple[str, float], float] = {}
    todo = grid(args.grid)
    order = [int(i) for i in args.only.split(",")] if args.only else list(range(len(todo)))
    wanted = set(args.statistics.split(",")) if args.statistics else None
    for i in order:
        wname, s, names = todo[i]
        if wanted is not None:
            names = tuple(n for n in names if n in wanted)
            if not names:
                continue
        if args.max_reps:
            s = dataclasses.replace(s, reps=min(s.reps, args.max_reps))
        world = worlds[wname]
        key = (wname, s.sd)
        if key not in lams:
            lams[key] = calibrate(world, emo_a, s.sd / 100)
        res = simulate(world, [sources[n] for n in names], s, lams[key], seed=args.seed + i, strata=(0, 4),
                       log=lambda m: print("#", m, flush=True), progress=True)
        for r in res:
            d = {"index": i, "world": wname, **r.as_dict()}
            print(json.dumps(d), flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(d) + "\n")
    print(f"# total {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


def markdown(rows: list[dict]) -> str:
    """The RESULTS.md table: one line per setting and statistic."""
    def cell(r):
        if r is None:
            return "–"
        if not r["intervals"]:
            return f"caveat (cells-only {100 * r['naive_coverage']:.0f})" if r["notes"] else "–"
        c, se = r["coverage"], r["se"]
        # a flag says the coverage is outside the band beyond the simulation's own noise (2 binomial SE, at
        # least those of a 95 % procedure: an observed 100 % has SE 0), so a reader can tell a procedure that
        # misses from a row with too few repetitions to tell
        noise = max(se, (0.95 * 0.05 / r["intervals"]) ** 0.5)
        flag = " ↓" if c + 2 * noise < BAND[0] else " ↑" if c - 2 * noise > BAND[1] else ""
        return f"{100 * c:.1f} ±{100 * se:.1f}{flag}"
    key = lambda r: (r["world"], r["cells"], r["fits"], r["between_fit_sd"], r["rho"], r["statistic"])  # noqa: E731
    groups: dict[tuple, dict] = {}
    for r in rows:
        groups.setdefault(key(r), {})[(r["level"], r["row"])] = r
    lines = ["| world | cells/emotion | fits | fit SD (Emo-A pts) | ρ | statistic | reps | learner | baseline | Δ | "
             "learner (per emotion) | baseline (per emotion) | Δ (per emotion) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(groups):
        g = groups[k]
        reps = next(iter(g.values()))["reps"]
        cells = [cell(g.get((lvl, row))) for lvl in ("pooled", "per stratum") for row in ("learner", "baseline", "difference")]
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]:g} | {k[4]:g} | {k[5]} | {reps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "table":
        rows = [json.loads(line) for f in sys.argv[2:] for line in open(f) if line.strip()]
        print(markdown(rows))
        raise SystemExit(0)
    raise SystemExit(main())
