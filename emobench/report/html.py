"""``index.html``: one self-contained, offline page: the sortable leaderboard with CIs and paired
differences, and per emotion a method × cell image grid in which each column is the same
(emotion, template, seed) cell for every method, with each image's scores in its tooltip.

Images are embedded as base64 data URIs (large ones as small thumbnails), the script is a few lines of
inline JavaScript, and nothing is fetched from anywhere. The bytes are deterministic.
"""
from __future__ import annotations

import base64
import html
import io
import math
from collections import defaultdict

from PIL import Image

from emobench.emotions import EMOTIONS
from emobench.report.colors import method_colours
from emobench.report import judges_section, pairs
from emobench.report.figures import template_numbers
from emobench.report.leaderboard import BoardEntry, BoardRow, Leaderboard, entry_mark
from emobench.report.metrics_display import MetricSpec, spec_for
from emobench.rundir.results import RunData

THUMB_MAX = 128          # images larger than this are embedded as thumbnails (paper scale is 512 px)
DISPLAY_PX = 96          # on-screen size; small mini-scale images are scaled up with crisp pixels

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:none}
h1{margin:0 0 4px 0}h2{margin-top:28px}
.facts{color:#555;font-size:13px}.facts code{background:#f3f3f3;padding:0 3px}
table.lb{border-collapse:collapse;font-size:14px;margin:8px 0}
table.lb th,table.lb td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:right;white-space:nowrap}
table.lb th:first-child,table.lb td:first-child{text-align:left}
table.lb th{background:#f6f6f6;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}table.sortable th[aria-sort=descending]::after{content:" ▼"}
.ci{display:block;color:#777;font-size:11px}.diff{display:block;color:#555;font-size:11px}
.lbwrap{overflow-x:auto;max-width:100%%}
.best{font-weight:700}.above{display:block;color:#8a4b00;font-size:11px;font-weight:600}.sig{color:#b00;font-weight:600}.sig.ns{color:#888;font-weight:400}
tr.baseline td:first-child::after{content:" (baseline)";color:#777;font-size:12px}
tr.failed td{color:#a00}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;vertical-align:middle}
.note{color:#555;font-size:13px;max-width:900px}
.gridwrap{overflow-x:auto;border:1px solid #eee}
table.grid{border-collapse:collapse}
table.grid th{font-size:11px;color:#555;padding:2px 4px;white-space:nowrap}
table.grid tbody th{text-align:left;font-size:13px;color:#222;position:sticky;left:0;background:#fff}
table.grid td{padding:1px}
table.grid img{width:%(px)dpx;height:%(px)dpx;image-rendering:pixelated;display:block}
table.grid td.missing{width:%(px)dpx;height:%(px)dpx;background:repeating-linear-gradient(45deg,#fafafa,#fafafa 6px,#eee 6px,#eee 12px);font-size:10px;color:#a00;text-align:center}
""" % {"px": DISPLAY_PX}

# Sort on click: numbers by data-v (missing values always last), text otherwise.
JS = """
(function(){
function key(td){var v=td.getAttribute('data-v');return v===null?td.textContent.trim().toLowerCase():(v===''?null:parseFloat(v));}
function sortBy(table,col,th){
  var body=table.tBodies[0],rows=Array.prototype.slice.call(body.rows);
  var asc=th.getAttribute('aria-sort')!=='ascending';
  rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);
    if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
    var c=(x<y)?-1:(x>y)?1:0;return asc?c:-c;});
  rows.forEach(function(r){body.appendChild(r);});
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(h){h.removeAttribute('aria-sort');});
  th.setAttribute('aria-sort',asc?'ascending':'descending');
}
Array.prototype.forEach.call(document.querySelectorAll('table.sortable'),function(t){
  Array.prototype.forEach.call(t.tHead.rows[0].cells,function(th,i){
    th.addEventListener('click',function(){sortBy(t,i,th);});});});
})();
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _v(x: float) -> str:
    return "" if x is None or math.isnan(x) else repr(float(x))


def _value_td(spec: MetricSpec, e: BoardEntry | None, show_diff: bool) -> str:
    if e is None or not e.has_value:
        return '<td data-v="">–</td>'
    cls = ' class="best"' if e.best else ""
    inner = f"<span{cls}>{_e(e.display or spec.fmt(e.value))}</span>"
    if not (math.isnan(e.ci_low) or math.isnan(e.ci_high)):
        inner += f' <span class="ci">[{_e(spec.fmt(e.ci_low))}, {_e(spec.fmt(e.ci_high))}]</span>'
    elif e.ci_note:
        inner += f' <span class="ci">({_e(e.ci_note)})</span>'
    if e.above:
        inner += f' <span class="above">{_e(e.above)}</span>'
    if show_diff and not math.isnan(e.diff):
        mark = entry_mark(spec, e)
        tip = "paired difference vs baseline"
        if not (math.isnan(e.diff_ci_low) or math.isnan(e.diff_ci_high)):
            tip += f", 95% interval [{spec.fmt(e.diff_ci_low, True)}, {spec.fmt(e.diff_ci_high, True)}]"
        if not math.isnan(e.p_holm):
            tip += f", Holm p = {e.p_holm:.3g} (raw p = {e.p_value:.3g})"
            if not (math.isnan(e.diff_holm_low) or math.isnan(e.diff_holm_high)):
                tip += (f", interval at the level Holm tested it at [{spec.fmt(e.diff_holm_low, True)}, "
                        f"{spec.fmt(e.diff_holm_high, True)}] (excludes 0 exactly when marked)")
        if e.p_note:
            tip += f" ({e.p_note})"
        # The difference's CI lives in the tooltip, which keeps the table narrow enough for a laptop.
        inner += (f'<span class="diff" title="{_e(tip)}">Δ {_e(spec.fmt(e.diff, True))}'
                  f' <span class="sig{" ns" if mark in ("n.s.", "no test") else ""}">{_e(mark)}</span></span>')
    return f'<td data-v="{_v(e.value)}">{inner}</td>'


def _row_tr(row: BoardRow, specs: list[MetricSpec], colours: dict[str, str], show_diff: bool,
            names: dict[str, str] | None = None) -> str:
    colour = colours.get(row.method, "#999")
    shown = (names or {}).get(row.method, row.method)
    label = _e(row.method) if shown == row.method else f'{_e(shown)} <code>{_e(row.method)}</code>'
    name = f'<td><span class="swatch" style="background:{colour}"></span>{label}</td>'
    n = row.n_images
    shown = "–" if n is None else (f"{n} × {row.n_fits} fits" if row.n_fits > 1 else str(n))
    cells = [name, f'<td data-v="{n if n is not None else ""}">{_e(shown)}</td>']
    if row.kind == "failed":
        cells.append(f'<td colspan="{len(specs)}" style="text-align:left">{_e(row.status)} — {_e(row.reason or "")}</td>')
    else:
        cells += [_value_td(s, row.entries.get(s.key), show_diff) for s in specs]
    return f'<tr class="{row.kind}">' + "".join(cells) + "</tr>"


def _table(rows: list[BoardRow], specs, colours, first: str, sortable: bool, show_diff: bool, tid: str,
           names: dict[str, str] | None = None) -> str:
    head = "".join([f"<th>{_e(first)}</th>", "<th>n</th>"] + [f"<th>{_e(s.title)}</th>" for s in specs])
    cls = "lb sortable" if sortable else "lb"
    body = "\n".join(_row_tr(r, specs, colours, show_diff, names) for r in rows)
    return (f'<div class="lbwrap"><table id="{tid}" class="{cls}"><thead><tr>{head}</tr></thead><tbody>\n'
            f'{body}\n</tbody></table></div>')


def _data_uri(png: bytes) -> str:
    img = Image.open(io.BytesIO(png))
    if max(img.size) > THUMB_MAX:
        img = img.convert("RGB")
        img.thumbnail((THUMB_MAX, THUMB_MAX), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        png = buf.getvalue()
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _image_scores(run: RunData) -> dict[str, str]:
    """Per image key, its per-image scores as tooltip text."""
    out: dict[str, list[str]] = defaultdict(list)
    if run.scores.empty:
        return {}
    s = run.scores.dropna(subset=["key"]).sort_values(["key", "metric"])
    for key, metric, value in zip(s["key"], s["metric"], s["value"]):
        spec = spec_for(str(metric), run.display, run.metric_directions)
        out[str(key)].append(f"{spec.label} = {spec.fmt(float(value))}")
    return {k: "\n".join(v) for k, v in out.items()}


def _grids(run: RunData, methods: list[str], colours: dict[str, str], max_cells: int | None) -> str:
    records = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    cells = run.plan.get("cells") or [{"emotion": r.emotion, "template": r.template, "seed": r.seed}
                                      for r in run.records]
    by_emotion: dict[str, list[tuple[str, int]]] = {}
    for c in cells:
        lst = by_emotion.setdefault(c["emotion"], [])
        if (c["template"], int(c["seed"])) not in lst:
            lst.append((c["template"], int(c["seed"])))
    rank = {e: i for i, e in enumerate(EMOTIONS)}  # canonical emotion order, whatever order the files list
    by_emotion = dict(sorted(by_emotion.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))
    tnum = template_numbers(run)  # T1, T2 … in the config's order, as in the figures
    templates = sorted({t for lst in by_emotion.values() for t, _ in lst}, key=lambda t: (tnum.get(t, 0), t))
    tix = {t: i + 1 for i, t in enumerate(templates)}
    tooltips = _image_scores(run)
    parts = []
    if len(templates) > 1:
        parts.append('<p class="note">Prompt templates: ' + "; ".join(
            f"T{tix[t]} = <code>{_e(t)}</code>" for t in templates) + "</p>")
    for emo, lst in by_emotion.items():
        shown = lst if max_cells is None else lst[:max_cells]
        note = "" if len(shown) == len(lst) else f" (first {len(shown)} of {len(lst)} cells)"
        head = "<th></th>" + "".join(
            f'<th title="{_e(t.replace("{emotion}", emo))}">{"T%d " % tix[t] if len(templates) > 1 else ""}seed {s}</th>'
            for t, s in shown)
        rows = []
        for m in methods:
            tds = []
            for t, s in shown:
                rec = records.get((m, emo, t, s))
                path = run.root / rec.path if rec else None
                for root in run.roots:  # merged runs: the image lives in whichever run made it
                    if rec and (root / rec.path).is_file():
                        path = root / rec.path
                        break
                if rec is None or path is None or not path.is_file():
                    tds.append('<td class="missing">missing</td>')
                    continue
                title = f"{m} · {emo} · seed {s}\nprompt: {rec.prompt}"
                if rec.key in tooltips:
                    title += "\n" + tooltips[rec.key]
                tds.append(f'<td><img alt="{_e(m)} {_e(emo)} seed {s}" title="{_e(title)}" '
                           f'src="{_data_uri(path.read_bytes())}"></td>')
            rows.append(f'<tr><th><span class="swatch" style="background:{colours.get(m, "#999")}"></span>'
                        f'{_e(m)}</th>{"".join(tds)}</tr>')
        parts.append(f'<section class="emotion" id="grid-{_e(emo)}"><h3>{_e(emo)}{_e(note)}</h3>'
                     f'<div class="gridwrap"><table class="grid" data-emotion="{_e(emo)}"><thead><tr>{head}'
                     f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div></section>')
    return "\n".join(parts)


def render(run: RunData, lb: Leaderboard, max_cells: int | None = None) -> str:
    methods_ok = [r.method for r in lb.rows if r.kind != "failed"]
    colours = method_colours(run.method_names() + [r.method for r in lb.controls])  # same order as figures
    facts = " · ".join(f"{_e(k)}: <code>{_e(v)}</code>" for k, v in lb.facts.items())
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           # Forbid every network fetch, so the page provably works offline.
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
           "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">",
           '<title>emobench leaderboard</title>', f"<style>{CSS}</style></head><body>",
           "<h1>emobench leaderboard</h1>", f'<p class="facts">{facts}</p>',
           '<p class="note">Pooled over emotions; brackets are 95% intervals over cells (Wilson score for '
           "accuracies, t on a jackknife or U-statistic variance otherwise; FID's covers FID at this n). A learning "
           "method fitted K times: the mean over fits with a random-effects interval (Wilson's on its effective n for "
           "an accuracy), its fit part on K − 1 degrees of freedom (with 2 or 3 fits, or per emotion at 4 cells, its "
           "intervals err wide); "
           "fitted once: "
           "\"1 fit: fit-to-fit spread not measured\" instead of an interval. <b>Bold</b>: best computed "
           "method per column. Δ: paired difference vs the baseline on the same cells, Holm-corrected once per "
           "table (each distinct test once): ▲ better than the baseline, ▼ worse (in the metric's direction); "
           "* p&lt;0.05, ** p&lt;0.01, *** p&lt;0.001, n.s. not significant, no test: fewer than 4 cells per "
           "emotion or one fit of a learning method (hover for why, and for the interval at the level Holm "
           "tested it at, which excludes 0 exactly when marked). Click a column title to sort.</p>",
           _table(lb.rows, lb.main_specs, colours, "Method", True, True, "leaderboard", lb.display_names)]
    out += [f'<p class="note">{_e(n)}</p>' for n in lb.row_notes.values()]   # rows marked † / § (report.row_marks)
    out += [f'<p class="note ceiling">{_e(note)}</p>' for note in lb.ceiling_notes()]
    if lb.control_methods:
        out += ["<h2>Control methods (not ranked)</h2>", '<p class="note">Methods built as controls (e.g. one '
                "that games a judge): scored like the others, never ranked. Δ: vs the baseline.</p>",
                _table(lb.control_methods, lb.main_specs, colours, "Control method", False, True, "control-methods",
                       lb.display_names)]
    if lb.controls:
        out += ["<h2>Controls (not ranked)</h2>", '<p class="note">Real held-out images of the emotion dataset, '
                "and the same images with their emotion labels shuffled (chance level).</p>",
                _table(lb.controls, lb.main_specs, colours, "Control", False, False, "controls")]
    if lb.extra_specs:
        rows = [r for r in lb.rows if r.kind != "failed"] + lb.control_methods + lb.controls
        out += ["<h2>Further metrics</h2>",
                _table(rows, lb.extra_specs, colours, "Method", True, True, "further", lb.display_names)]
    warnings = lb.warnings() + [f"skipped while scoring: {p}" for p in lb.problems]
    if warnings:
        out.append('<p class="note">Warnings from scoring:</p><ul class="note">'
                   + "".join(f"<li>{_e(w)}</li>" for w in warnings) + "</ul>")
    if lb.references:
        out += ["<h2>Reference: EmoGen paper, Table 1 (reported, not computed here)</h2>",
                '<p class="note">Yang et al., CVPR 2024. Other judges and the official code\'s metric bugs '
                "make these a reference only.</p>",
                _table(lb.references, lb.main_specs, colours, "Reference", False, False, "references")]
    elif lb.reference_absent:
        out.append(f'<p class="note">The EmoGen paper\'s Table 1 is not shown: {_e(lb.reference_absent)}.</p>')
    out.append(judges_section.to_html(run, lb))
    out.append(pairs.to_html(run, _data_uri))
    out += ["<h2>Images</h2>", '<p class="note">Each column is one cell (emotion, prompt template, seed): every '
            "method started from the same noise. Hover an image for its prompt and scores.</p>",
            _grids(run, methods_ok, colours, max_cells), f"<script>{JS}</script>", "</body></html>", ""]
    return "\n".join(out)
