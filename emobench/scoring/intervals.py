"""Interval procedures at any level, and the p-value that is their dual.

Every interval the scorer prints is one of these, and a paired difference's p-value is the smallest α at
which its own (1 − α) interval leaves 0 out. So a Holm-corrected mark and the interval at the level Holm
tested that difference at can never disagree (``holm_levels``), and no p-value comes from another
approximation than the interval it sits beside.

* ``TInterval``: value ± t_ν · se (a Wald interval on a t reference; se and ν from the variance model in
  ``scoring.inference``), optionally clipped to the statistic's range (a proportion to [0, 1]).
* ``WilsonInterval``: the score interval of a proportion with (effective) sample size n; never zero-width. With
  ``parts`` (a learning method's fits), n is the effective n of their total variance and the quantile the
  components' own (below): Wilson's interval for clustered samples (Korn & Graubard 1998; Dean & Pagano 2015).
* ``ComponentsInterval``: value ± √(Σ t²_ν · v) over independent error components with their own df (a
  learning method's between-fit part on K − 1 df, the cells' part on theirs).
* ``MoverInterval``: a difference of two correlated estimates from their own intervals (Zou & Donner's MOVER;
  with Wilson components and the paired correlation it is Newcombe's hybrid score interval).

Each has ``spec()``, a small JSON-able dict from which ``from_spec`` rebuilds it (``summary.json`` keeps it,
so Holm's correction can be applied again when scores of other metrics are merged in).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.special import ndtr, ndtri, stdtr, stdtrit

P_FLOOR = 1e-300   # the smallest p-value reported
SEARCH_FLOOR = 1e-100   # the dual p-value's bisection stops here (far below any Holm threshold)


# The normal and t tails from scipy.special, bit for bit what scipy.stats' norm/t isf and sf compute (they call
# these): a warm re-score then never imports scipy.stats, which costs about 2 s of a finished run's resume.
def _t_isf(q: float, df: float) -> float:
    return float(-stdtrit(df, q))


def _t_sf(x: float, df: float) -> float:
    return float(stdtr(df, -x))


def _norm_isf(q: float) -> float:
    return float(-ndtri(q))


def _norm_sf(x: float) -> float:
    return float(ndtr(-x))


def _two_sided_q(alpha: float, df: float) -> float:
    """The (1 − α/2) quantile of t on ``df`` degrees of freedom (the normal's for infinite df); inf where it
    underflows far in the tail."""
    q = _t_isf(alpha / 2, df) if math.isfinite(df) else _norm_isf(alpha / 2)
    return q if math.isfinite(q) and q >= 0 else math.inf


def _scaled_variance(parts: tuple[tuple[float, float], ...], alpha: float) -> float:
    """Σ t²_{ν_i}(α) · v_i over independent components (variance, df): the squared half-width of their sum's
    interval (``ComponentsInterval``); nan when there is none or one is not a variance on positive df."""
    if not parts or not all(math.isfinite(v) and v >= 0 and d > 0 for v, d in parts):
        return math.nan
    half2 = 0.0
    for v, d in parts:
        if v > 0:
            q = _two_sided_q(alpha, d)
            half2 += q * q * v
    return half2


def _parts_spec(parts: tuple[tuple[float, float], ...]) -> list[list[float | str]]:
    return [[v, _num(d)] for v, d in parts]


def _parts_from(spec: list | None) -> tuple[tuple[float, float], ...]:
    return tuple((float(v), _float(d)) for v, d in spec or ())


class Interval:
    value: float
    procedure: str

    def bounds(self, alpha: float) -> tuple[float, float]:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        raise NotImplementedError

    def p_value(self) -> float:
        """Two-sided p for H0: the quantity is 0 — the smallest α whose interval excludes 0 (bisection on log α;
        every procedure here narrows monotonically as α grows)."""
        lo, hi = self.bounds(1.0 - 1e-12)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 0.0 <= hi:
            return 1.0 if math.isfinite(lo) else math.nan
        a, b = math.log(SEARCH_FLOOR), 0.0          # excluded at α = 1, find where 0 enters
        lo, hi = self.bounds(SEARCH_FLOOR)
        if not (lo <= 0.0 <= hi):
            return SEARCH_FLOOR
        for _ in range(80):
            mid = (a + b) / 2
            lo, hi = self.bounds(math.exp(mid))
            if lo <= 0.0 <= hi:
                a = mid
            else:
                b = mid
        return math.exp(b)


@dataclass
class TInterval(Interval):
    value: float
    se: float
    df: float
    low: float = -math.inf     # the statistic's range (clip)
    high: float = math.inf
    procedure: str = "t"

    def bounds(self, alpha: float) -> tuple[float, float]:
        if not (math.isfinite(self.se) and self.se >= 0 and self.df > 0):
            return (math.nan, math.nan)
        q = _two_sided_q(alpha, self.df)
        return (max(self.low, self.value - q * self.se), min(self.high, self.value + q * self.se))

    def p_value(self) -> float:
        if not (math.isfinite(self.se) and self.df > 0):
            return math.nan
        if self.se == 0:
            return 1.0 if self.value == 0 else P_FLOOR
        z = abs(self.value) / self.se
        p = 2 * (_t_sf(z, self.df) if math.isfinite(self.df) else _norm_sf(z))
        return max(P_FLOOR, min(1.0, p))

    def spec(self) -> dict[str, Any]:
        return {"procedure": self.procedure, "value": self.value, "se": self.se, "df": _num(self.df),
                "low": _num(self.low), "high": _num(self.high)}


def wilson(p: float, n: float, alpha: float, z: float | None = None) -> tuple[float, float]:
    """Wilson's score interval of a proportion p̂ = ``p`` from ``n`` (possibly effective) trials; ``z`` replaces
    the normal quantile (a t-type one for an n estimated on few degrees of freedom)."""
    if not (n > 0 and 0.0 <= p <= 1.0):
        return (math.nan, math.nan)
    z = _norm_isf(alpha / 2) if z is None else z
    if not math.isfinite(z):
        return (0.0, 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class WilsonInterval(Interval):
    """Wilson's score interval. With ``parts`` — a learner's independent error components (variance, df), as in
    ``ComponentsInterval`` — n is the effective n of their sum, p̂(1 − p̂)/Σv, and the quantile at α is theirs,
    √(Σ t²_ν·v / Σv): the score interval's skew toward 1/2 near 0 or 1 with the fit part's few degrees of
    freedom. A t interval of the same variance is symmetric and, at 4 cells per emotion where a learner's 10
    fits mostly get all four right, the cells that would show its misses are rarely drawn (it covered 89 %)."""

    value: float
    n: float                   # trials, or the effective number of a stratified proportion
    procedure: str = "Wilson score"
    parts: tuple[tuple[float, float], ...] = ()

    def bounds(self, alpha: float) -> tuple[float, float]:
        if not self.parts:
            return wilson(self.value, self.n, alpha)
        total = sum(v for v, _ in self.parts)
        half2 = _scaled_variance(self.parts, alpha)
        if not (total > 0 and math.isfinite(half2)):
            return (math.nan, math.nan)
        return wilson(self.value, self.n, alpha, math.sqrt(half2 / total))

    def spec(self) -> dict[str, Any]:
        out = {"procedure": self.procedure, "value": self.value, "n": self.n}
        if self.parts:
            out["parts"] = _parts_spec(self.parts)
        return out


@dataclass
class MoverInterval(Interval):
    """a − b from intervals of a and b and the correlation r of the two estimates (Zou & Donner 2008)."""

    a: Interval
    b: Interval
    r: float
    procedure: str = "Newcombe hybrid score (paired)"

    @property
    def value(self) -> float:   # type: ignore[override]
        return self.a.value - self.b.value

    def bounds(self, alpha: float) -> tuple[float, float]:
        la, ua = self.a.bounds(alpha)
        lb, ub = self.b.bounds(alpha)
        if not all(math.isfinite(x) for x in (la, ua, lb, ub)):
            return (math.nan, math.nan)
        ea, eb = self.a.value, self.b.value
        r = self.r if math.isfinite(self.r) else 0.0
        dl = (ea - la) ** 2 + (ub - eb) ** 2 - 2 * r * (ea - la) * (ub - eb)
        du = (ua - ea) ** 2 + (eb - lb) ** 2 - 2 * r * (ua - ea) * (eb - lb)
        d = ea - eb
        return (d - math.sqrt(max(dl, 0.0)), d + math.sqrt(max(du, 0.0)))

    def spec(self) -> dict[str, Any]:
        return {"procedure": self.procedure, "a": self.a.spec(), "b": self.b.spec(), "r": self.r}


@dataclass
class ComponentsInterval(Interval):
    """value ± √(Σ_i t²_{ν_i} · v_i): a sum of independent error components, each with its own variance estimate
    v_i on ν_i degrees of freedom, each scaled by its own t quantile (the method of variance estimates
    recovery, Zou 2009, for a sum). A learning method's between-fit part has K − 1 degrees of freedom and
    its t quantile does not borrow the cells' many: one Welch–Satterthwaite df for the sum, computed from
    the same noisy between-fit variance, narrows the interval exactly when that variance came out small
    (measured: 87–91 % coverage with two fits, benchmarks/RESULTS.md)."""

    value: float
    parts: tuple[tuple[float, float], ...]     # (variance, df); df may be inf (normal quantile)
    low: float = -math.inf
    high: float = math.inf
    procedure: str = "t per component"

    def bounds(self, alpha: float) -> tuple[float, float]:
        half2 = _scaled_variance(self.parts, alpha)
        if not math.isfinite(half2):
            return (math.nan, math.nan)
        half = math.sqrt(half2)
        return (max(self.low, self.value - half), min(self.high, self.value + half))

    def spec(self) -> dict[str, Any]:
        return {"procedure": self.procedure, "value": self.value, "parts": _parts_spec(self.parts),
                "low": _num(self.low), "high": _num(self.high)}


def from_spec(spec: dict[str, Any] | None) -> Interval | None:
    """The interval a ``spec()`` dict describes (None for None or an unknown procedure)."""
    if not isinstance(spec, dict):
        return None
    if "se" in spec:
        return TInterval(float(spec["value"]), float(spec["se"]), _float(spec.get("df")), _float(spec.get("low"), -1),
                         _float(spec.get("high"), 1), str(spec.get("procedure", "t")))
    if "n" in spec:
        return WilsonInterval(float(spec["value"]), float(spec["n"]), str(spec.get("procedure", "Wilson score")),
                              _parts_from(spec.get("parts")))
    if "parts" in spec:
        return ComponentsInterval(float(spec["value"]), _parts_from(spec["parts"]),
                                  _float(spec.get("low"), -1), _float(spec.get("high"), 1),
                                  str(spec.get("procedure", "t per component")))
    if "a" in spec and "b" in spec:
        a, b = from_spec(spec["a"]), from_spec(spec["b"])
        if a is None or b is None:
            return None
        return MoverInterval(a, b, float(spec.get("r", 0.0)), str(spec.get("procedure", "Newcombe hybrid score (paired)")))
    return None


def holm_levels(p_values: list[float], alpha: float) -> list[float]:
    """The level at which Holm's step-down tests each hypothesis: α/(m − rank) up to the first one it keeps,
    and that level for every later one. The (1 − level) interval of a difference then excludes 0 exactly when
    its Holm-adjusted p is below α (nan p: nan level)."""
    finite = [i for i, p in enumerate(p_values) if math.isfinite(p)]
    order = sorted(finite, key=lambda i: p_values[i])
    m = len(order)
    out = [math.nan] * len(p_values)
    level = alpha
    stopped = False
    for rank, i in enumerate(order):
        if not stopped:
            level = alpha / (m - rank)
            stopped = p_values[i] >= level
        out[i] = level
    return out


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")


def _float(x: Any, sign: int = 1) -> float:
    if x is None:
        return math.inf * sign
    return float(x)
