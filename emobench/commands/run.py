"""``emobench run``: generate the plan with every method, store it, score it, write the report into the run
directory and print the leaderboard (every metric with its interval) and the path of ``index.html``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from emobench.spec.config import layered
from emobench.cliargs import SEED, int_in
from emobench.errors import EmobenchError
from emobench.io.files import atomic_write_text


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="generate and score: every method on the same prompts, seeds and latents",
                       description="Generate every plan cell with every method into a run directory, then score it. "
                                   "Flags override --config FILE.toml, which overrides the defaults.")
    p.add_argument("--methods", help="comma list of method specs, e.g. 'sd,emogen:fuse=amusement+fear' "
                                     "(default: every installed method)")
    p.add_argument("--metrics", help="comma list of metrics (default: every installed metric the zoo serves)")
    p.add_argument("--emotions", help="comma list (default: all eight)")
    p.add_argument("--n-per-emotion", dest="n_per_emotion", help="images per emotion and method (default 4); on the content "
                                                                 "track per emotion, content and method")
    p.add_argument("--seed", type=SEED, help="the plan's base seed: cell i of an emotion gets seed + i (default 0)")
    p.add_argument("--prompts", dest="templates", help="comma list of templates with {emotion} "
                                                       "(and {content} on the content track; default 'an image of "
                                                       "{emotion}', or 'a {content}, evoking {emotion}')")
    p.add_argument("--track", help="emotion (default: emotion-only prompts, EmoGen's protocol) or content "
                                   "(content + emotion prompts, EmoCtrl's protocol); see docs/protocols.md")
    p.add_argument("--contents", help="content track: comma list of contents (default: the zoo's content list)")
    p.add_argument("--content-list", dest="content_list",
                   help="content track: plan a named list: emoctrl-elements, emoctrl-captions, emoctrl (both) or "
                        "dataset-objects (default: the zoo's list)")
    p.add_argument("--zoo", help="mini (default), a zoo folder, a diffusers SD folder or a paper TOML")
    p.add_argument("--baseline", help="method label the paired differences are taken against (default: sd)")
    p.add_argument("--batch-size", dest="batch_size", help="cells per generate() call (default 8)")
    p.add_argument("--out", help="run directory (default runs/<timestamp>-<confighash>)")
    p.add_argument("--image-format", dest="image_format", choices=["png", "webp", "jpeg"],
                   help="how images are stored: png (default, lossless), webp (lossless, smaller) or jpeg "
                        "(quality 95, lossy); recorded in the protocol, so formats never share a column")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run; regenerates nothing stored")
    p.add_argument("--config", type=Path, metavar="FILE.toml", help="run settings in TOML (keys as the flags)")
    p.add_argument("--refit", action="store_true", default=None, help="fit learning methods again, ignoring caches")
    p.add_argument("--fit-seeds", dest="fit_seeds", help="fit each learning method K times (fit seeds 0..K-1), "
                                                       "each generating every cell; scores report the across-fit "
                                                       "mean and a fits × cells interval (default 1)")
    p.add_argument("--no-score", dest="score", action="store_false", help="only generate; score later with `emobench score`")
    p.add_argument("--no-report", dest="report", action="store_false",
                   help="do not write the report (leaderboard, index.html, figures) into the run directory")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    p.add_argument("--rescore-with-current-judges", dest="rescore_judges", action="store_true",
                   help="a resumed run whose judges changed since it was scored is re-scored with the current "
                        "ones (old and new fingerprints are recorded in RUN/rescored.jsonl); without it, refused")
    p.add_argument("--launcher", choices=["accelerate", "torchrun"],
                   help="shard the plan's cells over several processes started by this launcher (needs --out)")
    p.add_argument("--num-processes", type=int_in(1, 1024, "--num-processes"), default=None,
                   help="processes for --launcher (default: the number of GPUs, or 2 on CPU)")
    p.add_argument("--pilot", action="store_true",
                   help="write no run: generate a few cells per method, time fits (a few steps per loop), "
                        "generation and scoring, and print the full config's projected time (per method, fit "
                        "seed and process count), device-hours, disk and peak memory")
    p.add_argument("--pilot-cells", dest="pilot_cells", type=int_in(1, 100000, "--pilot-cells"), default=None,
                   help="--pilot: cells per emotion and method (default 4; scoring is timed at half and all)")
    p.add_argument("--pilot-steps", dest="pilot_steps", type=int_in(1, 1000000, "--pilot-steps"), default=None,
                   help="--pilot: training steps per loop of a pilot fit (default 8)")
    p.add_argument("--pilot-json", dest="pilot_json", type=Path, default=None,
                   help="--pilot: also write the measurements and the projection to this JSON file")
    p.set_defaults(func=main)


FLAG_KEYS = ("methods", "metrics", "emotions", "n_per_emotion", "seed", "templates", "zoo", "baseline",
             "batch_size", "out", "refit", "fit_seeds", "track", "contents", "content_list", "image_format")


def main(args: argparse.Namespace) -> int:
    from emobench.run import runner
    from emobench.run import shard as sharding

    if args.pilot:
        return pilot_main(args)
    if args.resume is not None and args.out is not None and Path(args.out).resolve() != args.resume.resolve():
        raise EmobenchError(f"--resume {str(args.resume)!r} and --out {args.out!r} name different folders",
                            "a resume writes into the run it continues: drop --out (or start a new run with --out)")
    cfg = _config(args)
    if args.launcher and not sharding.from_env().active:  # start the shards; each runs this command again
        # the whole config is checked once here (names, options, zoo, run folder, bindings), so a mistake is
        # one line now rather than the same traceback from every process the launcher would start
        runner.check(cfg, resume=args.resume, score=args.score, rescore_judges=args.rescore_judges, sharded=True)
        return sharding.relaunch(args.launcher, args.num_processes, cli_argv())
    result = runner.execute(cfg, resume=args.resume, score=args.score, progress=args.progress,
                            rescore_judges=args.rescore_judges)
    if not sharding.from_env().is_main:
        return 0  # rank 0 merges, scores and reports
    print(f"run directory: {result.run_dir}")
    width = max((len(o.label) for o in result.outcomes), default=0)
    for o in result.outcomes:
        extra = f" ({o.reason or o.warning})" if (o.reason or o.warning) else ""
        print(f"  {o.label:<{width}}  {o.status:<6} {o.n_images} images, {o.wall_s:.1f} s{extra}")
    index = write_report(result.run_dir) if (result.scored and args.report) else None
    if result.failed:
        print(f"emobench: {len(result.failed)} method(s) failed; reasons in {result.run_dir / 'methods.json'}",
              file=sys.stderr)
    if index is not None:
        print(index)   # the last line: the page to open
    return 1 if result.failed else 0


def _config(args: argparse.Namespace):
    return layered(args.resume, args.config, {k: getattr(args, k) for k in FLAG_KEYS})


def pilot_main(args: argparse.Namespace) -> int:
    """``--pilot``: measure, project, print (emobench.run.pilot); no run folder is written."""
    from emobench.run import pilot, pilot_model

    if args.launcher or args.resume is not None:
        raise EmobenchError("--pilot measures one process and writes no run",
                            "drop --launcher / --resume (the projection lists 1, 2, 4 and 8 processes)")
    for name in ("pilot_cells", "pilot_steps"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise EmobenchError(f"--{name.replace('_', '-')} must be at least 1", "pass a positive number")
    from emobench.report import build_report

    result = pilot.measure(_config(args), per_emotion=args.pilot_cells or pilot.PER_EMOTION,
                           max_steps=args.pilot_steps or pilot.MAX_STEPS,
                           log=lambda msg: print(msg, file=sys.stderr, flush=True),
                           report=(lambda run_dir: build_report([run_dir])) if args.report else None)
    projection, cpu = pilot_model.project(result), pilot_model.project(result, clock="cpu")
    print(pilot_model.render(result, projection, cpu))
    if args.pilot_json is not None:
        pilot.write_json(result, {"wall": projection, "cpu": cpu}, args.pilot_json)
    return 0


def strip_launcher_args(argv: Sequence[str]) -> list[str]:
    """``argv`` without ``--launcher X`` / ``--num-processes N`` (the children must not launch again)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--launcher", "--num-processes"):
            skip = True
            continue
        if a.startswith(("--launcher=", "--num-processes=")):
            continue
        out.append(a)
    return out


