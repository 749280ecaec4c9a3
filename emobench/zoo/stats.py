"""``emobench zoo stats``: how much of an emotion sits in a zoo's content, beside EmoSet's own figures.

Three sources, each giving ``ContentStats`` (``emobench.world.stats``) for objects, scenes and both:

* a mini zoo built on EmoSet-mini: **exact**, from the world tables the zoo was trained on (its recorded
  world key must be this emobench's, or the figures would describe another world);
* a dataset in EmoSet's layout (EmoSet-mini's folder, or EmoSet-118K's own annotation files at paper scale):
  **plug-in** estimates from the annotations: every image with a scene counts for scenes, every image with an
  object for objects (its first-listed object, as EmoGen's training lists keep one attribute per image),
  every image with both for object+scene; names are compared as the official lists write them (lower case,
  spaces as underscores);
* EmoGen's official balanced training lists (``--official DIR``: an ``emogen.official import`` folder or a
  clone): plug-in, each image id counted once (the lists repeat images of rare attributes to balance them).
  The official object and scene lists are disjoint by construction (an image goes under its scene, under its
  object only when it has no scene), so they give no object+scene figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from emobench.errors import EmobenchError
from emobench.world.stats import ContentStats, content_stats, count_table

KINDS = ("object", "scene", "object+scene")
SPLITS = ("train", "val", "test")


@dataclass
class StatsSource:
    """One column group of the table: where the figures come from, and the figures per kind of content."""

    label: str
    how: str                                        # "exact tables" | "annotations" | "official lists"
    stats: dict[str, ContentStats] = field(default_factory=dict)
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "how": self.how, "detail": self.detail,
                "stats": {k: s.to_json() for k, s in self.stats.items()}}


# ---------------------------------------------------------------------------------------------- sources
def world_source(label: str = "EmoSet-mini") -> StatsSource:
    """This emobench's EmoSet-mini world, exactly."""
    from emobench.world import WorldConfig, world_stats

    cfg = WorldConfig()
    return StatsSource(label, "exact tables", world_stats(cfg),
                       f"world version {cfg.version}, {len(cfg.objects)} objects × {len(cfg.scenes)} scenes")


def pairs_source(label: str, how: str, pairs: dict[str, Sequence[tuple[str, str]]], detail: str) -> StatsSource:
    stats = {}
    for kind in KINDS:
        if pairs.get(kind):
            counts, names = count_table(list(pairs[kind]))
            stats[kind] = content_stats(counts, names, kind, exact=False)
    if not stats:
        raise EmobenchError(f"{label} has no image with an object or a scene annotation",
                            "pass a dataset whose annotations name objects or scenes")
    return StatsSource(label, how, stats, detail)


def _name(attribute: str) -> str:
    return str(attribute).strip().lower().replace(" ", "_")


def dataset_source(root: str | Path, splits: Sequence[str] = SPLITS, label: str | None = None) -> StatsSource:
    """Plug-in figures from the annotations of an EmoSet-layout folder."""
    from emobench.data.emoset import EmoSetDataset

    ds = EmoSetDataset(root)
    pairs: dict[str, list[tuple[str, str]]] = {k: [] for k in KINDS}
    n = 0
    for split in splits:
        for s in ds.split(split):
            n += 1
            obj = _name(s.objects[0]) if s.objects else ""
            scene = _name(s.scene) if s.scene else ""
            if obj:
                pairs["object"].append((s.emotion, obj))
            if scene:
                pairs["scene"].append((s.emotion, scene))
            if obj and scene:
                pairs["object+scene"].append((s.emotion, f"{obj}|{scene}"))
    return pairs_source(label or Path(root).name, "annotations", pairs,
                        f"{n:,} images of {'+'.join(splits)} in {root}")


def official_source(folder: str | Path, label: str = "EmoSet") -> StatsSource:
    """Plug-in figures from EmoGen's official balanced lists, each image id once."""
    from emobench.data.official_lists import read_train_lists

    lists = read_train_lists(folder)
    pairs: dict[str, list[tuple[str, str]]] = {}
    for kind in ("object", "scene"):
        seen: dict[str, tuple[str, str]] = {}
        for emotion, image_id, attribute in lists[kind]:
            seen.setdefault(image_id, (emotion, attribute))
        pairs[kind] = list(seen.values())
    return pairs_source(label, "official lists", pairs,
                        f"EmoGen's dataset_balance/*_norepeat lists from {folder}, unique image ids")


