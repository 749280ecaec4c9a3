"""The ``emobench`` command line: a thin argparse shell over ``emobench.commands``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from emobench.cliargs import OneLineParser, run_guarded
from emobench.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="emobench",
        description="Benchmark emotional image content generation under identical prompts and seeds.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"emobench.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # emobench never downloads weights
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:   # --help (0) or a bad argument (2, its one line already printed)
        return int(done.code or 0)
    return run_guarded(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
