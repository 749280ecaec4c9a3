"""Does a leaderboard order the methods as a paper's reported table does? Kendall's τ-b per shared column, with a
bootstrap interval over cells and fits.

For every reference table of the run's track (``emobench.spec.protocol.REFERENCES``), the methods both report
(matched by display name; ``reported.ALIASES`` maps a paper's names, e.g. "SD-1.5", to emobench's) and every
column both hold: τ-b between the run's pooled values and the reported ones. Its interval resamples what the
run's values rest on, as the scorer does: per emotion the run's cells with replacement (the same draws for every
method), and for a method fitted K times its K fits with replacement (each method its own draw); each resample
recomputes every method's pooled mean from the per-image rows of ``scores.csv`` (fits from the manifest's
``fit_seed``) and τ-b against the fixed reported values. A set statistic (FID, LPIPS, Sem-D) has no per-image
rows: its τ is the point value with no interval. The reported table is one draw of each paper method and carries
no uncertainty of its own here; with four methods τ moves in steps of 1/3, so the interval is coarse.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from importlib import resources

import numpy as np
from scipy import stats

from emobench.spec.protocol import REFERENCES
from emobench.report.reference import REFERENCE_TABLES
from emobench.report.reported import ALIASES
from emobench.rundir.results import RunData, is_control
from emobench.rundir.layout import ALL
from emobench.scoring.stats import BootstrapConfig, draw_weights


@dataclass
class Agreement:
    reference: str            # protocol key of the reported table
    source: str
    metric: str
    methods: list[str]        # display names, in the run's order
    run_values: list[float]
    reported: list[float]
    tau: float
    ci_low: float
    ci_high: float
    n_resamples: int
    note: str = ""

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def _reported(key: str) -> dict[str, dict[str, float]]:
    text = resources.files("emobench.report").joinpath(REFERENCE_TABLES[key]).read_text()
    alias = ALIASES.get(key, {})
    out = {}
    for rec in csv.DictReader(io.StringIO(text)):
        out[alias.get(rec["method"], rec["method"])] = {
            k: float(v) for k, v in rec.items() if k != "method" and not k.endswith("_reported") and v not in ("", None)}
    return out


def tau_b(x, y) -> float:
    t = stats.kendalltau(x, y).statistic   # τ-b (ties in either ranking corrected)
    return float(t) if t is not None else math.nan


def _per_image(run: RunData, metric: str, methods: list[str]) -> dict[str, dict[int | None, dict[tuple, float]]]:
    """method → fit → {(emotion, cell id): value} from scores.csv, cells and fits read from the manifest."""
    by_key = {r.key: r for r in run.records}
    s = run.scores
    if s.empty:
        return {}
    s = s[(s["metric"] == metric) & s["method"].isin(methods)]
    out: dict[str, dict[int | None, dict[tuple, float]]] = {}
    for method, key, value in zip(s["method"], s["key"], s["value"]):
        rec = by_key.get(str(key))
        if rec is None or not math.isfinite(float(value)):
            continue
        out.setdefault(str(method), {}).setdefault(rec.fit_seed, {})[(rec.emotion, rec.cell.cell_id)] = float(value)
    return out


def _resampled_means(rows: dict[str, dict[int | None, dict[tuple, float]]], methods: list[str],
                     cfg: BootstrapConfig) -> np.ndarray:
    """``[1 + B, len(methods)]``: the point means (row 0) and each resample's, cells × fits."""
    cells: dict[str, list[str]] = {}
    for fits in rows.values():
        for values in fits.values():
            for emotion, cell in values:
                cells.setdefault(emotion, []).append(cell)
    cells = {e: sorted(set(c)) for e, c in sorted(cells.items())}
    index = {(e, c): (e, i) for e, cs in cells.items() for i, c in enumerate(cs)}
    draws = {e: np.vstack([np.ones(len(cs)), draw_weights(len(cs), f"agree|{e}", cfg).numpy()]) for e, cs in cells.items()}
    out = np.empty((1 + cfg.n_resamples, len(methods)))
    for j, m in enumerate(methods):
        per_fit = []
        for fit in sorted(rows[m], key=lambda f: -1 if f is None else f):
            num = np.zeros(1 + cfg.n_resamples)
            den = np.zeros(1 + cfg.n_resamples)
            for (emotion, cell), v in rows[m][fit].items():
                e, i = index[(emotion, cell)]
                num += draws[e][:, i] * v
                den += draws[e][:, i]
            with np.errstate(invalid="ignore", divide="ignore"):
                per_fit.append(num / den)
        per_fit_arr = np.stack(per_fit, 1)                                     # [1 + B, K]
        k = per_fit_arr.shape[1]
        wf = np.vstack([np.ones(k), draw_weights(k, f"agree-fits|{m}", cfg).numpy()]) if k > 1 else np.ones((1 + cfg.n_resamples, 1))
        out[:, j] = (wf * per_fit_arr).sum(1) / wf.sum(1)
    return out