def zoo_source(spec: str | Path = "mini", empirical: bool = False, splits: Sequence[str] = SPLITS) -> StatsSource:
    """The content statistics of the world or dataset a zoo was built on (see the module doc)."""
    from emobench.zoo.load import SHIPPED_MINI, read_zoo_json

    spec_str = str(spec)
    if spec_str.endswith(".toml"):
        from emobench.zoo.paper_spec import read_paper_toml

        part = read_paper_toml(spec_str).parts["dataset"]
        if part.problem():
            raise EmobenchError(f"the dataset of {spec_str} is not usable: {part.describe()}",
                                "fix [dataset] path in the TOML")
        return dataset_source(part.path, splits, label=f"{Path(spec_str).stem} dataset")
    root = SHIPPED_MINI if spec_str == "mini" else Path(spec_str)
    if not (root / "zoo.json").is_file():
        raise EmobenchError(f"{spec_str} is not a zoo folder (no zoo.json)",
                            "pass 'mini', a zoo folder, a paper .toml, or --dataset DIR / --world")
    ds = read_zoo_json(root).get("dataset") or {}
    label = "mini" if spec_str == "mini" else root.name
    if ds.get("path") and (root / ds["path"]).is_dir():
        return dataset_source(root / ds["path"], splits, label=label)
    if ds.get("kind") != "emoset-mini":
        raise EmobenchError(f"zoo {spec_str} records no dataset to count", "pass --dataset DIR")
    from emobench.world import WorldConfig
    from emobench.world.write import world_key

    sizes = (int(ds["seed"]), int(ds["n_train"]), int(ds["n_val"]), int(ds["n_test"]))
    if ds.get("world_key") and ds["world_key"] != world_key(*sizes, WorldConfig()):
        raise EmobenchError(f"zoo {spec_str} was built on another EmoSet-mini world (key {ds['world_key'][:12]}…) "
                            "than this emobench's", "rebuild the zoo (`emobench zoo build mini --out DIR`), or "
                            "pass --world for this emobench's world")
    if not empirical:
        src = world_source()
        src.detail += f", the world zoo {label} was built on"
        return src
    from emobench.world import ensure_emoset_mini

    return dataset_source(ensure_emoset_mini(*sizes), splits, label=label)


# ---------------------------------------------------------------------------------------------- table
def _range(s: ContentStats, field: str, fmt: str) -> str:
    """min–max over the emotions that have images (one value when they agree to the shown precision)."""
    lo, hi = (format(x, fmt) for x in s.range(field))
    return lo if lo == hi else f"{lo}–{hi}"


ROWS = [
    ("images", lambda s: "exact" if s.exact else f"{s.n:,}"),
    ("distinct contents (per emotion)",
     lambda s: f"{s.distinct} ({_range(s, 'distinct_per_emotion', '.0f')})"),
    ("H(C), bits", lambda s: f"{s.h_content:.2f}"),
    ("H(C given E), bits", lambda s: f"{s.h_content_given_emotion:.2f}"),
    ("I(E; C), bits", lambda s: f"**{s.mutual_information:.2f}**"),
    ("emotion accuracy from this content alone (Bayes)", lambda s: f"**{s.bayes_accuracy:.3f}**"),
    ("share of an emotion's images on its top-1 content", lambda s: _range(s, "top1_share", ".2f")),
    ("share on its top-5 contents", lambda s: _range(s, "top5_share", ".2f")),
]


def table_markdown(sources: Sequence[StatsSource]) -> list[str]:
    """The side-by-side statistics table (one column per source and kind of content), as Markdown lines."""
    cols = [(src, kind, src.stats[kind]) for src in sources for kind in KINDS if kind in src.stats]
    head = "| statistic | " + " | ".join(f"{src.label} {kind}" for src, kind, _ in cols) + " |"
    lines = [head, "|---|" + "---|" * len(cols)]
    for name, fn in ROWS:
        lines.append(f"| {name} | " + " | ".join(fn(s) for _, _, s in cols) + " |")
    lines += ["", *[f"- {src.label}: {src.how}; {src.detail}." for src in sources]]
    top = [f"{src.label} {kind}: " + ", ".join(f"{e} {c} {s.top1_share[e]:.0%}" for e, c in s.top1_content.items() if c)
           for src, kind, s in cols if kind != "object+scene"]
    return lines + ["- top-1 content per emotion: " + "; ".join(top) + "."]


def stats_json(sources: Sequence[StatsSource]) -> dict[str, Any]:
    return {"sources": [s.to_json() for s in sources]}
