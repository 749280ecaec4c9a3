"""``emobench human analyze STORE``: what the votes say, EmoGen Table 2 style, with the statistics it lacked.

- Rater quality: attention-check pass rate; a rater who passed fewer than ``min_pass`` of the checks they
  answered is excluded from everything below (raters who answered no check are kept and flagged).
- Preference % per method pair and question, with a 95 % interval from a bootstrap over raters (votes of
  one rater are not independent) and the ± std over raters that papers report.
- Bradley–Terry strengths per question (``choix``, I-LSR), 95 % intervals from the same rater bootstrap.
- Krippendorff's α per question (nominal; unit = task, value = the side chosen) over kept raters.
- Metric–human agreement: per automatic metric and question, the share of tasks where the metric prefers the
  side the human majority chose (ties skipped), and Kendall's τ between the metric's and the humans'
  method rankings.
Only "pair" and "set" tasks are measured; the attention checks only grade raters.
"""
from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emobench.human.store import Vote, VoteStore
from emobench.human.tasks import QUESTIONS, Task, winner

MIN_PASS = 0.8
EXCLUSION_RULE = ("a rater is excluded when they passed fewer than {:.0%} of the attention checks they answered "
                  "(a control: the real image must win the emotion question; a repeat: the same method must win "
                  "as in the rater's first answer to that pair, whose sides were swapped); raters who answered no check are kept, flagged")


@dataclass
class RaterQuality:
    rater: str
    n_votes: int
    n_checks: int
    n_passed: int
    pass_rate: float          # nan when no check answered
    excluded: bool


@dataclass
class Preference:
    question: str
    method: str               # the side whose preference is given (the higher Bradley–Terry strength)
    opponent: str
    n_votes: int
    n_raters: int
    preference: float         # share of votes for ``method``
    ci_low: float
    ci_high: float
    std_raters: float         # std over raters of their own preference share (the papers' "± std")


@dataclass
class Strength:
    question: str
    method: str
    strength: float           # Bradley–Terry log-strength, mean 0 over methods
    ci_low: float
    ci_high: float
    rank: int


@dataclass
class Agreement:
    question: str
    metric: str
    n_tasks: int
    agree: float              # share of tasks where the metric picks the human-majority side
    kendall_tau: float        # between the metric's and the humans' (Bradley–Terry) method rankings
    n_methods: int


