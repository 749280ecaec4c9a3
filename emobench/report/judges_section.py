"""The report's "Emotion judges" section: Emo-A by every judge of the panel, the judges' agreement, what a
method's ``trained_against`` judges are worth, and the bias audit.

Read from run files only (no plugin is loaded): the per-judge columns of ``summary.csv`` (display fact
``judge``), ``judges.json`` (the panel and κ tables, written by the ``emo-a-mean`` metric), ``methods.json``
(each method's ``trained_against`` and ``control``, recorded at run time), ``scores.csv`` (per-image values,
for the gap between the judges a method optimised against and the held-out ones) and ``audit.json``
(``emobench audit RUN``), when present.

A judge a method declares it optimised against is greyed for that method *and* marked with a dagger (†), so
the table reads the same printed in greyscale; the held-out judges are the ones that carry evidence.
"""
from __future__ import annotations

import html as _html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emobench.report.leaderboard import BoardEntry, BoardRow, Leaderboard, sig_mark
from emobench.report.metrics_display import MetricSpec
from emobench.rundir.results import RunData

DAGGER = "†"
N_BOOT = 2000
Z_ALPHA, Z_POWER = 1.959964, 0.841621   # two-sided 5 %, 80 % power


@dataclass
class JudgeCol:
    spec: MetricSpec
    name: str
    family: str
    primary: bool


@dataclass
class Gap:
    """A method's gain (vs the baseline, same cells) on the judges it optimised against minus its mean gain
    on the held-out judges, with a percentile bootstrap CI over cells."""

    method: str
    against: list[str]
    held_out: list[str]
    gain_against: float
    gain_held_out: float
    gap: float
    ci_low: float
    ci_high: float
    n_cells: int
    cells_needed: int | None   # cells for 80 % power at this gap and spread (None: the CI already excludes 0)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def judge_columns(run: RunData, lb: Leaderboard) -> list[JudgeCol]:
    out = []
    for s in lb.judge_specs:
        f = run.display.get(s.key) or {}
        out.append(JudgeCol(s, str(f.get("judge")), str(f.get("family", "")), bool(f.get("primary", False))))
    return out


def trained_against(run: RunData, method: str) -> list[str]:
    return [str(x) for x in (run.methods.get(method, {}).get("trained_against") or [])]


def greyed(run: RunData, method: str, col: JudgeCol) -> bool:
    """Whether ``method`` declared (methods.json) that it optimised against this column's judge: the rule of
    ``emobench.judges.is_trained_against`` (name, family, or "primary"), restated here because the report
    stays torch-free (tests check that the two agree)."""
    ta = set(trained_against(run, method))
    return col.name in ta or col.family in ta or (col.primary and "primary" in ta)


def _rows(lb: Leaderboard) -> list[BoardRow]:
    return [r for r in lb.rows if r.kind != "failed"] + lb.control_methods + lb.controls


def _fmt(spec: MetricSpec, e: BoardEntry | None, diff: bool) -> str:
    if e is None or not e.has_value:
        return "–"
    text = spec.fmt(e.value)
    if not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
        text += f" [{spec.fmt(e.ci_low)}, {spec.fmt(e.ci_high)}]"
    elif e.ci_note:
        text += f" ({e.ci_note})"
    if diff and not math.isnan(e.diff):
        mark = sig_mark(e.p_holm)
        text += f" (Δ {spec.fmt(e.diff, signed=True)}{' ' + mark if mark else ''})"
    return text


def gaps(run: RunData, lb: Leaderboard, seed: int = 0) -> list[Gap]:
    """For every method that declares judges of the panel in ``trained_against`` and has held-out ones too."""
    cols = judge_columns(run, lb)
    base = lb.baseline
    sc = run.scores
    if not base or sc.empty or not cols:
        return []
    out = []
    for r in lb.rows + lb.control_methods:
        if r.kind in ("failed", "baseline"):
            continue
        against = [c for c in cols if greyed(run, r.method, c)]
        held = [c for c in cols if c not in against]
        if not against or not held:
            continue

        def per_cell(method: str, cs: list[JudgeCol]):
            sel = sc[(sc["method"] == method) & sc["metric"].isin([c.spec.key for c in cs])]
            return sel.groupby(["emotion", "template", "seed"])["value"].mean()

        d_a = per_cell(r.method, against) - per_cell(base, against)
        d_h = per_cell(r.method, held) - per_cell(base, held)
        both = (d_a - d_h).dropna()
        if len(both) < 2:
            continue
        g = both.to_numpy(dtype=float)
        rng = np.random.default_rng(seed)
        boot = g[rng.integers(0, len(g), size=(N_BOOT, len(g)))].mean(1)
        lo, hi = (float(x) for x in np.quantile(boot, [0.025, 0.975]))
        sd = float(g.std(ddof=1))
        gap = float(g.mean())
        needed = None
        if lo <= 0 <= hi and gap > 0 and sd > 0:
            needed = int(math.ceil(((Z_ALPHA + Z_POWER) * sd / gap) ** 2))
        out.append(Gap(r.method, [c.name for c in against], [c.name for c in held],
                       float(d_a.dropna().mean()), float(d_h.dropna().mean()), gap, lo, hi, len(g), needed))
    return out


