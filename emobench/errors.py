"""User-facing errors: one line naming the problem and the fix; the CLI turns them into exit code 2."""
from __future__ import annotations


class EmobenchError(Exception):
    """A problem with the user's input that they can fix. ``str(err)`` is shown as one line."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} — {fix}" if fix else problem)


class PluginError(EmobenchError):
    """A method or metric plugin failed (import, config, output); reported per plugin, others go on."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command that knows what to run next: ``hint`` names it (a run names its real folder)."""

    def __init__(self, hint: str):
        super().__init__(hint)
        self.hint = hint
