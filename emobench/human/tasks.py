"""The A/B tasks of a human study, their questions, and the seeded order each rater sees them in.

A task shows side A and side B (one image each, or a set of images each for the diversity question) and
asks one or more questions. Method names live only in the study key (``study.json``, the store's ``tasks``
table); what a rater or a platform sees is an opaque task id and opaque image ids.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emobench.errors import EmobenchError
from emobench.hashing import stable_hash  # torch-free, so the rating server starts fast

# EmoGen Table 2's three questions (emotion expression, semantic clarity, diversity), as shown to raters.
QUESTIONS: dict[str, str] = {
    "emotion": "Which image shows {emotion} better?",
    "clarity": "Which image has the clearer content (objects and scene easy to recognise)?",
    "diversity": "Which set of {emotion} images is more diverse?",
}
PAIR_QUESTIONS = ("emotion", "clarity")
SET_QUESTIONS = ("diversity",)

# Task kinds: "pair" and "set" are measured; "repeat" (a pair shown again with its sides swapped) and
# "control" (a real image of the emotion against a label-shuffled real image) are attention checks.
KINDS = ("pair", "set", "repeat", "control")
CHECK_KINDS = ("repeat", "control")
CONTROL_REAL = "real (control)"
CONTROL_SHUFFLED = "shuffled (control)"

STUDY_FORMAT = "emobench-human-study"


@dataclass
class Task:
    task_id: str
    kind: str
    emotion: str
    questions: list[str]
    a: list[str]                 # opaque image ids of side A (one for a pair, several for a set)
    b: list[str]
    method_a: str                # private: never sent to a rater
    method_b: str
    keys_a: list[str] = field(default_factory=list)   # run image keys (manifest) behind a / b, for metrics
    keys_b: list[str] = field(default_factory=list)
    cells: list[str] = field(default_factory=list)    # cell ids (emotion|template|seed) shown
    export_order: str = "AB"     # side order in tasks.csv (crowdsourcing): "AB" = A on the left
    of: str | None = None        # repeat: the task it repeats

    def question_text(self, q: str) -> str:
        return QUESTIONS[q].format(emotion=self.emotion)

    @property
    def is_check(self) -> bool:
        return self.kind in CHECK_KINDS


@dataclass
class Study:
    run_dir: str
    seed: int
    tasks: list[Task]
    images: dict[str, str] = field(default_factory=dict)   # opaque image id -> file name under images/
    run_id: str | None = None      # the run's id (its .emobench-run marker): votes bind to this run only
    protocol: str | None = None    # the run's protocol fingerprint when the study was exported

    def by_id(self) -> dict[str, Task]:
        return {t.task_id: t for t in self.tasks}

    def to_json(self) -> str:
        doc = {"format": STUDY_FORMAT, "version": 1, "run_dir": self.run_dir, "seed": self.seed,
               "run_id": self.run_id, "protocol": self.protocol,
               "questions": QUESTIONS, "images": self.images, "tasks": [asdict(t) for t in self.tasks]}
        return json.dumps(doc, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "study.json") -> "Study":
        try:
            doc = json.loads(text)
            if doc.get("format") != STUDY_FORMAT:
                raise ValueError("not an emobench human study")
            return cls(run_dir=str(doc["run_dir"]), seed=int(doc["seed"]),
                       tasks=[Task(**t) for t in doc["tasks"]], images=dict(doc.get("images", {})),
                       run_id=doc.get("run_id"), protocol=doc.get("protocol"))
        except (ValueError, KeyError, TypeError) as err:
            raise EmobenchError(f"{where} is not a valid study file ({err})",
                                "re-create it with `emobench human export RUN`") from err


def load_study(study_dir: Path) -> Study:
    path = Path(study_dir) / "study.json"
    if not path.is_file():
        raise EmobenchError(f"{study_dir} holds no study.json", "create the study with `emobench human export RUN`")
    return Study.from_json(path.read_text(), str(path))


def task_id(seed: int, *parts: Any) -> str:
    return "t" + stable_hash(["task", seed, *parts], n=16)


def image_id(seed: int, source: str) -> str:
    return "i" + stable_hash(["image", seed, source], n=16)


def rater_order(study: Study, rater: str) -> list[Task]:
    """The rater's own seeded task order; the same rater always resumes in the same order."""
    ranked = sorted(study.tasks, key=lambda t: stable_hash([study.seed, rater, t.task_id]))
    # Keep a repeat away from its original (3 positions or more, when the study is that long) so it tests
    # attention, not short-term memory.
    ids = [t.task_id for t in ranked]
    for t in [x for x in ranked if x.of in ids]:
        i, j = ids.index(t.task_id), ids.index(t.of)
        if abs(i - j) >= 3:
            continue
        ranked.pop(i)
        ids.pop(i)
        j = ids.index(t.of)
        k = j + 3 if j + 3 <= len(ranked) else max(0, j - 2)
        ranked.insert(k, t)
        ids.insert(k, t.task_id)
    return ranked


def shown_order(study: Study, rater: str, task: Task) -> str:
    """Which side goes left for this rater: seeded per (rater, task); a repeat is its original swapped."""
    if task.of:
        original = study.by_id().get(task.of)
        if original is not None:
            return "BA" if shown_order(study, rater, original) == "AB" else "AB"
    return "AB" if int(stable_hash([study.seed, rater, task.task_id, "side"]), 16) % 2 == 0 else "BA"


def winner(choice: str, order: str) -> str:
    """The side (A or B) a vote chose, from what was clicked (left/right) and the shown order."""
    return "A" if (choice == "left") == (order == "AB") else "B"
