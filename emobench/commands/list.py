"""``emobench list methods|metrics|emotions``: what is installed, with options and load failures."""
from __future__ import annotations

import argparse
import dataclasses

from emobench import registry
from emobench.emotions import EMOTIONS, polarity


def add_parser(sub) -> None:
    p = sub.add_parser("list", help="installed methods, metrics and emotion judges, and the emotions")
    p.add_argument("what", choices=["methods", "metrics", "judges", "emotions"])
    p.add_argument("--zoo", default="mini", help="judges: the zoo whose panel to list ('mini', a folder, a .toml)")
    p.set_defaults(func=main)


def _options(cls: type) -> str:
    parts = []
    for f in dataclasses.fields(cls.Config):
        if not f.init:   # derived by the config itself (e.g. a hash of files it names), not an option
            continue
        default = f.default if f.default is not dataclasses.MISSING else "required"
        parts.append(f"{f.name}={default}")
    return ", ".join(parts) or "-"


def main(args: argparse.Namespace) -> int:
    if args.what == "emotions":
        for i, e in enumerate(EMOTIONS):
            print(f"{i}  {e:<12} {'positive' if polarity(e) else 'negative'}")
        return 0
    if args.what == "judges":
        from emobench.judges.listing import print_judges

        return print_judges(args.zoo)
    reg = registry.methods() if args.what == "methods" else registry.metrics()
    for name in reg.available():
        cls = reg.get(name)
        flag = " [learns]" if getattr(cls, "learns", False) else ""
        print(f"{name:<22} {reg.entries[name].target}{flag}\n    options: {_options(cls)}")
    for name, err in reg.broken().items():
        print(f"{name:<22} FAILED TO LOAD: {err}")
    return 0