@dataclass
class HumanAnalysis:
    n_votes: int
    n_raters: int
    n_kept: int
    rule: str
    raters: list[RaterQuality]
    preferences: list[Preference]
    strengths: list[Strength]
    alpha: dict[str, dict[str, float]]
    agreement: list[Agreement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    display_names: dict[str, str] = field(default_factory=dict)   # method id → the name its plugin declared
    emotions: list[str] = field(default_factory=list)             # the study's emotions (fill "{emotion}")

    def name(self, method: str) -> str:
        return self.display_names.get(method, method)

    def to_dict(self) -> dict[str, Any]:
        def clean(x):
            if isinstance(x, float):
                return None if math.isnan(x) else round(x, 6)
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x
        return clean(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n"


# ------------------------------------------------------------------------------------------- rater quality

def rater_quality(tasks: dict[str, Task], votes: list[Vote], min_pass: float = MIN_PASS) -> list[RaterQuality]:
    side: dict[tuple[str, str, str], str] = {(v.rater, v.task_id, v.question): winner(v.choice, v.shown_order)
                                             for v in votes}
    out = []
    for rater in sorted({v.rater for v in votes}):
        mine = [v for v in votes if v.rater == rater]
        checks = passed = 0
        for v in mine:
            t = tasks[v.task_id]
            won = side[(rater, v.task_id, v.question)]
            if t.kind == "control" and v.question == "emotion":
                checks, passed = checks + 1, passed + (won == "A")   # side A is the real image
            elif t.kind == "repeat" and (rater, t.of, v.question) in side:
                checks, passed = checks + 1, passed + (won == side[(rater, t.of, v.question)])
        rate = passed / checks if checks else math.nan
        out.append(RaterQuality(rater, len(mine), checks, passed, rate, bool(checks) and rate < min_pass))
    return out


# ------------------------------------------------------------------------------------------ measured votes

@dataclass
class _Duel:
    rater: int
    question: str
    win: str
    lose: str
    task_id: str


def _duels(tasks: dict[str, Task], votes: list[Vote], kept: set[str]) -> tuple[list[_Duel], list[str]]:
    raters = sorted(kept)
    index = {r: i for i, r in enumerate(raters)}
    out = []
    for v in votes:
        t = tasks[v.task_id]
        if v.rater not in kept or t.kind not in ("pair", "set"):
            continue
        w = winner(v.choice, v.shown_order)
        a, b = (t.method_a, t.method_b) if w == "A" else (t.method_b, t.method_a)
        out.append(_Duel(index[v.rater], v.question, a, b, t.task_id))
    return out, raters


def _bt(methods: list[str], duels: list[_Duel], weights: np.ndarray | None = None) -> np.ndarray:
    import choix

    idx = {m: i for i, m in enumerate(methods)}
    data = []
    for d in duels:
        reps = 1 if weights is None else int(weights[d.rater])
        data += [(idx[d.win], idx[d.lose])] * reps
    if not data:
        return np.full(len(methods), math.nan)
    # A small ridge (alpha) keeps the estimate finite when one method never loses (common in small studies).
    return np.asarray(choix.ilsr_pairwise(len(methods), data, alpha=0.01), dtype=float)


def _alpha(duels_q: list[_Duel], tasks: dict[str, Task], n_raters: int) -> dict[str, float]:
    import krippendorff

    units = sorted({d.task_id for d in duels_q})
    col = {u: j for j, u in enumerate(units)}
    data = np.full((n_raters, len(units)), np.nan)
    for d in duels_q:
        data[d.rater, col[d.task_id]] = 0.0 if d.win == tasks[d.task_id].method_a else 1.0
    pairable = int((np.sum(~np.isnan(data), axis=0) >= 2).sum())
    try:
        value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")) if pairable else math.nan
    except (ValueError, ZeroDivisionError):
        value = math.nan   # one value only (everyone always chose the same side): α is undefined
    return {"alpha": value, "n_units": float(pairable), "n_raters": float(len({d.rater for d in duels_q}))}


def analyze(store: VoteStore, *, min_pass: float = MIN_PASS, n_boot: int = 1000, seed: int = 0,
            run_dir: str | Path | None = None) -> HumanAnalysis:
    tasks = {t.task_id: t for t in store.tasks()}
    votes = [v for v in store.votes() if v.task_id in tasks]
    quality = rater_quality(tasks, votes, min_pass)
    kept = {q.rater for q in quality if not q.excluded}
    duels, raters = _duels(tasks, votes, kept)
    methods = sorted({t.method_a for t in tasks.values() if t.kind in ("pair", "set")}
                     | {t.method_b for t in tasks.values() if t.kind in ("pair", "set")})
    rng = np.random.default_rng(seed)
    # Rater bootstrap: each resample draws raters with replacement; a rater's weight is how often drawn.
    boot_w = rng.multinomial(len(raters), np.full(len(raters), 1 / len(raters)), size=n_boot) if raters else \
        np.zeros((0, 0), dtype=int)
    n_bt_boot = min(n_boot, 200)   # each BT resample is one I-LSR fit; 200 percentiles are stable enough

    strengths: list[Strength] = []
    preferences: list[Preference] = []
    alpha: dict[str, dict[str, float]] = {}
    bt_point: dict[str, dict[str, float]] = {}
    questions = [q for q in QUESTIONS if any(d.question == q for d in duels)]
    notes: list[str] = []
    for q in questions:
        dq = [d for d in duels if d.question == q]
        # a method never compared on this question has no strength, so no rank, and stays out of τ
        compared = [m for m in methods if any(m in (d.win, d.lose) for d in dq)]
        if len(compared) < len(methods):
            notes.append(f"{', '.join(m for m in methods if m not in compared)}: no comparison on the {q} "
                         "question; no Bradley–Terry strength or rank, and left out of Kendall's τ")
        point = _bt(compared, dq)
        boots = (np.array([_bt(compared, dq, boot_w[i]) for i in range(n_bt_boot)])
                 if n_bt_boot and len({d.rater for d in dq}) > 1 else None)
        order = np.argsort(-point, kind="stable")
        bt_point[q] = {m: float(point[i]) for i, m in enumerate(compared)}
        for rank, i in enumerate(order, start=1):
            lo, hi = (np.nanpercentile(boots[:, i], [2.5, 97.5]) if boots is not None and len(boots)
                      else (math.nan, math.nan))
            strengths.append(Strength(q, compared[i], float(point[i]), float(lo), float(hi), rank))
        rows_q: list[Preference] = []
        for m1, m2 in itertools.combinations(compared, 2):
            m, o = (m1, m2) if bt_point[q][m1] >= bt_point[q][m2] else (m2, m1)
            wins = np.zeros(len(raters))
            total = np.zeros(len(raters))
            for d in dq:
                if {d.win, d.lose} == {m, o}:
                    total[d.rater] += 1
                    wins[d.rater] += d.win == m
            if total.sum() == 0:
                continue
            share = float(wins.sum() / total.sum())
            bw, bt = boot_w @ wins, boot_w @ total
            ok = bt > 0
            # One rater has no between-rater spread to resample: no interval rather than a zero-width one.
            lo, hi = (np.percentile(bw[ok] / bt[ok], [2.5, 97.5]) if ok.any() and (total > 0).sum() > 1
                      else (math.nan, math.nan))
            per_rater = wins[total > 0] / total[total > 0]
            std = float(per_rater.std(ddof=1)) if len(per_rater) > 1 else math.nan
            rows_q.append(Preference(q, m, o, int(total.sum()), int((total > 0).sum()), share,
                                     float(lo), float(hi), std))
        # Table 2 layout: the strongest method's comparisons first.
        rank = {compared[i]: r for r, i in enumerate(order)}
        preferences += sorted(rows_q, key=lambda p: (rank[p.method], rank[p.opponent]))
        alpha[q] = _alpha(dq, tasks, len(raters))
    analysis = HumanAnalysis(n_votes=len(votes), n_raters=len(quality), n_kept=len(kept),
                             rule=EXCLUSION_RULE.format(min_pass), raters=quality, preferences=preferences,
                             strengths=strengths, alpha=alpha, notes=notes,
                             emotions=sorted({t.emotion for t in tasks.values()}))
    analysis.display_names = _display_names(run_dir or store.meta().get("run_dir"))
    if not votes:
        analysis.notes.append("the store holds no votes yet: rate with `emobench human serve RUN` or import "
                              "a platform's CSV with `emobench human import FILE --store STORE`")
        return analysis
    run_dir = run_dir or store.meta().get("run_dir")
    analysis.agreement, notes = metric_agreement(run_dir, tasks, duels, bt_point)
    analysis.notes += notes
    return analysis


def _display_names(run_dir: str | Path | None) -> dict[str, str]:
    """The names the run's plugins declared (methods.json), so tables say "Stable Diffusion", not "sd"."""
    from emobench.rundir.layout import read_methods

    if not run_dir or not Path(run_dir).is_dir():
        return {}
    try:
        return {m: str(i["display_name"]) for m, i in read_methods(run_dir).items() if i.get("display_name")}
    except (OSError, ValueError):
        return {}


# ---------------------------------------------------------------------------------- metric–human agreement

def metric_agreement(run_dir: str | Path | None, tasks: dict[str, Task], duels: list[_Duel],
                     bt_point: dict[str, dict[str, float]]) -> tuple[list[Agreement], list[str]]:
    from scipy.stats import kendalltau

    from emobench.errors import EmobenchError
    from emobench.rundir.results import is_control, load_run

    if not run_dir or not Path(run_dir).is_dir():
        return [], [f"metric agreement skipped: run directory {run_dir} not found (pass --run RUN)"]
    try:
        run = load_run(run_dir)
    except EmobenchError as err:
        return [], [f"metric agreement skipped: {err}"]
    if run.scores.empty:
        return [], [f"metric agreement skipped: {run_dir} has no per-image scores (scores.csv)"]
    per_image = {(k, m): float(v) for k, m, v in run.scores[["key", "metric", "value"]].itertuples(index=False)}
    s = run.summary[(run.summary["status"] == "ok") & ~run.summary["method"].map(is_control)]
    per_set = {(me, mt, e): float(v) for me, mt, e, v in s[["method", "metric", "emotion", "value"]].itertuples(index=False)}
    metrics = sorted(set(run.scores["metric"]) | set(s["metric"]))

    majority: dict[tuple[str, str], str] = {}
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for d in duels:
        t = tasks[d.task_id]
        tally[(d.task_id, d.question)][0 if d.win == t.method_a else 1] += 1
    for key, (na, nb) in tally.items():
        if na != nb:
            majority[key] = "A" if na > nb else "B"

    out = []
    for q in sorted(bt_point, key=list(QUESTIONS).index):
        for metric in metrics:
            hib = run.metric_directions.get(metric, True)
            agree = n = 0
            for (tid, qq), side in majority.items():
                if qq != q:
                    continue
                t = tasks[tid]
                if t.kind == "pair":
                    va, vb = per_image.get((t.keys_a[0], metric)), per_image.get((t.keys_b[0], metric))
                else:
                    va, vb = per_set.get((t.method_a, metric, t.emotion)), per_set.get((t.method_b, metric, t.emotion))
                if va is None or vb is None or math.isnan(va) or math.isnan(vb) or va == vb:
                    continue
                pick = "A" if (va > vb) == hib else "B"
                n += 1
                agree += pick == side
            methods = sorted(bt_point[q])
            overall = [per_set.get((m, metric, "all")) for m in methods]
            tau = math.nan
            if all(v is not None and not math.isnan(v) for v in overall) and len(methods) >= 2:
                signed = [v if hib else -v for v in overall]
                tau = float(kendalltau(signed, [bt_point[q][m] for m in methods]).statistic)
            if n or not math.isnan(tau):
                out.append(Agreement(q, metric, n, agree / n if n else math.nan, tau, len(methods)))
    return out, []
