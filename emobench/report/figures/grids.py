"""Image grids: the comparison grid (emotions × methods, same seeds), emotion transfer and fusion grids."""
from __future__ import annotations

import re

from emobench.emotions import EMOTIONS
from emobench.report.figstyle import FigSize, save
from emobench.report.output import AtomicOutput
from emobench.rundir.results import RunData
from emobench.report.figures.common import (DAGGER, TRANSFER_RE, Group, _cells_by_emotion, _image_figure, _mosaic,
                                            template_blind_methods, template_numbers)


def comparison_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    recs = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    by_emo = _cells_by_emotion(run)
    emotions = [e for e in EMOTIONS if e in by_emo] + sorted(e for e in by_emo if e not in EMOTIONS)
    methods = [m for m in methods if any(r.method == m for r in run.records)]
    if not emotions or not methods:
        return None
    k = 2 if size.narrow else 3
    # The same first k cells (template, seed) of every emotion: identical starting noise across the grid.
    # Transfer prompts ("{emotion} bag") have their own figure; the grid shows the plain emotion prompts.
    plain = {e: [c for c in by_emo[e] if not TRANSFER_RE.match(c[0])] or by_emo[e] for e in emotions}
    blind = template_blind_methods(run) & set(methods)
    tnum = template_numbers(run)
    used_templates = sorted({t for e in emotions for t, _ in plain[e]}, key=lambda t: tnum.get(t, 0))
    many_templates = len(used_templates) > 1

    def cells_for(m: str, e: str) -> list[tuple[str, int]]:
        if m not in blind:
            return plain[e][:k]
        firsts: dict[int, str] = {}  # one cell per seed: its other templates hold the same image
        for t, s in plain[e]:
            firsts.setdefault(s, t)
        return [(t, s) for s, t in list(firsts.items())[:k]]

    rows = [[[recs.get((m, e, t, s)) for t, s in cells_for(m, e)] for m in methods] for e in emotions]
    canvas, rc, geom = _mosaic(run, rows)
    first = emotions[0]
    groups = []
    for m in methods:
        tiles = [(f"T{tnum[t]} s{s}" if many_templates and m not in blind else f"s{s}")
                 for t, s in cells_for(m, first)]
        groups.append(Group(run.display_name(m) + (DAGGER if m in blind else ""), tiles, styles[m].colour))
    notes = []
    if many_templates:
        notes.append("Columns: template T, seed s; " + ", ".join(
            f"T{tnum[t]} = \u201c{t}\u201d" for t in used_templates) + ".")
    if blind:
        notes.append(f"{DAGGER} The method's prompt does not use the template (its stored prompt is the same "
                     "for every template), so each seed is shown once.")
    seeds = sorted({s for e in emotions for m in methods for _, s in cells_for(m, e)})
    fig = _image_figure(canvas, rc, emotions, geom, groups,
                        f"Same starting noise for every method (seeds {', '.join(map(str, seeds))})",
                        " ".join(notes), size)
    return save(fig, out, "comparison_grid", size)


def transfer_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize) -> str | None:
    """EmoGen's emotion transfer: ``{emotion} <object>`` prompts, emotions across, (method, object) down."""
    by_emo = _cells_by_emotion(run)
    templates = sorted({t for lst in by_emo.values() for t, _ in lst if TRANSFER_RE.match(t)})
    if not templates:
        return None
    recs = {(r.method, r.emotion, r.template, r.seed): r for r in run.records}
    emotions = [e for e in EMOTIONS if e in by_emo]
    rows, labels = [], []
    for m in methods:
        for t in templates:
            seeds = [s for tt, s in by_emo[emotions[0]] if tt == t][:1]
            if not seeds or not any((m, e, t, seeds[0]) in recs for e in emotions):
                continue
            rows.append([[recs.get((m, e, t, seeds[0]))] for e in emotions])
            labels.append(f"{run.display_name(m)}\n{t.replace('{emotion}', '<e>')}")
    if not rows:
        return None
    canvas, rc, geom = _mosaic(run, rows)
    groups = [Group(e, [""]) for e in emotions]
    fig = _image_figure(canvas, rc, labels, geom, groups,
                        "Emotion transfer: each emotion (columns) applied to an object prompt (rows)", "", size)
    return save(fig, out, "emotion_transfer", size)


FUSE_RE = re.compile(r"fuse=([A-Za-z]+)\+([A-Za-z]+)")


def fusion_grid(run: RunData, methods: list[str], styles, out: AtomicOutput, size: FigSize,
                k: int = 4) -> str | None:
    """EmoGen's emotion fusion: per ``<base>:fuse=e1+e2`` method, the base method's e1 row, the fused row
    and the base method's e2 row, on the same seeds."""
    fused = [m for m in methods if FUSE_RE.search(m)]
    if not fused:
        return None
    by_method: dict[str, list] = {}
    for r in run.records:
        by_method.setdefault(r.method, []).append(r)
    plain = lambda r: not TRANSFER_RE.match(r.template)  # noqa: E731
    rows, labels, col_seeds = [], [], []
    for m in fused:
        recs = sorted((r for r in by_method.get(m, []) if plain(r)), key=lambda r: (r.seed, r.template, r.emotion))
        picked = []
        for r in recs:  # one image per seed, so the base rows can be matched seed by seed
            if r.seed not in {p.seed for p in picked}:
                picked.append(r)
        picked = picked[:k]
        if not picked:
            continue
        col_seeds = col_seeds or [r.seed for r in picked]
        e1, e2 = FUSE_RE.search(m).groups()
        base = m.split(":", 1)[0]
        base_recs = {(r.emotion, r.seed): r for r in by_method.get(base, []) if plain(r)}
        for emo in (e1, None, e2):
            if emo is None:
                rows.append([[r] for r in picked])
                labels.append(f"{e1} + {e2}\n(fused)")
            elif base != m and any((emo, r.seed) in base_recs for r in picked):
                rows.append([[base_recs.get((emo, r.seed))] for r in picked])
                labels.append(f"{emo}\n({run.display_name(base)})")
    if not rows:
        return None
    canvas, rc, geom = _mosaic(run, rows)
    groups = [Group(f"seed {s}", [""]) for s in col_seeds][:len(geom)]
    fig = _image_figure(canvas, rc, labels, geom, groups,
                        "Emotion fusion: two emotions in one prompt, same seeds", "", size)
    return save(fig, out, "emotion_fusion", size)


# ---------------------------------------------------------------- charts
