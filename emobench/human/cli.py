"""``emobench human export|serve|import|analyze``: a pairwise human preference study of one run (the parser
and the subcommands; ``emobench.commands.human`` hands it to the main CLI)."""
from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from emobench.cliargs import COUNT, PORT, POSITIVE, SEED, float_in, int_in, names_list
from emobench.errors import EmobenchError


def add_parser(sub) -> None:
    p = sub.add_parser("human", help="human preference study of a run: export tasks, rate, import, analyze",
                       description="EmoGen Table 2 style A/B study: export tasks from a run, rate them in a "
                                   "local web app or on a crowdsourcing platform, and analyze the votes.")
    hs = p.add_subparsers(dest="human_command", metavar="HUMAN_COMMAND")
    hs.required = True

    e = hs.add_parser("export", help="A/B tasks (tasks.csv + images + empty vote store) from a finished run")
    e.add_argument("run_dir", type=Path, metavar="RUN")
    e.add_argument("--out", type=Path, help="study folder (default RUN/human)")
    _export_options(e)
    e.set_defaults(func=main_export)

    s = hs.add_parser("serve", help="local rating web app (votes go to the study's votes.sqlite)")
    s.add_argument("run_dir", type=Path, metavar="RUN")
    s.add_argument("--study", type=Path, help="study folder (default RUN/human; exported first if missing)")
    s.add_argument("--store", type=Path, help="vote store (default STUDY/votes.sqlite)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=PORT, default=8765, help="port (default 8765)")
    _export_options(s)
    s.set_defaults(func=main_serve)

    i = hs.add_parser("import", help="merge votes from a platform CSV (see docs/human-study.md for columns)")
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--store", type=Path, required=True, help="the study's votes.sqlite")
    i.add_argument("--strict", action="store_true", help="write nothing when any row is refused")
    i.set_defaults(func=main_import)

    a = hs.add_parser("analyze", help="preference %%, Bradley–Terry, Krippendorff's α, rater quality, "
                                      "metric–human agreement")
    a.add_argument("store", type=Path, metavar="STORE")
    a.add_argument("--json", action="store_true", help="print the analysis as JSON (default: Markdown)")
    a.add_argument("--run", type=Path, help="scored run for metric agreement (default: the run of the study)")
    a.add_argument("--min-pass", type=float_in(0, 1, "--min-pass"), default=None,
                   help="attention-check pass rate below which a rater is excluded (default 0.8)")
    a.add_argument("--resamples", type=POSITIVE, default=1000, help="rater-bootstrap resamples (default 1000)")
    a.add_argument("--seed", type=SEED, default=0, help="bootstrap seed (default 0)")
    a.set_defaults(func=main_analyze)


def _export_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("export options")
    g.add_argument("--seed", type=SEED, default=0, help="study seed: cell sample, side order (default 0)")
    g.add_argument("--methods", help="comma list of methods to compare (default: all of the run)")
    g.add_argument("--cells-per-emotion", type=COUNT, default=None, help="cells per emotion (default: all)")
    g.add_argument("--set-size", type=int_in(2, 64, "--set-size"), default=4, help="images per side of a diversity task (default 4)")
    g.add_argument("--repeats", type=COUNT, default=None,
                   help="repeated-pair checks (default: 10%% of the pair tasks, at least 2)")
    g.add_argument("--controls-per-emotion", type=int_in(0, 10_000, "--controls-per-emotion"), default=0,
                   help="real-vs-label-shuffled checks per emotion (default 0: the default checks are repeats of "
                        "generated pairs, since real images stand out among generated ones at mini scale)")
    g.add_argument("--zoo", default=None, help="zoo whose dataset gives the control images (default: the run's)")
    g.add_argument("--base-url", default="", help="URL prefix of the images in tasks.csv (where you host them)")


def _options(args):
    from emobench.human.export import ExportOptions

    for name in ("cells_per_emotion", "repeats", "controls_per_emotion"):
        v = getattr(args, name)
        if v is not None and v < 0:
            raise EmobenchError(f"--{name.replace('_', '-')} must be 0 or more (got {v})", "pass e.g. 2")
    if args.set_size < 2:
        raise EmobenchError(f"--set-size must be at least 2 (got {args.set_size})", "pass e.g. 4")
    methods = names_list(args.methods, "--methods")
    return ExportOptions(seed=args.seed, cells_per_emotion=args.cells_per_emotion, set_size=args.set_size,
                         repeats=args.repeats, controls_per_emotion=args.controls_per_emotion, methods=methods,
                         base_url=args.base_url)


def _export(args, out: Path):
    from emobench.rundir.layout import run_zoo_spec
    from emobench.human.export import check_study_dest, export_run

    if not (args.run_dir / "manifest.jsonl").is_file():
        raise EmobenchError(f"{args.run_dir} is not a finished run (no manifest.jsonl)",
                            "pass the folder `emobench run` wrote, once the run is done")
    opts = _options(args)
    check_study_dest(out)   # before the zoo loads: a folder of the user's own is refused at once
    dataset, size = None, None
    if opts.controls_per_emotion > 0:
        from emobench.zoo.load import load_zoo

        zoo = load_zoo(args.zoo or run_zoo_spec(args.run_dir), with_pipeline=False)
        dataset, size = getattr(zoo, "dataset", None), int(zoo.sampling.height)
        if dataset is None:
            print("emobench human: note: the zoo has no dataset; no real-vs-shuffled checks", file=sys.stderr)
    return export_run(args.run_dir, out, opts, dataset=dataset, size=size)


def main_export(args) -> int:
    out = args.out or args.run_dir / "human"
    study = _export(args, out)
    kinds = {k: sum(t.kind == k for t in study.tasks) for k in ("pair", "set", "repeat", "control")}
    print(f"wrote {out}: tasks.csv ({len(study.tasks)} tasks: " + ", ".join(f"{n} {k}" for k, n in kinds.items())
          + f"), images/ ({len(study.images)}), study.json (private key), votes.sqlite")
    return 0


def main_serve(args) -> int:
    from emobench.human.server import serve
    from emobench.human.store import VoteStore
    from emobench.human.tasks import load_study

    if not args.run_dir.is_dir():
        raise EmobenchError(f"run directory {args.run_dir} does not exist", "pass the folder `emobench run` wrote")
    check_port(args.host, args.port)   # before the study is exported: a busy port is one line, nothing written
    study_dir = args.study or args.run_dir / "human"
    if not (study_dir / "study.json").is_file():
        main_export(argparse.Namespace(**{**vars(args), "out": study_dir}))
    study = load_study(study_dir)
    store_path = args.store or study_dir / "votes.sqlite"
    # A new --store path starts an empty store for this study (e.g. one store per session or site).
    store = VoteStore.open(store_path) if store_path.exists() else VoteStore.create(store_path, study)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"emobench human: note: serving on {args.host}, reachable from other machines; the page has no "
              "login, so use it on a trusted network only", file=sys.stderr)
    print(f"serving {len(study.tasks)} tasks on http://{args.host}:{args.port}/ (votes: {store.path}); "
          "Ctrl-C stops, raters resume where they stopped", flush=True)
    try:
        serve(study, study_dir, store, host=args.host, port=args.port)
    except SystemExit as err:   # uvicorn exits when it cannot bind (a port taken since the check above)
        raise EmobenchError(f"the rating server could not start on {args.host}:{args.port} (exit {err.code})",
                            "pass another --port, or stop the program that uses it") from None
    n = len(store.votes())
    print(f"emobench human: server stopped; {n} vote(s) in {store.path} (every acknowledged vote is kept; "
          "`emobench human serve` again resumes)", flush=True)
    return 0