def cli_argv() -> list[str]:
    """This process's ``emobench`` arguments (from ``run`` on) without the launcher flags, for the children."""
    argv = sys.argv[1:]
    if "run" not in argv or not any(a.startswith("--launcher") for a in argv):
        raise EmobenchError("--launcher works from the command line only",
                            "type `emobench run ... --launcher accelerate`, or call accelerate launch yourself")
    return strip_launcher_args(argv[argv.index("run"):])


def write_report(run_dir: Path) -> Path:
    """Report into the run directory; print the leaderboard (every metric, pooled, with its 95% interval)."""
    from emobench.report.console import to_text
    from emobench.report.leaderboard import build
    from emobench.rundir.results import load_runs

    text = to_text(build(load_runs([run_dir])))
    if text:
        print("\nLeaderboard (pooled over emotions; brackets: 95% intervals, docs/metrics.md):")
        print(text)
    digest, index = _report_inputs_digest(run_dir), run_dir / "index.html"
    stamp = run_dir / REPORT_STAMP
    # a resume that changed no stored result (nothing generated, nothing re-scored) keeps the report it has:
    # re-rendering every figure cost a finished run's resume twice the time of `emobench list methods`
    if index.is_file() and stamp.is_file() and stamp.read_text().strip() == digest:
        print(f"\nreport: unchanged in {run_dir}")
        return index.resolve()
    from emobench.report import build_report   # figures and matplotlib only when the report is written

    result = build_report([run_dir])
    atomic_write_text(stamp, digest + "\n")
    print(f"\nreport: {len(result.files)} files in {result.out}")
    return (result.out / "index.html").resolve()


