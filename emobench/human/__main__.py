"""``python -m emobench.human COMMAND ...`` is ``emobench human COMMAND ...`` without building the other
subcommands' parsers (some import torch): the rating server then starts in about a second."""
from __future__ import annotations

import sys
from typing import Sequence

from emobench.cliargs import OneLineParser, run_guarded
from emobench.human.cli import add_parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m emobench")
    sub = parser.add_subparsers(dest="command")
    add_parser(sub)
    args = parser.parse_args(["human", *(sys.argv[1:] if argv is None else argv)])
    return run_guarded(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
