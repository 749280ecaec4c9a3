"""How each metric column is shown: label, direction, number format, place. Used by the leaderboard, HTML and figures.

The facts come from the run's ``summary.json`` (``"display"``: what each metric declares on its class, written
by the scorer), so the report loads no metric plugin and names none. A column with no recorded facts (a run
scored before they were recorded, or an extra column its metric did not describe) is shown under its own
name with 4 decimals, after the described ones, with its direction from ``summary.json``'s
``higher_is_better`` (an extra column ``metric.column`` shares its metric's).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class MetricSpec:
    key: str                         # the column's name in summary.csv
    label: str                       # column title without the arrow
    higher_is_better: bool | None    # None: no direction known, no "best" mark
    decimals: int                    # fixed decimals so bytes do not depend on the value's magnitude
    percent: bool = False            # stored as a fraction, shown as a percentage (Emo-A, as in the paper)
    headline: bool = False           # a column of the leaderboard's main table
    order: int | None = None         # place among described columns; None: not described (shown last)

    @property
    def title(self) -> str:
        arrow = {True: "↑", False: "↓", None: ""}[self.higher_is_better]
        return f"{self.label}{arrow}"

    def fmt(self, value: float | None, signed: bool = False) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        v = value * 100 if self.percent else value
        text = f"{v:+.{self.decimals}f}" if signed else f"{v:.{self.decimals}f}"
        if float(text) == 0.0:  # no "-0.000" / "+0.000": a rounded zero has no sign
            text = f"{0.0:.{self.decimals}f}"
        return text + ("%" if self.percent else "")


def spec_for(name: str, display: Mapping[str, Mapping[str, Any]] | None = None,
             directions: Mapping[str, bool] | None = None) -> MetricSpec:
    """The column ``name`` as ``display`` (``summary.json``'s facts) describes it, or a plain default."""
    facts = (display or {}).get(name)
    if facts:
        return MetricSpec(name, str(facts.get("label") or name), facts.get("higher_is_better"),
                          int(facts.get("decimals", 4)), bool(facts.get("percent", False)),
                          bool(facts.get("headline", False)), int(facts.get("order", 100)))
    directions = directions or {}
    direction = directions.get(name, directions.get(name.split(".", 1)[0]))
    return MetricSpec(name, name, direction, 4)


def ordered_specs(names: list[str], display: Mapping[str, Mapping[str, Any]] | None = None,
                  directions: Mapping[str, bool] | None = None) -> list[MetricSpec]:
    """Headline columns by their declared order, then the other described columns, then the rest by name."""
    specs = [spec_for(n, display, directions) for n in sorted(set(names))]
    if not display:  # a run scored before display facts were recorded: every column is a headline one
        specs = [dataclasses.replace(s, headline=True) for s in specs]
    return sorted(specs, key=lambda s: (s.order is None, not s.headline, s.order or 0, s.key))


def is_main(spec: MetricSpec) -> bool:
    """The headline columns of the leaderboard; others go to "further metrics"."""
    return spec.headline
