"""``emobench human import FILE``: votes from a crowdsourcing platform's CSV, merged into the vote store.

One row per answer (long format). Columns:

- ``rater_id`` (required): the platform's worker id.
- ``task_id`` (required): the ``task_id`` column of the exported tasks.csv.
- ``question`` (required): ``emotion``, ``clarity`` or ``diversity`` (the task's ``question_ids``).
- ``choice`` (required): ``left`` or ``right``, as the rater saw the sides.
- ``shown_order`` (optional): ``AB`` or ``BA``; default: the order tasks.csv showed (the platform's case).
- ``shown_at``, ``answered_at`` (optional): unix seconds or ISO 8601 times; default: the import time.
- ``study_id`` (optional): tasks.csv's ``study_id`` (the run id); a file of another run's study is refused whole.

A row is refused (and reported with its line number) when the task or question is unknown, a value is
invalid, or the same rater already answered that question (in the store, or earlier in the file); every
other row is merged, in one transaction.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from emobench.errors import EmobenchError
from emobench.human.store import Vote, VoteStore, insert, now
from emobench.human.tasks import QUESTIONS

REQUIRED = ("rater_id", "task_id", "question", "choice")


@dataclass
class ImportReport:
    imported: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)   # (line number, reason)

    def count(self, what: str) -> int:
        return sum(1 for _, r in self.refused if r.startswith(what))

    def summary(self) -> str:
        kinds = ("duplicate", "unknown task", "unknown question", "bad value")
        parts = [f"{self.count(k)} {k}" for k in kinds if self.count(k)]
        return f"imported {self.imported} vote(s); refused {len(self.refused)}" + (
            f" ({', '.join(parts)})" if parts else "")


def _time(value: str, default: float) -> float:
    value = (value or "").strip()
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a time")
    return seconds


MAX_FIELD = 4096   # a vote's longest field (an ISO time, a worker id) is tens of characters


def read_votes_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a platform's CSV: UTF-8 with or without a BOM; any other encoding, a NUL byte or an
    oversized field is one line naming the file and the line, never a traceback."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise EmobenchError(f"{path}:{line} is not UTF-8 text (byte 0x{path.read_bytes()[err.start]:02x})",
                            "save the file as UTF-8 (with or without BOM) and import it again") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise EmobenchError(f"{path} lacks column(s) {', '.join(missing)}",
                                "give one row per answer with rater_id, task_id, question, choice "
                                "(see docs/human-study.md)")
        rows = []
        for row in reader:
            long = [k for k, v in row.items() if isinstance(v, str) and len(v) > MAX_FIELD]
            if long:
                raise EmobenchError(f"{path}:{reader.line_num}: field {str(long[0])[:40]!r} is longer than "
                                    f"{MAX_FIELD} characters", "export one answer per row (see docs/human-study.md)")
            rows.append(row)
    except csv.Error as err:   # a NUL byte, an unterminated quote, a field over csv's own limit
        raise EmobenchError(f"{path}:{reader.line_num} is not valid CSV ({err})",
                            "export the votes again as plain CSV (see docs/human-study.md)") from None
    return rows


def _check_study(path: Path, rows: list[dict], tasks: dict, run_id: str | None) -> None:
    """Votes of another run are refused whole (one line), never merged row by row: by the ``study_id`` column
    (tasks.csv carries it; platforms pass it through), else when no row names a task of this store."""
    ids = {(r.get("study_id") or "").strip() for r in rows} - {""}
    if ids and run_id and ids != {run_id}:
        raise EmobenchError(f"{path} holds votes of another study (study_id {', '.join(sorted(ids))}; this store's "
                            f"run is {run_id})", "import it into the votes.sqlite of the run it was exported from")
    if rows and not any((r.get("task_id") or "").strip() in tasks for r in rows):
        raise EmobenchError(f"none of the {len(rows)} rows of {path} names a task of this store's study"
                            f"{f' (run {run_id})' if run_id else ''}: votes of another run?",
                            "import it into the votes.sqlite of the run its tasks.csv was exported from")


def import_votes(path: str | Path, store: VoteStore, strict: bool = False) -> ImportReport:
    path = Path(path)
    if not path.is_file():
        raise EmobenchError(f"vote file {path} does not exist", "pass the CSV your platform exported")
    tasks = {t.task_id: t for t in store.tasks()}
    report = ImportReport()
    rows = read_votes_csv(path)
    _check_study(path, rows, tasks, store.meta().get("run_id"))
    t0 = now()
    with store.transaction() as con:
        seen = {(r, t, q) for r, t, q in con.execute("SELECT rater, task_id, question FROM votes")}
        good: list[Vote] = []
        for line, row in enumerate(rows, start=2):
            rater, tid = (row.get("rater_id") or "").strip(), (row.get("task_id") or "").strip()
            q, choice = (row.get("question") or "").strip(), (row.get("choice") or "").strip().lower()
            task = tasks.get(tid)
            if task is None:
                report.refused.append((line, f"unknown task {tid!r}"))
                continue
            if q not in QUESTIONS or q not in task.questions:
                report.refused.append((line, f"unknown question {q!r} for task {tid}"))
                continue
            order = (row.get("shown_order") or "").strip().upper() or task.export_order
            if not rater or choice not in ("left", "right") or order not in ("AB", "BA"):
                report.refused.append((line, f"bad value (rater {rater!r}, choice {choice!r}, order {order!r})"))
                continue
            try:
                shown, answered = _time(row.get("shown_at", ""), t0), _time(row.get("answered_at", ""), t0)
            except ValueError:
                report.refused.append((line, "bad value (shown_at / answered_at is not a time)"))
                continue
            if (rater, tid, q) in seen:
                report.refused.append((line, f"duplicate: {rater} already answered {tid} / {q}"))
                continue
            seen.add((rater, tid, q))
            good.append(Vote(rater, tid, q, choice, order, shown, answered, f"import:{path.name}"))
        if strict and report.refused:
            good = []
        insert(con, good)
        report.imported = len(good)
    return report
