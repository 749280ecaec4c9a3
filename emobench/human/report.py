"""The human-study section of a report: Markdown (human.md) and an HTML fragment for index.html."""
from __future__ import annotations

import html
import math

from emobench.human.analyze import HumanAnalysis
from emobench.human.tasks import QUESTIONS

LABEL = {"emotion": "Emotion expression", "clarity": "Semantic clarity", "diversity": "Diversity"}


def _f(x: float, pct: bool = False, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{100 * x:.1f}" if pct else f"{x:.{nd}f}"


def _ci(lo: float, hi: float, pct: bool = False) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return "–"
    return f"{_f(lo, pct)} – {_f(hi, pct)}"


def tables(a: HumanAnalysis) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table; both renderers use these."""
    out = []
    out.append(("Preference (EmoGen Table 2 style)",
                ["Question", "Method", "vs", "Preferred %", "95 % CI", "± std (raters)", "Votes", "Raters"],
                [[LABEL[p.question], a.name(p.method), a.name(p.opponent), _f(p.preference, True),
                  _ci(p.ci_low, p.ci_high, True), _f(p.std_raters, True), str(p.n_votes),
                  str(p.n_raters)] for p in a.preferences]))
    out.append(("Bradley–Terry strengths", ["Question", "Rank", "Method", "Log-strength", "95 % CI"],
                [[LABEL[s.question], str(s.rank), a.name(s.method), _f(s.strength), _ci(s.ci_low, s.ci_high)]
                 for s in a.strengths]))
    out.append(("Agreement between raters (Krippendorff's α, nominal)", ["Question", "α", "Tasks", "Raters"],
                [[LABEL[q], _f(v["alpha"]), str(int(v["n_units"])), str(int(v["n_raters"]))]
                 for q, v in a.alpha.items()]))
    out.append(("Rater quality", ["Rater", "Votes", "Checks", "Passed", "Pass rate", "Status"],
                [[r.rater, str(r.n_votes), str(r.n_checks), str(r.n_passed), _f(r.pass_rate, True),
                  "excluded" if r.excluded else ("kept (no check)" if not r.n_checks else "kept")]
                 for r in a.raters]))
    if a.agreement:
        out.append(("Metric–human agreement",
                    ["Question", "Metric", "Agrees with majority %", "Tasks", "Kendall τ (rankings)", "Methods"],
                    [[LABEL[g.question], g.metric, _f(g.agree, True), str(g.n_tasks), _f(g.kendall_tau),
                      str(g.n_methods)] for g in a.agreement]))
    return out


def to_markdown(a: HumanAnalysis) -> str:
    lines = ["# Human study", "",
             f"{a.n_votes} votes from {a.n_raters} raters; {a.n_kept} kept. Exclusion rule: {a.rule}.", "",
             "Questions: " + "; ".join(f"*{question_text(a, q)}*" for q in a.alpha), ""]
    for title, header, rows in tables(a):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        lines.append("")
    lines += [f"- {n}" for n in a.notes]
    return "\n".join(lines).rstrip() + "\n"


def to_html(a: HumanAnalysis) -> str:
    e = html.escape
    parts = ['<section id="human"><h2>Human study</h2>',
             "<style>table.human{border-collapse:collapse;margin:6px 0 18px;font-variant-numeric:tabular-nums}"
             "table.human th,table.human td{padding:3px 10px;border-bottom:1px solid #e3e6ea;text-align:left}"
             "table.human th{border-bottom:2px solid #c9ced6}p.note{color:#666}</style>",
             f"<p>{a.n_votes} votes from {a.n_raters} raters; {a.n_kept} kept. Exclusion rule: {e(a.rule)}.</p>",
             "<p>Questions:</p><ul>" + "".join(f"<li>{e(question_text(a, q))}</li>" for q in a.alpha) + "</ul>"]
    for title, header, rows in tables(a):
        parts.append(f"<h3>{e(title)}</h3><table class=\"human\"><thead><tr>"
                     + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr></thead><tbody>"
                     + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
                     + "</tbody></table>")
    parts += [f"<p class=\"note\">{e(n)}</p>" for n in a.notes]
    parts.append("</section>")
    return "\n".join(parts)


def question_text(a: HumanAnalysis, q: str) -> str:
    """The question as raters read it, ``{emotion}`` filled with the study's emotions."""
    emotions = " / ".join(a.emotions) if a.emotions else "the task's emotion"
    return QUESTIONS[q].format(emotion=emotions)


def insert_into_page(page: str, section: str, summary: str = "") -> str:
    """The section goes just before ``</body>`` (the report page stays one file), and a link to it right
    under the page's title, so a reader sees at the top that the run has a human study."""
    i = page.rfind("</body>")
    page = page[:i] + section + "\n" + page[i:] if i >= 0 else page + section
    link = f'<p class="note" id="human-link"><a href="#human">Human study</a>{html.escape(summary)}</p>'
    j = page.find("</h1>")
    return page[:j + 5] + link + page[j + 5:] if j >= 0 else page


def link_summary(a: HumanAnalysis) -> str:
    return f": {a.n_votes} votes from {a.n_raters} raters ({a.n_kept} kept), below"
