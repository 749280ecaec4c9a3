"""``emobench score RUN_DIR``: recompute every score and summary of a run from its directory (no generation)."""
from __future__ import annotations

import sys
from pathlib import Path

from emobench.errors import EmobenchError
from emobench.rundir.layout import run_baseline, run_metrics, run_zoo_spec


def add_parser(sub) -> None:
    from emobench.cliargs import POSITIVE, SEED   # range-checked while parsing

    p = sub.add_parser("score", help="score a finished run: per-image scores, summaries with paired 95% intervals")
    p.add_argument("run_dir", type=Path, help="run directory (holds manifest.jsonl and images/)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metric names; merged into the run's existing scores (default: the run's own "
                        "metrics from config.json, else every installed one; see `emobench list metrics`)")
    p.add_argument("--baseline", default=None,
                   help="method to compare every other method with (default: the run's own, from config.json)")
    p.add_argument("--zoo", default=None, help="zoo to score with (default: the run's zoo, from config.json)")
    p.add_argument("--resamples", type=POSITIVE, default=1000,
                   help="at most this many jackknife replicates per statistic (default 1000: delete-one-cell up to "
                        "1000 cells, else delete-a-group)")
    p.add_argument("--bootstrap-seed", dest="bootstrap_seed", type=SEED, default=0,
                   help="seed of the shuffled control's label deal (default 0)")
    p.add_argument("--no-controls", action="store_true", help="skip the real / shuffled control rows")
    p.add_argument("--rescore-with-current-judges", dest="rescore_judges", action="store_true",
                   help="score with judges other than those that scored the run (old and new fingerprints are "
                        "recorded in RUN/rescored.jsonl); without it, a judge change is refused")
    p.set_defaults(func=main)


def main(args) -> int:
    from emobench.run import binding
    from emobench.scoring import score_run
    from emobench.scoring.stats import BootstrapConfig
    from emobench.zoo.load import load_zoo

    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise EmobenchError(f"run directory {run_dir} does not exist", "pass the folder `emobench run` wrote")
    if args.resamples < 1:
        raise EmobenchError(f"--resamples must be at least 1 (got {args.resamples})", "use e.g. --resamples 1000")
    from emobench.cliargs import names_list

    metrics = names_list(args.metrics, "--metrics")
    full = metrics is None   # every metric of the run: replaces the tables (a subset merges into them)
    metrics = metrics or run_metrics(run_dir)
    if metrics:   # a typo fails here, before the zoo loads and before anything is written
        from emobench.scoring import load_metrics

        load_metrics(metrics, [])
    baseline = args.baseline or run_baseline(run_dir)
    zoo = load_zoo(args.zoo or run_zoo_spec(run_dir), with_pipeline=False)
    rebound = binding.for_scoring(run_dir, zoo, args.rescore_judges)   # other judges: only when asked
    moved = binding.generation_changes(run_dir, dict(zoo.hashes))
    if moved:   # scoring reads stored images only: other generation weights change no score, but say so
        print(f"emobench score: note: the zoo's generation weights differ from the run's ({moved[0]}); the "
              "stored images are scored as they are", file=sys.stderr)
    try:
        score_run(run_dir, zoo, metrics, baseline, merge=not full,
                  bootstrap=BootstrapConfig(n_resamples=args.resamples, seed=args.bootstrap_seed),
                  controls=not args.no_controls)
    except KeyboardInterrupt:
        from emobench.errors import Interrupted

        raise Interrupted(f"the scores in {run_dir} are as they were (tables are written at the end) and the "
                          f"features computed so far are cached; `emobench score {run_dir}` starts again") from None
    rebound.record()
    print(f"wrote {run_dir / 'summary.csv'}, summary.json, scores.csv")
    return 0
