"""The vote store: one SQLite file in WAL mode holding the study's tasks and every vote.

WAL lets several raters' requests (threads, or several server processes) write while others read; each
request writes in its own ``BEGIN IMMEDIATE`` transaction, so a vote is either committed whole (all the
questions of a task) or not at all, and a server killed at any moment loses no committed vote.
``UNIQUE(rater, task_id, question)`` makes a double submit impossible at the database level too.
"""
from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

from emobench.errors import EmobenchError
from emobench.human.tasks import Study, Task

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    body TEXT NOT NULL                       -- the Task as JSON (method names included: private)
);
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    rater TEXT NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    question TEXT NOT NULL,
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right')),
    shown_order TEXT NOT NULL CHECK (shown_order IN ('AB', 'BA')),
    shown_at REAL,                           -- unix seconds: when the task was served (or the platform's)
    answered_at REAL NOT NULL,
    source TEXT NOT NULL,                    -- 'serve' or 'import:<file name>'
    UNIQUE (rater, task_id, question)
);
"""


UNDONE = """CREATE TABLE IF NOT EXISTS undone (
    id INTEGER PRIMARY KEY, rater TEXT NOT NULL, task_id TEXT NOT NULL, question TEXT NOT NULL,
    choice TEXT NOT NULL, shown_order TEXT NOT NULL, shown_at REAL, answered_at REAL NOT NULL, source TEXT NOT NULL,
    undone_at REAL NOT NULL)"""   # answers a rater took back (undo): kept for the record, never analysed


@dataclass
class Vote:
    rater: str
    task_id: str
    question: str
    choice: str          # left | right, as clicked
    shown_order: str     # AB (side A was on the left) | BA
    shown_at: float | None
    answered_at: float
    source: str


class DuplicateVote(Exception):
    pass


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")   # a committed vote survives power loss too, not only a kill
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA busy_timeout=30000")
    return con


class VoteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def create(cls, path: str | Path, study: Study) -> "VoteStore":
        store = cls(path)
        con = connect(store.path)
        try:
            con.executescript(SCHEMA)
            con.execute("BEGIN IMMEDIATE")
            con.execute("INSERT OR REPLACE INTO meta VALUES ('run_dir', ?), ('seed', ?)",
                        (study.run_dir, str(study.seed)))
            for key in ("run_id", "protocol"):   # what binds the votes to one run (absent in older stores)
                if getattr(study, key):
                    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, getattr(study, key)))
            con.executemany("INSERT OR IGNORE INTO tasks VALUES (?, ?)",
                            [(t.task_id, json.dumps(asdict(t), sort_keys=True)) for t in study.tasks])
            con.execute("COMMIT")
        finally:
            con.close()
        return store

    @classmethod
    def open(cls, path: str | Path) -> "VoteStore":
        path = Path(path)
        if not path.is_file():
            raise EmobenchError(f"vote store {path} does not exist",
                                "create it with `emobench human export RUN` (it writes votes.sqlite)")
        store = cls(path)
        try:
            with store.read() as con:
                con.execute("SELECT 1 FROM tasks LIMIT 1").fetchall()
                con.execute("SELECT 1 FROM votes LIMIT 1").fetchall()
        except sqlite3.DatabaseError as err:
            raise EmobenchError(f"{path} is not an emobench vote store ({err})",
                                "pass the votes.sqlite that `emobench human export` wrote") from err
        return store

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        con = connect(self.path)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front (IMMEDIATE) so concurrent writers queue instead of failing."""
        con = connect(self.path)
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    # ------------------------------------------------------------------------------------------- reads

    def meta(self) -> dict[str, str]:
        with self.read() as con:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())

    def check_run(self, where: str, run_ids: set[str], image_keys: set[str]) -> None:
        """Refuse (one line) a store whose votes are of another run: by run id when the store and the run(s)
        carry one, else (stores of earlier versions) by the run images its tasks show, all in ``image_keys``."""
        mine = self.meta().get("run_id")
        if mine and run_ids:
            if mine not in run_ids:
                raise EmobenchError(f"vote store {self.path} holds votes of another run (run {mine}; {where} is "
                                    f"run {', '.join(sorted(run_ids))})", "pass the votes.sqlite exported from this run")
            return
        shown = {k for t in self.tasks() if t.kind in ("pair", "set", "repeat") for k in [*t.keys_a, *t.keys_b]}
        if shown - image_keys:
            raise EmobenchError(f"vote store {self.path} rates {len(shown - image_keys)} image(s) that {where} "
                                "does not hold: its votes are of another run",
                                "pass the votes.sqlite exported from this run")

    def tasks(self) -> list[Task]:
        with self.read() as con:
            return [Task(**json.loads(body)) for (body,) in con.execute("SELECT body FROM tasks ORDER BY task_id")]

    def votes(self) -> list[Vote]:
        with self.read() as con:
            rows = con.execute("SELECT rater, task_id, question, choice, shown_order, shown_at, answered_at, "
                               "source FROM votes ORDER BY id").fetchall()
        return [Vote(*r) for r in rows]

    def answered_tasks(self, rater: str) -> set[str]:
        with self.read() as con:
            return {t for (t,) in con.execute("SELECT DISTINCT task_id FROM votes WHERE rater = ?", (rater,))}

    # ------------------------------------------------------------------------------------------ writes

    def undo_last(self, rater: str) -> str | None:
        """Take back the rater's last answered task (its served votes): moved to the ``undone`` table, in one
        transaction, so the task is served again. Only the last one, and never imported votes. Returns the
        task id, or None when there is nothing to undo."""
        with self.transaction() as con:
            con.execute(UNDONE)
            row = con.execute("SELECT task_id FROM votes WHERE rater = ? AND source = 'serve' ORDER BY id DESC "
                              "LIMIT 1", (rater,)).fetchone()
            if row is None:
                return None
            con.execute("INSERT INTO undone (rater, task_id, question, choice, shown_order, shown_at, answered_at, "
                        "source, undone_at) SELECT rater, task_id, question, choice, shown_order, shown_at, "
                        "answered_at, source, ? FROM votes WHERE rater = ? AND task_id = ?", (now(), rater, row[0]))
            con.execute("DELETE FROM votes WHERE rater = ? AND task_id = ?", (rater, row[0]))
            return str(row[0])

    def add_task_votes(self, votes: Sequence[Vote]) -> None:
        """All the answers to one task by one rater, in one transaction; DuplicateVote (nothing written)
        when that rater already answered any of them."""
        with self.transaction() as con:
            for v in votes:
                if con.execute("SELECT 1 FROM votes WHERE rater=? AND task_id=? AND question=?",
                               (v.rater, v.task_id, v.question)).fetchone():
                    raise DuplicateVote(f"{v.rater} already answered {v.task_id} / {v.question}")
            insert(con, votes)


def insert(con: sqlite3.Connection, votes: Sequence[Vote]) -> None:
    con.executemany("INSERT INTO votes (rater, task_id, question, choice, shown_order, shown_at, answered_at, "
                    "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(v.rater, v.task_id, v.question, v.choice, v.shown_order, v.shown_at, v.answered_at,
                      v.source) for v in votes])


def now() -> float:
    return time.time()
