"""``python -m emobench.human COMMAND ...`` is ``emobench human COMMAND ...`` without building the other
subcommands' parsers (some import torch): the rating server then starts in about a second."""
from __future__ import annotations

import argparse
import sys
from typing import Sequence

from emobench.human.cli import add_parser
from emobench.errors import EmobenchError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emobench")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["human", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except EmobenchError as err:
        print(f"emobench: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
