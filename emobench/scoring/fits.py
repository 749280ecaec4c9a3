"""Several fits of one learning method (``--fit-seeds K``): their series, grouped as one method's.

Each fit's images are scored as their own population member, labelled ``fit_label(method, fit_seed)``, on the
run's cells. ``group_fits`` collects a method's series per (column, emotion), in fit-seed order; the
method's value is the mean over its fits and its interval the random-effects interval of
``scoring.inference`` (fit-to-fit spread plus the cell variance the fits share). A series whose fits cover
different cells (a missing or corrupt image) is compared on the cells every member has.
"""
from __future__ import annotations

from typing import Any

from emobench.rundir.layout import FIT_SEP, fit_label, split_label  # noqa: F401  (the scorer's names for them)


def group_fits(series: dict[tuple[str, str, str], Any]) -> dict[tuple[str, str, str], list[tuple[int | None, Any]]]:
    """(method, column, emotion) → [(fit seed or None, series)], fits in seed order."""
    out: dict[tuple[str, str, str], list[tuple[int | None, Any]]] = {}
    for (label, col, emotion), s in series.items():
        base, fit = split_label(label)
        out.setdefault((base, col, emotion), []).append((fit, s))
    for parts in out.values():
        parts.sort(key=lambda p: -1 if p[0] is None else p[0])
    return out
