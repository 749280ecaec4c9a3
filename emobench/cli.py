"""The ``emobench`` command line: a thin argparse shell over ``emobench.commands``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Sequence

from emobench.commands import COMMANDS
from emobench.errors import EmobenchError


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error form: one ``emobench: error:`` line and exit 2 (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"emobench: error: {message} — see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    except OSError as err:  # read-only or full disk, a file where a folder should be: the user's to fix
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"emobench: error: {err.strerror or err}{where} — free disk space, check permissions, "
              "or pass another folder", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("emobench: interrupted; everything already stored is kept (resume with --resume RUN_DIR)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