def check_port(host: str, port: int) -> None:
    """One ``emobench: error:`` line when ``host:port`` cannot be bound (taken, or no such address)."""
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise EmobenchError(f"cannot serve on host {host!r} ({err})", "pass --host 127.0.0.1 or an address of "
                            "this machine") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as err:
            busy = err.errno == errno.EADDRINUSE
            raise EmobenchError(f"port {port} on {host} is {'already in use' if busy else 'not available'} "
                                f"({err.strerror})", "pass another --port, or stop the program that uses it") from None


def main_import(args) -> int:
    from emobench.human.importer import import_votes
    from emobench.human.store import VoteStore

    report = import_votes(args.file, VoteStore.open(args.store), strict=args.strict)
    for line, why in report.refused[:20]:
        print(f"emobench human import: {args.file}:{line}: refused: {why}", file=sys.stderr)
    if len(report.refused) > 20:
        print(f"emobench human import: ... and {len(report.refused) - 20} more refused rows", file=sys.stderr)
    print(report.summary() + (" (--strict: nothing written)" if args.strict and report.refused else ""))
    if args.strict and report.refused:
        return 2
    return 0


def main_analyze(args) -> int:
    from emobench.human.analyze import MIN_PASS, analyze
    from emobench.human.report import to_markdown
    from emobench.human.store import VoteStore

    if args.resamples < 1:
        raise EmobenchError(f"--resamples must be at least 1 (got {args.resamples})", "use e.g. --resamples 1000")
    min_pass = MIN_PASS if args.min_pass is None else args.min_pass
    if not 0 <= min_pass <= 1:
        raise EmobenchError(f"--min-pass must be within 0..1 (got {min_pass})", "use e.g. --min-pass 0.8")
    result = analyze(VoteStore.open(args.store), min_pass=min_pass, n_boot=args.resamples, seed=args.seed,
                     run_dir=args.run)
    print(result.to_json() if args.json else to_markdown(result), end="")
    return 0
