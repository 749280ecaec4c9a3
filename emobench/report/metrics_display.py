"""How each metric is shown: label, direction, number format. One table, used by the leaderboard, HTML and figures.

Metric names are the keys metrics write into ``summary.csv``; a few aliases are accepted so that a metric
plugin that spells its name differently (``emo_a``, ``clip_score``) still lands in the right column.
Unknown metrics are shown after the known ones, with their direction taken from the metric plugin when it
can be found, so a stranger's metric is reported rather than dropped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class MetricSpec:
    key: str                         # canonical name in summary.csv
    label: str                       # column title without the arrow
    higher_is_better: bool | None    # None: no direction known, no "best" mark
    decimals: int                    # fixed decimals so bytes do not depend on the value's magnitude
    percent: bool = False            # stored as a fraction, shown as a percentage (Emo-A, as in the paper)

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


# The leaderboard's fixed column order (issue 7): FID, KID, LPIPS, Emo-A, Sem-C, Sem-D, CLIP score.
KNOWN: tuple[MetricSpec, ...] = (
    MetricSpec("fid", "FID", False, 2),
    MetricSpec("kid", "KID", False, 4),
    MetricSpec("lpips", "LPIPS", True, 3),
    MetricSpec("emo-a", "Emo-A", True, 1, percent=True),
    MetricSpec("sem-c", "Sem-C", True, 3),
    MetricSpec("sem-d", "Sem-D", True, 4),
    MetricSpec("clip-score", "CLIP score", True, 3),
)
# Secondary columns some metrics add (shown in a "further metrics" table, not in the headline one).
SECONDARY: tuple[MetricSpec, ...] = (
    MetricSpec("emo-a.p_target", "Emo-A p(target)", True, 3),
    MetricSpec("sem-d-cos", "Sem-D (cos)", True, 4),
)
_BY_KEY = {m.key: m for m in KNOWN + SECONDARY}
MAIN_KEYS = frozenset(m.key for m in KNOWN)
_ALIASES = {
    "emo_a": "emo-a", "emoa": "emo-a", "emotion-accuracy": "emo-a", "emotion_accuracy": "emo-a",
    "sem_c": "sem-c", "semc": "sem-c", "semantic-clarity": "sem-c",
    "sem_d": "sem-d", "semd": "sem-d", "semantic-diversity": "sem-d",
    "clip_score": "clip-score", "clipscore": "clip-score", "clip": "clip-score",
}


def canonical(name: str) -> str:
    low = name.strip().lower()
    return _ALIASES.get(low, low)


def _plugin_direction(name: str) -> bool | None:
    """``higher_is_better`` of the installed metric plugin called ``name``, if any."""
    try:
        eps = metadata.entry_points(group="emobench.metrics")
    except Exception:  # pragma: no cover - broken metadata is not the report's business
        return None
    for ep in eps:
        if ep.name == name:
            try:
                return bool(getattr(ep.load(), "higher_is_better"))
            except Exception:  # a plugin that fails to import still gets a column, just no "best" mark
                return None
    return None


def spec_for(name: str, higher_is_better: bool | None = None) -> MetricSpec:
    key = canonical(name)
    if key in _BY_KEY:
        return _BY_KEY[key]
    direction = higher_is_better
    if direction is None:  # "metric.column" extra columns share their metric's direction
        base = key.split(".", 1)[0]
        direction = _BY_KEY[base].higher_is_better if base in _BY_KEY else _plugin_direction(base)
    return MetricSpec(key, key, direction, 4)


def ordered_specs(names: list[str], directions: dict[str, bool] | None = None) -> list[MetricSpec]:
    """Known metrics in the fixed order, then secondary columns, then any others alphabetically."""
    directions = {canonical(k): v for k, v in (directions or {}).items()}
    present = {canonical(n) for n in names}
    out = [m for m in KNOWN + SECONDARY if m.key in present]
    out += [spec_for(k, directions.get(k)) for k in sorted(present) if k not in _BY_KEY]
    return out


def is_main(spec: MetricSpec) -> bool:
    """The headline columns of the leaderboard (FID … CLIP score); others go to "further metrics"."""
    return spec.key in MAIN_KEYS