REPORT_STAMP = ".report-inputs.sha256"
# what the report writes into the run directory (never an input), and per-resume records it does not show
_NOT_REPORT_INPUTS = {"index.html", "leaderboard.md", "leaderboard.csv", "leaderboard.tex", "provenance.json",
                      "env.resumes.jsonl", "rescored.jsonl"}
# per-invocation facts of methods.json (this process's wall time, what it generated, whether the artifact was
# fitted now or found in the cache, a warning only a generating call can raise): no report shows them, and a
# resume that finds everything done changes them all
_PER_INVOCATION = ("wall_s", "n_generated", "artifact_source", "warning")


def _methods_view(path: Path) -> bytes:
    """``methods.json`` as the report reads it: without the per-invocation facts."""
    import json

    try:
        methods = json.loads(path.read_text())
    except (OSError, ValueError):
        return b""

    def strip(entry):
        if not isinstance(entry, dict):
            return entry
        out = {k: v for k, v in entry.items() if k not in _PER_INVOCATION}
        if isinstance(out.get("fits"), list):
            out["fits"] = [strip(f) for f in out["fits"]]
        return out

    view = {m: strip(e) for m, e in methods.items()} if isinstance(methods, dict) else methods
    return json.dumps(view, sort_keys=True).encode()


def _report_inputs_digest(run_dir: Path) -> str:
    """sha256 over the run's stored results (every top-level .json/.jsonl/.csv but the report's own files, and
    methods.json without its per-invocation facts): a resume that changed no stored result keeps its report."""
    import hashlib

    from emobench.zoo.hashing import files_hash

    inputs = [p for p in sorted(run_dir.iterdir())
              if p.is_file() and p.suffix in (".json", ".jsonl", ".csv") and p.name not in _NOT_REPORT_INPUTS]
    others = files_hash([p for p in inputs if p.name != "methods.json"], run_dir)
    methods = hashlib.sha256(_methods_view(run_dir / "methods.json")).hexdigest()
    return hashlib.sha256(f"{others}\n{methods}\n".encode()).hexdigest()
