"""``emobench validate-plugin NAME``: run the method or metric contract kit from the command line.

By default a tiny randomly initialised zoo is built in a temporary folder (seconds), so a submitter can
check a plugin without any weights; ``--zoo`` runs the same checks against any zoo. NAME is looked up among
the method plugins, then the metric plugins (``--kind`` picks one when both have it).
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from emobench.errors import EmobenchError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("validate-plugin", help="run the method or metric contract checks on a plugin (tiny zoo by default)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", help="plugin name (its emobench.methods or emobench.metrics entry point)")
    p.add_argument("--kind", choices=["method", "metric"], default=None,
                   help="which kind of plugin NAME is (default: found among the methods, then the metrics)")
    p.add_argument("--zoo", default=None,
                   help="zoo to check against: 'mini', a zoo folder or a paper .toml (default: a tiny zoo in a "
                        "temporary folder)")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="a plugin config option (repeatable; VALUE is parsed as JSON when it can be)")
    p.add_argument("--check", action="append", default=None, metavar="NAME",
                   help="run only this check (repeatable); default: all")
    p.add_argument("--no-latents", action="store_true",
                   help="the method cannot take a latent: skip the latents check (seeds must still be honoured)")
    p.add_argument("--bad-option", action="append", default=[], metavar="KEY=VALUE",
                   help="an option value the plugin must reject with a clear error (repeatable)")
    p.add_argument("--no-refit", action="store_true", help="skip the refit-determinism part of fit_artifacts")
    p.set_defaults(func=main)


def parse_options(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise EmobenchError(f"option {pair!r} is not KEY=VALUE", "write e.g. --option steps=2")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw  # a bare string
    return out


def plugin_kind(name: str, kind: str | None) -> str:
    """``method`` or ``metric``: the registry that has ``name`` (``kind`` decides when both have it)."""
    from emobench import registry

    if kind is not None:
        return kind
    # names() reads entry-point metadata only: nothing is imported before the plugin itself (a broken
    # plugin's name is listed too)
    found = [k for k, reg in (("method", registry.methods()), ("metric", registry.metrics())) if name in reg.names()]
    if len(found) == 2:
        raise EmobenchError(f"{name!r} is both a method and a metric plugin", "pass --kind method or --kind metric")
    return found[0] if found else "method"   # unknown: the method registry says so, with did-you-mean


def import_first(kind: str, name: str, options: dict[str, Any]) -> None:
    """Import the plugin and build it with ``options`` before anything slow: an unknown name, an import error
    or a bad option is an ``EmobenchError`` (exit 2) in seconds, never a list of checks that did not run."""
    if kind == "method":
        from emobench.testing.plumbing import build_method, resolve_method_class

        build_method(resolve_method_class(name), options)
    else:
        from emobench.testing.metric_contract import resolve_metric

        try:
            resolve_metric(name, options)
        except (TypeError, ValueError) as err:
            raise EmobenchError(f"metric {name!r}: bad options {options} ({err})",
                                "check its options (`emobench list metrics`)") from None


def main(args: argparse.Namespace) -> int:
    kind = plugin_kind(args.name, args.kind)
    options = parse_options(args.option)
    import_first(kind, args.name, options)   # seconds: a plugin that cannot load is one line, no zoo built

    from emobench.testing.contract import CHECKS, ContractSettings, check_method
    from emobench.testing.metric_contract import METRIC_CHECKS, check_metric
    from emobench.zoo.load import load_zoo

    known = CHECKS if kind == "method" else METRIC_CHECKS
    for c in args.check or []:
        if c not in known:
            raise EmobenchError(f"unknown {kind} check {c!r}", f"choose from {', '.join(known)}")
    settings = ContractSettings(options=options, uses_latents=not args.no_latents,
                                bad_options=[parse_options([b]) for b in args.bad_option],
                                check_fit_determinism=not args.no_refit)
    with tempfile.TemporaryDirectory(prefix="emobench-validate-") as tmp:
        if args.zoo is None:
            from emobench.testing.tiny import build_tiny_zoo

            print("building a tiny zoo (random weights) in a temporary folder ...", flush=True)
            zoo = load_zoo(str(build_tiny_zoo(Path(tmp) / "zoo")))
        else:
            zoo = load_zoo(args.zoo)
        print(f"checking {kind} {args.name!r} on zoo {zoo.name!r}", flush=True)

        def progress(r):
            print(f"  {r.status:4}  {r.name:<20}  {r.seconds:6.2f}s  {r.detail}", flush=True)

        if kind == "method":
            report = check_method(args.name, zoo, settings=settings, checks=args.check, progress=progress)
        else:
            report = check_metric(args.name, zoo, options=settings.options, checks=args.check, progress=progress)
    verdict = "all checks passed" if report.ok else f"{len(report.failed)} check(s) failed: " + \
        ", ".join(r.name for r in report.failed) + (f" ({len(report.not_run)} not run)" if report.not_run else "")
    print(f"{report.method}: {verdict}")
    return 0 if report.ok else 1
