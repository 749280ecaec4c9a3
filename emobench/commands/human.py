"""``emobench human export|serve|import|analyze``: the human study's own parser (``emobench.human.cli``), which
``python -m emobench.human`` uses alone to start the rating server without building the other subcommands."""
from emobench.human.cli import add_parser

__all__ = ["add_parser"]
