"""Image-pair tables a metric writes into a run (memorisation's closest pairs: generated | nearest training
image), read for the report: a Markdown table, an HTML grid and the pairs figure.

A metric declares its table in its display facts (``pairs_table``: the file name in the run folder); the file
is ``{"kind": "image-pairs", "title", "note", "methods": {method: [pair]}}`` where a pair names the generated
image by sha256 (found through the run's manifest) and embeds the other image (``train_png``, base64 PNG), so
the report needs no dataset. The report names no metric: any declared pairs table is shown the same way.
"""
from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from emobench.rundir.results import RunData


@dataclass
class Pair:
    method: str
    emotion: str
    image: Path | None        # the generated image in the run folder (None: not found)
    train_png: bytes          # the nearest training image
    train_id: str
    ratio: float              # distance / threshold (below 1: closer than nearly all real images)
    features: str
    fit_seed: int | None = None


@dataclass
class PairsTable:
    column: str
    title: str
    note: str
    methods: dict[str, list[Pair]] = field(default_factory=dict)


def pairs_tables(run: RunData) -> list[PairsTable]:
    """Every pairs table the run's display facts declare, with pairs in the run's method order."""
    by_sha = {r.sha256: r for r in run.records}
    out, seen = [], set()
    for col, facts in run.display.items():
        name = facts.get("pairs_table")
        if not name or name in seen or col not in set(run.summary["metric"]):
            continue
        seen.add(name)
        raw: dict = {}
        for root in run.roots:
            path = Path(root) / str(name)
            if path.is_file():
                doc = json.loads(path.read_text())
                raw = {**doc, "methods": {**doc.get("methods", {}), **raw.get("methods", {})}} if raw else doc
        if not raw.get("methods"):
            continue
        table = PairsTable(col, str(raw.get("title") or name), str(raw.get("note") or ""))
        for m in run.method_names():
            pairs = []
            for p in raw["methods"].get(m, []):
                rec = by_sha.get(str(p.get("image")))
                image = next((Path(root) / rec.path for root in run.roots if rec and (Path(root) / rec.path).is_file()),
                             None)
                pairs.append(Pair(m, str(p.get("emotion", "")), image, base64.b64decode(p.get("train_png", "")),
                                  str(p.get("train_id", "")), float(p.get("ratio", float("nan"))),
                                  str(p.get("features", "")), p.get("fit_seed")))
            if pairs:
                table.methods[m] = pairs
        if table.methods:
            out.append(table)
    return out


def _fit(p: Pair) -> str:
    return f" (fit {p.fit_seed})" if p.fit_seed is not None else ""


def to_markdown(run: RunData) -> str:
    lines = []
    for t in pairs_tables(run):
        lines += [f"## {t.title}", "", f"Per method its closest pairs ({t.note}); the images are in `index.html` "
                  "and `figures/closest_pairs.png`.", "",
                  "| Method | emotion | distance / threshold | features | nearest training image |",
                  "|---|:---:|:---:|:---:|:---:|"]
        for m, pairs in t.methods.items():
            lines += [f"| {run.display_name(m)}{_fit(p)} | {p.emotion} | {p.ratio:.3f} | {p.features} | "
                      f"`{p.train_id}` |" for p in pairs]
        lines.append("")
    return "\n".join(lines)


def to_html(run: RunData, data_uri) -> str:
    """The pairs as an image grid; ``data_uri(png bytes)`` embeds an image (the page's own thumbnailer)."""
    parts = []
    for t in pairs_tables(run):
        parts.append(f"<h2>{html.escape(t.title)}</h2><p class=\"note\">{html.escape(t.note)}. In each cell, top: "
                     "the method's image; bottom: its nearest training image; below: distance / threshold.</p>")
        for m, pairs in t.methods.items():
            cells = []
            for p in pairs:
                gen = (f'<img alt="generated" src="{data_uri(p.image.read_bytes())}">' if p.image is not None
                       else '<span class="missing">missing</span>')
                cells.append(f'<td title="{html.escape(p.emotion)}{html.escape(_fit(p))}: nearest training image '
                             f'{html.escape(p.train_id)} ({html.escape(p.features)})">{gen}'
                             f'<img alt="nearest training image" src="{data_uri(p.train_png)}">'
                             f'<div class="ci">{p.ratio:.3f}</div></td>')
            parts.append(f'<div class="gridwrap"><table class="grid pairs"><tbody><tr><th>'
                         f'{html.escape(run.display_name(m))}</th>{"".join(cells)}</tr></tbody></table></div>')
    return "\n".join(parts)