# ---------------------------------------------------------------- Markdown

def _agreement(run: RunData) -> dict[str, Any]:
    doc = _read(run.root / "judges.json")
    return doc if isinstance(doc, dict) else {}


def _kappa(x: Any) -> str:
    return "–" if x is None else f"{float(x):.2f}"


def _gap_text(g: Gap, spec: MetricSpec) -> str:
    held = ", ".join(f"`{h}`" for h in g.held_out)
    text = (f"`{g.method}` gains {spec.fmt(g.gain_against, signed=True)} on the judge(s) it optimised against "
            f"({', '.join(f'`{a}`' for a in g.against)}) and {spec.fmt(g.gain_held_out, signed=True)} on the "
            f"held-out {held}: gap {spec.fmt(g.gap, signed=True)} [{spec.fmt(g.ci_low, signed=True)}, "
            f"{spec.fmt(g.ci_high, signed=True)}] over {g.n_cells} cells.")
    if g.ci_low > 0:
        return text + " The held-out judges expose it: its gain is larger on the judge it optimised against."
    if g.cells_needed is not None:
        return text + (f" Not resolved at this n: a gap this size needs about {g.cells_needed} cells "
                       f"(80% power, 5% two-sided) — or more, independent held-out judges.")
    return text + " The held-out judges do not show a smaller gain."


def to_markdown(run: RunData, lb: Leaderboard) -> str:
    cols = judge_columns(run, lb)
    agree = _agreement(run)
    audit = _read(run.root / "audit.json")
    if not cols and not agree and not isinstance(audit, dict):
        return ""
    out = ["## Emotion judges", ""]
    if cols:
        out.append("Emo-A by every judge of the panel (95% CI; Δ vs the baseline, Holm-marked). "
                   f"{DAGGER} (greyed in HTML): a judge the method declares it was trained or guided against "
                   "(`trained_against`): its verdict on that method is not independent evidence; read the "
                   "held-out judges.")
        out.append("")
        header = ["Method", "n"] + [f"{c.spec.title}" + (" (primary)" if c.primary and "primary" not in c.spec.label
                                                            else "") for c in cols]
        body = []
        for r in _rows(lb):
            cells = []
            for c in cols:
                t = _fmt(c.spec, r.entries.get(c.spec.key), r.kind in ("method", "control-method"))
                cells.append(f"{t} {DAGGER}" if greyed(run, r.method, c) and t != "–" else t)
            body.append([f"`{r.method}`" + (" (control method)" if r.kind == "control-method" else ""),
                         str(r.n_images or "–")] + cells)
        out += _md_table(header, body)
        out.append("")
        heads = [r for r in lb.rows + lb.control_methods if r.kind != "failed" and trained_against(run, r.method)]
        for r in heads:
            held = [c for c in cols if not greyed(run, r.method, c)]
            vals = "; ".join(f"`{c.name}` {_fmt(c.spec, r.entries.get(c.spec.key), True)}" for c in held)
            out.append(f"- `{r.method}` (trained against: {', '.join(trained_against(run, r.method))}): "
                       f"held-out judges — {vals or 'none in this panel'}.")
        for g in gaps(run, lb):
            out.append(f"- {_gap_text(g, cols[0].spec)}")
        if heads:
            out.append("")
    methods = agree.get("methods") or {}
    if methods:
        names = [j["name"] for j in agree.get("judges", [])]
        pairs = [f"{a}|{b}" for i, a in enumerate(names) for b in names[i + 1:]]
        out.append("### Agreement between judges")
        out.append("")
        out.append("On the judged emotions of the same images (all emotions pooled): Cohen's κ per pair, Fleiss' κ "
                   "across the panel. 1 = the judges name the same emotion on every image, 0 = no more than chance. "
                   "Compare with the real-image control. Per requested emotion in `judges.json`.")
        out.append("")
        order = [r.method for r in _rows(lb)]
        body = [[f"`{m}`", str(methods[m].get("n", "–")), _kappa(methods[m].get("fleiss"))]
                + [_kappa((methods[m].get("cohen") or {}).get(p)) for p in pairs]
                for m in order if m in methods]
        out += _md_table(["Method", "n", "Fleiss κ"] + [f"κ {p.replace('|', ' / ')}" for p in pairs], body)
        out.append("")
    if isinstance(audit, dict) and audit.get("per_judge"):
        out += _audit_md(audit, [r.method for r in _rows(lb)])
    return "\n".join(out) + "\n"


