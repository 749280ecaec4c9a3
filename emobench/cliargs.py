"""Range-checked argument types for every command line option that takes a number: argparse calls them
while it parses, so a seed beyond 2^63, a negative count, a port outside 1–65535 or an absurd size is one
``emobench: error: argument --x: ...`` line before anything is read, loaded or written.

A foundation (it imports only ``emobench.errors``): the human study's parser, the zoo's subcommands and the face
all use the same types, and ``tests/test_cli_hostile.py`` walks every option of every subcommand with a
table of hostile values.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

MAX_SEED = 2 ** 63 - 1        # torch generators take a signed 64-bit seed
MAX_COUNT = 10_000_000        # images, resamples, steps: more is never a sane request on one machine


def int_in(lo: int, hi: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number within ``lo..hi``."""
    def parse(text: str) -> int:
        try:
            value = int(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}"[:200]) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value if abs(value) < 10 ** 30 else str(value)[:24] + '...'} "
                                             f"is out of range: {what or 'it'} must be within {lo}..{hi}")
        return value
    parse.__name__ = f"int_in_{lo}_{hi}"
    return parse


def float_in(lo: float, hi: float, what: str = "", *, open_low: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within ``lo..hi`` (``open_low``: strictly above ``lo``)."""
    def parse(text: str) -> float:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}"[:200]) from None
        if not math.isfinite(value) or value > hi or value < lo or (open_low and value == lo):
            bound = f"above {lo} and at most {hi}" if open_low else f"within {lo}..{hi}"
            raise argparse.ArgumentTypeError(f"{text!r} is out of range: {what or 'it'} must be {bound}"[:200])
        return value
    parse.__name__ = f"float_in_{lo}_{hi}"
    return parse


SEED = int_in(0, MAX_SEED, "a seed")
PORT = int_in(1, 65535, "a TCP port")
COUNT = int_in(0, MAX_COUNT, "a count")                  # 0 allowed (0 = none / all, as each option says)
POSITIVE = int_in(1, MAX_COUNT, "a count")
WORKERS = int_in(1, 1024, "a number of processes or threads")
BATCH = int_in(1, 65536, "a batch size")


class OneLineParser(argparse.ArgumentParser):
    """argparse with the project's error form: one ``emobench: error:`` line and exit 2 (no usage block)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"emobench: error: {message} — see `{self.prog} --help`\n")


INTERRUPT_HINT = "everything already stored is kept"


def run_guarded(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command; every failure is one ``emobench: error:`` line, never a traceback.

    Bad input (``EmobenchError``) and disk errors exit 2; an interrupt exits 130 naming what to run next
    (the exception's ``hint``: a run names its real folder); anything else is a bug in emobench or a plugin,
    exit 1, its traceback written to a log file named on the line (``EMOBENCH_TRACEBACK=1`` re-raises)."""
    import os
    import sys

    from emobench.errors import EmobenchError

    try:
        return int(func(args) or 0)
    except EmobenchError as err:
        print(f"emobench: error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # read-only or full disk, a file where a folder should be: the user's to fix
        where = f" ({err.filename})" if getattr(err, "filename", None) else ""
        print(f"emobench: error: {err.strerror or err}{where} — free disk space, check permissions, "
              "or pass another folder", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        hint = getattr(err, "hint", None) or f"{INTERRUPT_HINT} (resume with the same command)"
        print(f"emobench: interrupted; {hint}", file=sys.stderr)
        return 130
    except (MemoryError, RecursionError, Exception) as err:  # noqa: BLE001 — a bug: one line and a log
        if os.environ.get("EMOBENCH_TRACEBACK"):
            raise
        log = _crash_log(err)
        first = str(err).splitlines()[0][:200] if str(err) else ""
        print(f"emobench: error: internal error ({type(err).__name__}: {first}) — this is a bug, please report "
              f"it with {log or 'EMOBENCH_TRACEBACK=1 to see the traceback'}", file=sys.stderr)
        return 1


def _crash_log(err: BaseException) -> str | None:
    import os
    import tempfile
    import time
    import traceback

    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        fd, path = tempfile.mkstemp(prefix=f"emobench-crash-{time.strftime('%Y%m%d-%H%M%S')}-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        return path
    except OSError:
        return None


def names_list(text: str | None, flag: str) -> list[str] | None:
    """A comma list option: ``None`` when not given; given but naming nothing (``","``, ``""``) is refused
    like ``--emotions ,,`` (it never silently means "all")."""
    if text is None:
        return None
    from emobench.errors import EmobenchError

    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise EmobenchError(f"{flag} {text!r} names nothing", f"name at least one, or leave {flag} out for the default")
    return list(dict.fromkeys(items))
