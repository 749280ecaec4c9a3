"""The ``emobench`` command line: a thin argparse shell over ``emobench.commands``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from emobench.commands import COMMANDS
from emobench.errors import EmobenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmobenchError as err:
        print(f"emobench: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("emobench: interrupted; everything already stored is kept (resume with --resume RUN_DIR)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