def agreements(run: RunData, resamples: int = 1000, seed: int = 0) -> list[Agreement]:
    """τ-b of the run against every reference table of its track, per shared column."""
    track = str(run.protocol.get("track") or "emotion")
    cfg = BootstrapConfig(n_resamples=resamples, seed=seed)
    ranked = [m for m in run.method_names() if not is_control(m) and run.status(m)[0] == "ok"
              and not run.methods.get(m, {}).get("control")]
    s = run.summary
    pooled = s[(s["emotion"] == ALL) & (s["status"] == "ok")]
    out = []
    for ref in REFERENCES.values():
        if ref.track != track:
            continue
        table = _reported(ref.key)
        shared = [m for m in ranked if run.display_name(m) in table]
        columns = sorted({c for v in table.values() for c in v} & set(pooled["metric"]))
        for col in columns:
            have = [m for m in shared if col in table[run.display_name(m)]
                    and not pooled[(pooled["method"] == m) & (pooled["metric"] == col)].empty]
            names = [run.display_name(m) for m in have]
            rep = [table[n][col] for n in names]
            vals = [float(pooled[(pooled["method"] == m) & (pooled["metric"] == col)]["value"].iloc[0]) for m in have]
            if len(have) < 3:
                out.append(Agreement(ref.key, ref.source, col, names, vals, rep, math.nan, math.nan, math.nan, 0,
                                     f"{len(have)} shared method(s): τ needs at least 3"))
                continue
            tau = tau_b(vals, rep)
            rows = _per_image(run, col, have)
            if set(rows) != set(have):
                out.append(Agreement(ref.key, ref.source, col, names, vals, rep, tau, math.nan, math.nan, 0,
                                     "a set statistic (no per-image rows in scores.csv): no interval"))
                continue
            means = _resampled_means(rows, have, cfg)
            taus = np.array([tau_b(row, rep) for row in means[1:]])
            taus = taus[np.isfinite(taus)]
            lo, hi = (np.percentile(taus, [2.5, 97.5]) if taus.size else (math.nan, math.nan))
            out.append(Agreement(ref.key, ref.source, col, names, vals, rep, tau, float(lo), float(hi), resamples))
    return out


def to_markdown(items: list[Agreement]) -> str:
    lines = ["| reference | column | methods | τ-b | 95% interval (cells × fits) | note |",
             "|---|---|---|:---:|:---:|---|"]
    for a in items:
        ci = "–" if math.isnan(a.ci_low) else f"[{a.ci_low:+.2f}, {a.ci_high:+.2f}]"
        tau = "–" if math.isnan(a.tau) else f"{a.tau:+.2f}"
        lines.append(f"| `{a.reference}` | {a.metric} | {', '.join(a.methods)} | {tau} | {ci} | {a.note} |")
    return "\n".join(lines) + "\n"
