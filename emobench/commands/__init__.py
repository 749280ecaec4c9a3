"""Subcommands of the ``emobench`` CLI: one module each, with ``add_parser(subparsers)`` and ``main(args)``."""
COMMANDS = ["run", "list", "score", "fit", "zoo", "report", "figures", "validate_plugin", "human", "audit", "agree",
            "verify", "plan", "bundle"]
