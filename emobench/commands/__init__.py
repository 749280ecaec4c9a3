"""Subcommands of the ``emobench`` CLI: one module each, with ``add_parser(subparsers)`` and ``main(args)``.

A module listed here that is not written yet is skipped, so parts can land independently.
"""
COMMANDS = ["run", "list", "score", "fit", "zoo", "report", "figures", "validate_plugin", "audit"]
