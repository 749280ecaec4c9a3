"""A run is bound to the zoo, judges and weights that made it.

Images are keyed by the zoo's generation weights and scores are made by its judges; a resume, a re-score or a
report under other weights would mix two experiments under one config hash. So before anything is written:

* **generation weights** (the zoo's ``pipeline.*`` components, as ``zoo.json`` recorded them): changed ⇒ a
  resume is refused, naming the component and both hashes (start afresh with ``--out``);
* **judges** (every scoring component, as ``protocol.json`` records the judges that last scored the run,
  else ``zoo.json``): changed ⇒ re-scoring is refused unless asked (``--rescore-with-current-judges``);
  then the old and new judges and protocol fingerprints are appended to ``rescored.jsonl`` and said on
  screen.

Nothing is ever silently regenerated or silently re-scored under the same config hash.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emobench.errors import EmobenchError
from emobench.io.files import append_jsonl

RESCORED = "rescored.jsonl"   # one line per re-score with changed judges: old and new judges and fingerprints
FLAG = "--rescore-with-current-judges"


@dataclass(frozen=True)
class Change:
    component: str
    old: str | None     # None: the run recorded no such component
    new: str | None     # None: the zoo has it no more

    def __str__(self) -> str:
        return f"{self.component} ({_short(self.old)} in the run, {_short(self.new)} in the zoo now)"


def _short(h: str | None) -> str:
    return "absent" if h is None else str(h)[:12] + "…"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def recorded_generation(run_dir: Path) -> dict[str, str]:
    """The generation weights the run's images were made with (``zoo.json``)."""
    hashes = _read(Path(run_dir) / "zoo.json").get("hashes") or {}
    return {str(k): str(v) for k, v in hashes.items() if str(k).startswith("pipeline")}


def recorded_judges(run_dir: Path) -> dict[str, str]:
    """The judges that last scored the run (``protocol.json``), else those of the zoo that made it."""
    judges = _read(Path(run_dir) / "protocol.json").get("judges")
    if isinstance(judges, list) and judges:
        return {str(j[0]): str(j[1]) for j in judges if isinstance(j, (list, tuple)) and len(j) == 2}
    hashes = _read(Path(run_dir) / "zoo.json").get("hashes") or {}
    return {str(k): str(v) for k, v in hashes.items() if not str(k).startswith("pipeline")}


def changes(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[Change]:
    return [Change(k, recorded.get(k), current.get(k)) for k in sorted(set(recorded) | set(current))
            if recorded.get(k) != current.get(k)]


def generation_changes(run_dir: Path, hashes: Mapping[str, str]) -> list[Change]:
    recorded = recorded_generation(run_dir)
    if not recorded:   # a run that recorded no weights (damaged zoo.json) cannot be checked: say so elsewhere
        return []
    return changes(recorded, {k: v for k, v in hashes.items() if k.startswith("pipeline")})


def judge_changes(run_dir: Path, hashes: Mapping[str, str]) -> list[Change]:
    recorded = recorded_judges(run_dir)
    if not recorded:
        return []
    return changes(recorded, {k: v for k, v in hashes.items() if not k.startswith("pipeline")})


def _listed(found: list[Change]) -> str:
    return "; ".join(map(str, found[:3])) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")


def check_generation(run_dir: Path, zoo: Any) -> None:
    """Refuse to continue a run whose generation weights are not the zoo's any more."""
    found = generation_changes(run_dir, dict(zoo.hashes))
    if found:
        raise EmobenchError(f"the zoo's generation weights changed since {str(run_dir)!r} was made: {_listed(found)}",
                            "its images cannot be continued with other weights; start a new run with --out DIR "
                            "(or restore the zoo it was made with)")


def check_judges(run_dir: Path, zoo: Any, rescore: bool) -> list[Change]:
    """The judge changes since the run was last scored; refused unless ``rescore`` (the user asked)."""
    found = judge_changes(run_dir, dict(zoo.hashes))
    if found and not rescore:
        raise EmobenchError(f"the judges changed since {str(run_dir)!r} was scored: {_listed(found)}",
                            f"pass {FLAG} to re-score it with the current judges (recorded in the run), "
                            "--no-score to only generate, or restore the zoo it was scored with")
    return found


def record_rescore(run_dir: Path, found: list[Change], old_fingerprint: str | None,
                   new_fingerprint: str | None) -> None:
    """Append the re-score's old and new judges and fingerprints to ``rescored.jsonl`` and say so."""
    if not found:
        return
    append_jsonl(Path(run_dir) / RESCORED, {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "changed": {c.component: {"old": c.old, "new": c.new} for c in found},
        "old_fingerprint": old_fingerprint, "new_fingerprint": new_fingerprint})
    print(f"emobench: re-scored {run_dir} with the current judges ({_listed(found)}); protocol fingerprint "
          f"{old_fingerprint or '?'} -> {new_fingerprint or '?'}; recorded in {Path(run_dir) / RESCORED}",
          file=sys.stderr)


@dataclass
class Rebinding:
    """What a started run's checks found: the judge changes a re-score will record once it has scored."""

    run_dir: Path
    found: list[Change]
    old_fingerprint: str | None = None

    def record(self) -> None:
        if self.found:
            from emobench.spec import protocol

            new = protocol.read(self.run_dir)
            record_rescore(self.run_dir, self.found, self.old_fingerprint, new.fingerprint if new else None)


def zoo_drift(run_dir: Path) -> list[Change]:
    """What changed in the run's zoo (``config.json``'s zoo spec) since the run was made and scored; ``[]``
    when the zoo is not on this machine (a report needs only the run's files)."""
    from emobench.rundir.layout import run_zoo_spec
    from emobench.zoo.current import current_hashes

    hashes = current_hashes(run_zoo_spec(Path(run_dir)))
    if hashes is None:
        return []
    return generation_changes(run_dir, hashes) + judge_changes(run_dir, hashes)


def for_scoring(run_dir: Path, zoo: Any, rescore: bool) -> Rebinding:
    """Before a run is (re-)scored: its judges must be the zoo's unless ``rescore`` (the user asked)."""
    found = check_judges(run_dir, zoo, rescore)
    fingerprint = _read(Path(run_dir) / "protocol.json").get("fingerprint")
    return Rebinding(Path(run_dir), found, str(fingerprint) if fingerprint else None)


def check_started(run_dir: Path, zoo: Any, *, started: bool, score: bool, rescore: bool) -> Rebinding:
    """Before a started run is continued: its generation weights must be the zoo's, and its judges too unless
    the caller re-scores with the current ones on purpose. Raises ``EmobenchError``; writes nothing."""
    if not started:
        return Rebinding(Path(run_dir), [])
    check_generation(run_dir, zoo)
    return for_scoring(run_dir, zoo, rescore) if score else Rebinding(Path(run_dir), [])
