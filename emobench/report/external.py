"""Rows of images made outside emobench (``external`` in methods.json: a submitted folder or bundle): every table
marks them, and a note under the table says what the submission declared, since the starting noise of images
made elsewhere cannot be verified (docs/submit-images.md, fairness)."""
from __future__ import annotations

from typing import Any, Mapping

MARK = "†"
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


def mark_external(names: Mapping[str, str], methods: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """(display names with ``†`` after external rows, {method: note}) for the methods in ``names``."""
    notes = {m: external_note(m, methods[m]) for m in names if isinstance(methods.get(m), Mapping)
             and methods[m].get("external")}
    return {m: f"{n} {MARK}" if m in notes else n for m, n in names.items()}, notes