def _audit_md(audit: dict[str, Any], order: list[str]) -> list[str]:
    out = ["### Bias audit (`emobench audit`)", "",
           "Per judge and method: Emo-A, polarity accuracy (judged emotion on the requested side), Emo-A on "
           "positive / negative targets; a judge better on one side shows the gap on every method.", ""]
    body = []
    for judge, doc in audit["per_judge"].items():
        ms = doc.get("methods", {})
        for m in [m for m in order if m in ms] + sorted(m for m in ms if m not in order):
            f = ms[m]
            body.append([f"`{judge}`", f"`{m}`", str(f.get("n", "–"))] + [
                "–" if f.get(k) is None else f"{float(f[k]):.3f}" if k != "pos_neg_gap" else f"{float(f[k]):+.3f}"
                for k in ("emo_a", "polarity_accuracy", "positive_accuracy", "negative_accuracy", "pos_neg_gap")])
    out += _md_table(["Judge", "Method", "n", "Emo-A", "polarity acc.", "positive", "negative", "gap"], body)
    out.append("")
    neutral = audit.get("neutral") or {}
    if neutral:
        out.append("Priors on neutral prompts (no emotion asked for; 1/8 = 0.125 = no prior): top judged emotion "
                   "and its share.")
        out.append("")
        body = [[f"`{prompt}`", f"`{j}`", str(f.get("n", "–")), str(f.get("top", "–")),
                 f"{float(f.get('top_share', 0)):.2f}", f"{float(f.get('positive_share', 0)):.2f}"]
                for prompt, per in neutral.items() for j, f in per.items()]
        out += _md_table(["Prompt", "Judge", "n", "top emotion", "top share", "positive share"], body)
        out.append("")
    return out


def _md_table(header: list[str], body: list[list[str]]) -> list[str]:
    esc = lambda t: str(t).replace("|", "\\|").replace("\n", " ")   # noqa: E731
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "|".join(["---"] + [":---:"] * (len(header) - 1)) + "|"]
    return lines + ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]


# ---------------------------------------------------------------- HTML

def _e(x: Any) -> str:
    return _html.escape(str(x))


def to_html(run: RunData, lb: Leaderboard) -> str:
    md = to_markdown(run, lb)
    if not md:
        return ""
    cols = judge_columns(run, lb)
    parts = ['<style>td.greyed{color:#9a9a9a;background:#f4f4f4}td.greyed .ci,td.greyed .diff{color:#aaa}'
             'p.gap{max-width:900px;font-size:13px}</style>', "<h2>Emotion judges</h2>"]
    if cols:
        parts.append(f'<p class="note">Emo-A by every judge of the panel (95% CI; Δ vs the baseline). Greyed and '
                     f'marked {DAGGER}: a judge the method declares it was trained or guided against '
                     "(<code>trained_against</code>); its verdict on that method is not independent evidence.</p>")
        head = "".join(["<th>Method</th>", "<th>n</th>"] + [f"<th>{_e(c.spec.title)}</th>" for c in cols])
        trs = []
        for r in _rows(lb):
            tds = [f"<td>{_e(r.method)}{' (control method)' if r.kind == 'control-method' else ''}</td>",
                   f"<td>{r.n_images or '–'}</td>"]
            for c in cols:
                e = r.entries.get(c.spec.key)
                g = greyed(run, r.method, c)
                if e is None or not e.has_value:
                    tds.append("<td>–</td>")
                    continue
                inner = _e(c.spec.fmt(e.value)) + (f" {DAGGER}" if g else "")
                if not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
                    inner += f' <span class="ci">[{_e(c.spec.fmt(e.ci_low))}, {_e(c.spec.fmt(e.ci_high))}]</span>'
                elif e.ci_note:
                    inner += f' <span class="ci">({_e(e.ci_note)})</span>'
                if r.kind in ("method", "control-method") and not math.isnan(e.diff):
                    inner += f'<span class="diff">Δ {_e(c.spec.fmt(e.diff, True))} {_e(sig_mark(e.p_holm))}</span>'
                cls = ' class="greyed" title="trained against this judge: not independent evidence"' if g else ""
                tds.append(f"<td{cls}>{inner}</td>")
            trs.append(f'<tr class="{r.kind}">' + "".join(tds) + "</tr>")
        parts.append(f'<div class="lbwrap"><table id="judges" class="lb"><thead><tr>{head}</tr></thead><tbody>'
                     + "".join(trs) + "</tbody></table></div>")
        for g in gaps(run, lb):
            parts.append(f'<p class="gap">{_e(_gap_text(g, cols[0].spec)).replace("`", "")}</p>')
    # the agreement and audit tables are plain tables: rendered from their Markdown rows
    rest = md.split("### ", 1)
    if len(rest) == 2:
        for block in ("### " + rest[1]).split("### ")[1:]:
            title, _, body = block.partition("\n")
            parts.append(f"<h3>{_e(title.replace('`', ''))}</h3>" + _md_to_html(body))
    return "\n".join(parts)


def _md_to_html(body: str) -> str:
    out, rows = [], []

    def flush() -> None:
        if rows:
            head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
            trs = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows[2:])
            out.append(f'<div class="lbwrap"><table class="lb"><thead><tr>{head}</tr></thead><tbody>{trs}</tbody></table></div>')
            rows.clear()

    for line in body.splitlines():
        if line.startswith("|"):
            rows.append([c.strip().replace("`", "").replace("\\|", "|") for c in line.strip("|").split(" | ")])
        else:
            flush()
            if line.strip():
                out.append(f'<p class="note">{_e(line.replace("`", ""))}</p>')
    flush()
    return "\n".join(out)
