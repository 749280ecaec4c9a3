"""The leaderboard's main table as a booktabs LaTeX table (``emobench report --latex`` → ``leaderboard.tex``).

For a paper: methods in the run's configured order under the names their plugins declare, every headline
metric with its 95% interval in a smaller font, the best computed method per column in bold, the paired-test
mark against the baseline as a superscript (``leaderboard.sig_mark``'s symbols; marks that only say "not
significant" are left out), the controls apart, and a scale note under the table for every metric whose
range differs from the paper's. Needs ``\\usepackage{booktabs}`` and ``\\usepackage{amssymb}`` in the
preamble; the file is UTF-8 and keeps non-ASCII names as they are (pdflatex sets Latin scripts, xelatex or
lualatex any); the file is a ``table*`` float (full width in two-column papers) to ``\\input``. Deterministic
bytes, like the Markdown.
"""
from __future__ import annotations

import math

from emobench.report.leaderboard import BoardEntry, BoardRow, Leaderboard, sig_mark
from emobench.report.metrics_display import MetricSpec

PREAMBLE = "\\usepackage{booktabs}\n\\usepackage{amssymb}\n"

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
# Unicode a report may print (arrows, significance symbols), as plain-LaTeX (amssymb) math
_UNICODE = {"↑": r"$\uparrow$", "↓": r"$\downarrow$", "▲": r"$\blacktriangle$", "▼": r"$\blacktriangledown$",
            "△": r"$\vartriangle$", "▽": r"$\triangledown$", "†": r"\dag{}", "‡": r"\ddag{}", "–": "--",
            "−": "-", "Δ": r"$\Delta$", "×": r"$\times$", "≤": r"$\leq$", "≥": r"$\geq$", "·": r"$\cdot$",
            "²": r"\textsuperscript{2}", "⁺": "+", "⁻": "-"}


def tex(text: str) -> str:
    """Escape ``text`` for LaTeX text mode. Every other character is kept as it is, in UTF-8: a method named
    "Émotion" stays "Émotion" (LaTeX reads UTF-8 since 2018; pdflatex sets Latin scripts, xelatex/lualatex any
    script). Control characters, which no engine can set, are dropped."""
    out = []
    for ch in str(text):
        if ch in _SPECIAL:
            out.append(_SPECIAL[ch])
        elif ch in _UNICODE:
            out.append(_UNICODE[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
    return "".join(out)


def _mark(e: BoardEntry) -> str:
    mark = sig_mark(e.p_holm)
    if not mark or mark == "n.s.":
        return ""
    return r"\textsuperscript{" + tex(mark) + "}"


def _cell(spec: MetricSpec, e: BoardEntry | None, marks: bool) -> str:
    if e is None or not e.has_value:
        return "--"
    v = tex(spec.fmt(e.value))
    v = r"\textbf{" + v + "}" if e.best else v
    if marks:
        v += _mark(e)
    if e.above:   # beyond the control's interval (report.ceilings): explained under the table
        v += r"\textsuperscript{\ddag}"
    if not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
        # the interval under the value, smaller: keeps eight metric columns within a page's width
        v = r"\shortstack{" + v + r"\\ {\scriptsize [" + tex(spec.fmt(e.ci_low)) + ", " + tex(spec.fmt(e.ci_high)) \
            + "]}}"
    elif e.ci_note:
        v = r"\shortstack{" + v + r"\\ {\scriptsize (" + tex(e.ci_note) + ")}}"
    return v


def _row(name: str, specs: list[MetricSpec], r: BoardRow, marks: bool) -> str:
    return " & ".join([tex(name)] + [_cell(s, r.entries.get(s.key), marks and r.kind == "method") for s in specs]) \
        + r" \\"


def to_latex(lb: Leaderboard) -> str:
    specs = lb.main_specs or lb.specs
    ok = [r for r in lb.rows if r.kind != "failed"]
    lines = ["% emobench leaderboard (UTF-8): needs \\usepackage{booktabs} and \\usepackage{amssymb}; names in "
             "non-Latin scripts need xelatex or lualatex",
             r"\begin{table*}[t]", r"\centering", r"\footnotesize", r"\setlength{\tabcolsep}{3pt}",
             r"\begin{tabular}{l" + "c" * len(specs) + "}", r"\toprule",
             " & ".join(["Method"] + [tex(s.title) for s in specs]) + r" \\", r"\midrule"]
    lines += [_row(lb.display_names.get(r.method, r.method), specs, r, True) for r in ok]
    if lb.controls:
        lines.append(r"\midrule")
        lines += [_row(r.method, specs, r, False) for r in lb.controls]
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = ["Pooled over emotions; brackets: 95\\% intervals over cells (Wilson score for accuracies, t on a "
             "jackknife or U-statistic variance otherwise; random effects over fits for a method fitted more than "
             "once); \\textbf{bold}: best computed method per column."]
    if lb.baseline and len(ok) > 1:
        base = tex(lb.display_names.get(lb.baseline, lb.baseline))
        notes.append(f"Superscripts: paired difference vs {base}, Holm-corrected p (* $<$0.05, ** $<$0.01, "
                     "*** $<$0.001; symbols as in the Markdown leaderboard).")
    if lb.controls:
        notes.append("Controls (real images; shuffled labels) are not ranked.")
    notes += [r"\ddag{} " + tex(note) for note in lb.ceiling_notes()]
    notes += ["Scale: " + tex(lb.scale_notes[s.key]) for s in specs if s.key in lb.scale_notes]
    notes += [tex(n) for n in lb.row_notes.values()]   # rows marked † / § (report.row_marks)
    lines.append(r"\par\smallskip\parbox{\linewidth}{\footnotesize " + " ".join(notes) + "}")
    facts = ", ".join(f"{tex(k)} {tex(v)}" for k, v in lb.facts.items() if k in ("zoo", "plan_hash", "judges_hash"))
    lines.append(r"\caption{emobench leaderboard (" + facts + ").}")
    lines += [r"\label{tab:emobench}", r"\end{table*}", ""]
    return "\n".join(lines)


def standalone(table: str) -> str:
    """A minimal document around ``table`` (what the tests compile)."""
    return "\\documentclass{article}\n" + PREAMBLE + "\\begin{document}\n" + table + "\\end{document}\n"
