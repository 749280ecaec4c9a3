"""``emobench score RUN_DIR``: recompute every score and summary of a run from its directory (no generation)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from emobench.errors import EmobenchError


def add_parser(sub) -> None:
    p = sub.add_parser("score", help="score a finished run: per-image scores, summaries with paired 95% intervals")
    p.add_argument("run_dir", type=Path, help="run directory (holds manifest.jsonl and images/)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metric names; merged into the run's existing scores (default: the run's own "
                        "metrics from config.json, else every installed one; see `emobench list metrics`)")
    p.add_argument("--baseline", default=None,
                   help="method to compare every other method with (default: the run's own, from config.json)")
    p.add_argument("--zoo", default=None, help="zoo to score with (default: the run's zoo, from config.json)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="at most this many jackknife replicates per statistic (default 1000: delete-one-cell up to "
                        "1000 cells, else delete-a-group)")
    p.add_argument("--bootstrap-seed", dest="bootstrap_seed", type=int, default=0,
                   help="seed of the shuffled control's label deal (default 0)")
    p.add_argument("--no-controls", action="store_true", help="skip the real / shuffled control rows")
    p.set_defaults(func=main)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def run_zoo_spec(run_dir: Path) -> str:
    """The zoo a run was made with: the spec in its config.json (what `run` resolved: "mini", a folder or a
    paper TOML path), else zoo.json's name, else "mini"."""
    spec = _read_json(run_dir / "config.json").get("zoo")
    if isinstance(spec, str) and spec:
        return spec
    return str(_read_json(run_dir / "zoo.json").get("name") or "mini")


def run_metrics(run_dir: Path) -> list[str] | None:
    """The run's own metrics (config.json) plus any scored into it since (summary.json), so a plain re-score
    reproduces its tables and drops none of them."""
    value = _read_json(run_dir / "config.json").get("metrics")
    own = [str(m) for m in value] if isinstance(value, list) else []
    scored = [str(m) for m in _read_json(run_dir / "summary.json").get("metrics", {})]
    names = list(dict.fromkeys([*own, *scored]))
    return names or None


def run_baseline(run_dir: Path) -> str | None:
    """The baseline the run was made with (config.json), so a re-score keeps its paired differences."""
    value = _read_json(run_dir / "config.json").get("baseline")
    return value if isinstance(value, str) and value else None


def main(args) -> int:
    from emobench.scoring import score_run
    from emobench.scoring.stats import BootstrapConfig
    from emobench.zoo.load import load_zoo

    run_dir: Path = args.run_dir
    if not run_dir.is_dir():
        raise EmobenchError(f"run directory {run_dir} does not exist", "pass the folder `emobench run` wrote")
    if args.resamples < 1:
        raise EmobenchError(f"--resamples must be at least 1 (got {args.resamples})", "use e.g. --resamples 1000")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    if args.metrics is not None and not metrics:
        raise EmobenchError("--metrics is empty", "name metrics (`emobench list metrics`) or omit --metrics")
    full = metrics is None   # every metric of the run: replaces the tables (a subset merges into them)
    metrics = metrics or run_metrics(run_dir)
    if metrics:   # a typo fails here, before the zoo loads and before anything is written
        from emobench.scoring import load_metrics

        load_metrics(metrics, [])
    baseline = args.baseline or run_baseline(run_dir)
    zoo = load_zoo(args.zoo or run_zoo_spec(run_dir), with_pipeline=False)
    recorded = run_dir / "zoo.json"
    if recorded.is_file():
        judges = json.loads(recorded.read_text()).get("judges_hash")
        if judges and judges != zoo.judges_hash:
            print(f"emobench score: note: scoring with judges {zoo.judges_hash}, the run recorded {judges}",
                  file=sys.stderr)
    score_run(run_dir, zoo, metrics, baseline, merge=not full,
              bootstrap=BootstrapConfig(n_resamples=args.resamples, seed=args.bootstrap_seed), controls=not args.no_controls)
    print(f"wrote {run_dir / 'summary.csv'}, summary.json, scores.csv")
    return 0
