"""Marks on rows whose methods declared something a reader must know (methods.json), with a note under the table:

* ``†`` images made outside emobench (``external``: a submitted folder or bundle): the note says what the
  submission declared, since the starting noise of images made elsewhere cannot be verified
  (docs/submit-images.md, fairness);
* ``§`` a method that reads the dataset's emotion–content statistics at generation time
  (``uses_dataset_statistics``: the zero-training controls of docs/baselines.md): it learns nothing, but it is
  not blind to the data, so it answers "is learning needed?", not "can a method do without the data?".
"""
from __future__ import annotations

from typing import Any, Mapping

MARK = "†"
STATS_MARK = "§"
_SOURCES = {"folder": "a submitted folder", "bundle": "a bundle"}


def external_note(method: str, info: Mapping[str, Any]) -> str:
    prov = info.get("provenance") if isinstance(info.get("provenance"), Mapping) else {}
    source = _SOURCES.get(str(prov.get("source")), "outside emobench")
    noise = ("declares they started from the plan's initial latents (not verifiable)"
             if prov.get("declares_plan_latents") else
             "does not declare the plan's initial latents, so it pairs with the other rows by prompt only")
    resized = sum(v for v in (prov.get("resized") or {}).values() if isinstance(v, int))
    extra = f"; {resized} image(s) resized to the zoo's size ({prov.get('resize_filter', 'lanczos')})" if resized else ""
    return (f"{MARK} {method}: images made outside emobench ({source}) from the plan's prompts; the submission "
            f"{noise}{extra}.")


def stats_note(method: str) -> str:
    return (f"{STATS_MARK} {method}: no training, but it reads the emotion dataset at generation time (its "
            "emotion–content annotations, or its captions' words): docs/baselines.md, zero-training controls.")


def mark_rows(names: Mapping[str, str], methods: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(display names with ``†`` / ``§`` after the rows that declared them, {method: note}) for ``names``."""
    info = {m: methods[m] for m in names if isinstance(methods.get(m), Mapping)}
    external = {m: external_note(m, i) for m, i in info.items() if i.get("external")}
    stats = {m: stats_note(m) for m, i in info.items() if i.get("uses_dataset_statistics")}
    marked = {m: n + (f" {MARK}" if m in external else "") + (f" {STATS_MARK}" if m in stats else "")
              for m, n in names.items()}
    notes = {m: " ".join(x for x in (external.get(m), stats.get(m)) if x) for m in names if m in external or m in stats}
    return marked, notes
