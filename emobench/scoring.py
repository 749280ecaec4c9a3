"""Score a run directory: per-image scores, per-method × metric × emotion summaries with paired bootstrap CIs.

``score_run(run_dir, zoo, metrics, baseline)`` reads only the run directory (manifest + PNGs), so it can be
re-run at any time without regenerating images. Each image is checked against its sha256; each metric
computes its per-image features once per image and caches them under ``$EMOBENCH_CACHE/scores/`` keyed by
(image content id, judges hash, metric name + config). A problem with one image or one metric is reported and
skipped; everything else completes. Outputs (see docs/ARCHITECTURE.md "Run directory"): ``scores.csv``,
``summary.csv``, ``summary.json``, ``confusion.json``.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from emobench.api import ImageRecord, config_to_dict, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.metrics import load_metric, metric_names
from emobench.metrics.base import Group, GroupStat, MeanStat, Metric, ScoreItem, ScoringContext
from emobench.stats import BootstrapConfig, Estimate, draw_weights, estimate, holm, paired_difference

CONTROL_REAL = "real (control)"
CONTROL_SHUFFLED = "shuffled (control)"
ALL = "all"
SUMMARY_COLUMNS = ["method", "kind", "status", "metric", "emotion", "value", "ci_low", "ci_high", "n",
                   "diff", "diff_ci_low", "diff_ci_high", "p_value", "p_holm", "warning", "reason"]
SCORE_COLUMNS = ["method", "emotion", "template", "seed", "key", "metric", "value"]


def cache_root() -> Path:
    return Path(os.environ.get("EMOBENCH_CACHE", Path.home() / ".cache" / "emobench")).expanduser()


# ------------------------------------------------------------------------------------------------ entries

@dataclass
class Entry:
    """One image to score: a generated image of the run, or a real held-out image (controls, references)."""

    method: str
    cell: str                      # alignment key across methods (cell id); sample id for real images
    item: ScoreItem
    loader: Callable[[], torch.Tensor]   # → [3, H, W] float in [0, 1]
    record: ImageRecord | None = None


def _decode_png(data: bytes) -> torch.Tensor:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255.0


def read_manifest(run_dir: Path) -> list[ImageRecord]:
    path = run_dir / "manifest.jsonl"
    if not path.is_file():
        raise EmobenchError(f"{run_dir} has no manifest.jsonl",
                            "pass a run directory written by `emobench run` (it holds manifest.jsonl and images/)")
    records = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(ImageRecord.from_json(line))
        except (json.JSONDecodeError, TypeError) as err:
            raise EmobenchError(f"{path}:{i} is not a valid manifest line ({err})",
                                "restore manifest.jsonl or re-run `emobench run --resume RUN_DIR`") from err
    return records


def read_methods(run_dir: Path) -> dict[str, dict[str, Any]]:
    """methods.json → {method: {"status": ..., "reason": ...}}; accepts a dict or a list of dicts."""
    path = run_dir / "methods.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return {d["name"]: d for d in data if isinstance(d, dict) and "name" in d}
    if isinstance(data, dict) and isinstance(data.get("methods"), (dict, list)):
        inner = data["methods"]
        return inner if isinstance(inner, dict) else {d["name"]: d for d in inner}
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def verified_entries(run_dir: Path, records: Sequence[ImageRecord], problems: list[str]) -> list[Entry]:
    """Entries for records whose PNG exists and matches its sha256; one problem line per bad image."""
    entries = []
    for rec in records:
        path = run_dir / rec.path
        where = f"{rec.method} / {rec.cell.cell_id}"
        if not path.is_file():
            problems.append(f"missing image {rec.path} ({where}): skipped")
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != rec.sha256:
            problems.append(f"corrupt image {rec.path} ({where}): sha256 does not match the manifest; skipped "
                            "(re-run `emobench run --resume RUN_DIR` to regenerate it)")
            continue
        item = ScoreItem(emotion=rec.emotion, prompt=rec.prompt, image_id=rec.sha256)
        entries.append(Entry(rec.method, rec.cell.cell_id, item, lambda p=path: _decode_png(p.read_bytes()), rec))
    return entries


def real_entries(dataset, emotions: Sequence[str], per_emotion: int | None, size: int, template: str,
                 method: str = CONTROL_REAL) -> list[Entry]:
    """Held-out **test** images of each emotion (the first ``per_emotion`` in split order, or all)."""
    entries = []
    for emotion in emotions:
        samples = dataset.by_emotion("test", emotion)
        if per_emotion is not None:
            samples = samples[:per_emotion]
        for s in samples:
            sha = hashlib.sha256(Path(s.image_path).read_bytes()).hexdigest()
            item = ScoreItem(emotion=emotion, prompt=template.format(emotion=emotion), image_id=f"{sha}@{size}")
            entries.append(Entry(method, s.id, item,
                                 lambda s=s: dataset.load_images([s], size=size)[0]))
    return entries


def shuffled_entries(real: Sequence[Entry], template: str, seed: int) -> list[Entry]:
    """The same real images with their emotion labels shuffled (seeded): the chance-level control.

    The shuffle is *balanced*: images are dealt the labels round-robin, true emotion by true emotion (both the
    emotion order and the image order within an emotion seeded-random, from a random starting label). Each
    label then gets as many images as in the real set (±1), each true emotion's images are spread over the
    labels as evenly as possible, and the expected Emo-A over seeds is exactly 1/8 whatever the judge (a plain
    permutation has the same expectation but more spread).
    """
    rng = np.random.default_rng(seed)
    labels = [e for e in EMOTIONS if any(x.item.emotion == e for x in real)]
    out: list[Entry] = []
    j = int(rng.integers(len(labels))) if labels else 0
    for t in rng.permutation(len(labels)):
        group = [e for e in real if e.item.emotion == labels[t]]
        for i in rng.permutation(len(group)):
            e = group[i]
            emotion = labels[j % len(labels)]
            j += 1
            item = ScoreItem(emotion=emotion, prompt=template.format(emotion=emotion), image_id=e.item.image_id)
            out.append(Entry(CONTROL_SHUFFLED, e.cell, item, e.loader))
    return out


# -------------------------------------------------------------------------------------------------- cache

class PackCache:
    """Tensors cached by key in a folder of safetensors *packs* (tensor name = key).

    Things computed together are written as one pack, so a cold run writes a few files rather than one per
    image, and a warm run reads pack headers to find its keys. Packs are content-keyed and never modified;
    concurrent writers only add packs; a torn pack is ignored (recomputed), never trusted.
    """

    def __init__(self, folder: Path):
        self.dir = folder
        self._index: dict[str, Path] | None = None

    def _scan(self) -> dict[str, Path]:
        if self._index is None:
            from safetensors import safe_open

            self._index = {}
            for pack in sorted(self.dir.glob("*.safetensors")) if self.dir.is_dir() else []:
                try:
                    with safe_open(str(pack), "pt") as f:
                        self._index.update({k: pack for k in f.keys()})
                except Exception:
                    continue
        return self._index

    def get_many(self, keys: Sequence[str]) -> dict[str, torch.Tensor]:
        from safetensors import safe_open

        by_pack: dict[Path, list[str]] = {}
        index = self._scan()
        for k in keys:
            if k in index:
                by_pack.setdefault(index[k], []).append(k)
        out: dict[str, torch.Tensor] = {}
        for pack, ks in by_pack.items():
            try:
                with safe_open(str(pack), "pt") as f:
                    for k in ks:
                        out[k] = f.get_tensor(k)
            except Exception:
                continue
        return out

    def put_many(self, tensors: dict[str, torch.Tensor]) -> None:
        if not tensors:
            return
        path = self.dir / f"{stable_hash(sorted(tensors), n=32)}.safetensors"
        _atomic_save({k: v.detach().contiguous() for k, v in tensors.items()}, path)
        if self._index is not None:
            self._index.update({k: path for k in tensors})


class FeatureStore:
    """Per-image features of one feature network, cached by (image id, judges hash, metric feature id, item key)."""

    def __init__(self, metric: Metric, zoo, root: Path):
        self.metric, self.zoo = metric, zoo
        fid = metric.feature_id()
        self.prefix = stable_hash(list(fid) + [zoo.judges_hash])
        self.packs = PackCache(root / "scores" / str(fid[0]) / self.prefix)
        self.memo: dict[str, torch.Tensor] = {}
        self.forwards = 0   # images sent through the metric's network (cache misses)
        self._keys: dict[ScoreItem, str] = {}

    def key(self, item: ScoreItem) -> str:
        k = self._keys.get(item)
        if k is None:
            k = self._keys[item] = stable_hash([item.image_id, self.metric.item_key(item)], n=32)
        return k

    def get(self, entries: Sequence[Entry]) -> torch.Tensor:
        keys = [self.key(e.item) for e in entries]
        need = [k for k in dict.fromkeys(keys) if k not in self.memo]
        if need:
            self.memo.update(self.packs.get_many(need))
        missing = {k: e for k, e in zip(keys, entries) if k not in self.memo}
        if missing:
            self._compute(missing)
        if not keys:
            return torch.zeros(0, 0)
        return torch.stack([self.memo[k] for k in keys])

    def _compute(self, missing: dict[str, Entry]) -> None:
        todo = list(missing.items())
        bs = max(1, self.metric.batch_size)
        for start in range(0, len(todo), bs):
            chunk = todo[start:start + bs]
            images = torch.stack([e.loader() for _, e in chunk])
            feats = self.metric.features(images, [e.item for _, e in chunk], self.zoo)
            self.forwards += len(chunk)
            pack = {k: f.detach().float().contiguous().clone() for (k, _), f in zip(chunk, feats)}
            self.memo.update(pack)
            self.packs.put_many(pack)


class GroupCache:
    """Whole-group results (LPIPS distance matrices) keyed by the group's image ids in order."""

    def __init__(self, metric: Metric, zoo, root: Path):
        self.dir = root / "scores" / metric.name / "groups"
        self.prefix = [metric.name, config_to_dict(metric.config), zoo.judges_hash]

    def path(self, key: str) -> Path:
        return self.dir / f"{stable_hash(self.prefix + [key], n=32)}.safetensors"

    def get(self, key: str) -> dict[str, torch.Tensor] | None:
        p = self.path(key)
        if p.is_file():
            try:
                return load_file(p)
            except Exception:
                return None
        return None

    def put(self, key: str, value: dict[str, torch.Tensor]) -> None:
        _atomic_save({k: v.contiguous() for k, v in value.items()}, self.path(key))


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


class Reference:
    """The dataset's held-out test images per emotion, as the FID/KID reference.

    Its features are cached per emotion by (dataset content hash, size, metric feature id + judges hash), so a
    warm scoring run neither hashes nor decodes the reference images.
    """

    def __init__(self, dataset, emotions: Sequence[str], size: int, template: str, root: Path,
                 per_emotion: int | None = None):
        self.dataset, self.emotions, self.size, self.template = dataset, list(emotions), size, template
        self.per_emotion = per_emotion
        self.dir = root / "reference"
        self.memo: dict[tuple[str, str], torch.Tensor] = {}

    def identity(self) -> list:
        return [getattr(self.dataset, "content_hash", None), self.size, self.per_emotion, "test"]

    def _key(self, store: FeatureStore, emotion: str) -> str:
        return stable_hash([getattr(self.dataset, "content_hash", None), self.size, self.per_emotion, "test",
                            emotion, store.prefix], n=32)

    def features(self, store: FeatureStore, emotion: str) -> torch.Tensor:
        if emotion == ALL:   # the emotions that have test images (a method lacking one has no pooled row)
            parts = []
            for e in self.emotions:
                try:
                    parts.append(self.features(store, e))
                except EmobenchError:
                    continue
            if not parts:
                raise EmobenchError("the dataset has no held-out test images", "use a dataset with a test split")
            return torch.cat(parts)
        memo_key = (store.prefix, emotion)
        if memo_key in self.memo:
            return self.memo[memo_key]
        path = self.dir / f"{self._key(store, emotion)}.safetensors"
        feats = None
        if path.is_file():
            try:
                feats = load_file(path)["f"]
            except Exception:
                feats = None
        if feats is None:
            entries = real_entries(self.dataset, [emotion], self.per_emotion, self.size, self.template)
            if not entries:
                raise EmobenchError(f"the dataset has no held-out test images of {emotion!r}",
                                    "use a dataset whose test split covers every emotion of the run")
            feats = store.get(entries)
            _atomic_save({"f": feats.contiguous()}, path)
        self.memo[memo_key] = feats
        return feats


# ------------------------------------------------------------------------------------------------ results

@dataclass
class Row:
    method: str
    kind: str                 # "method" | "control"
    status: str               # "ok" | "failed" | "skipped"
    metric: str
    emotion: str
    value: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    diff: float = math.nan
    diff_ci_low: float = math.nan
    diff_ci_high: float = math.nan
    p_value: float = math.nan
    p_holm: float = math.nan
    warning: str = ""
    reason: str = ""
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {c: getattr(self, c) for c in SUMMARY_COLUMNS}
        d.update(self.extra)
        return d


@dataclass
class _Series:
    """One (method, column, emotion) statistic with the weights layout needed to pair it with another."""

    stat: GroupStat
    cells: list[str]          # alignment keys of the stat's items, in order
    weights: torch.Tensor     # [B, n] resample counts for those items
    est: Estimate | None = None
    key: str | None = None    # cache key of the point estimate + bootstrap statistics (None: not cached)
    parts: list = field(default_factory=list)   # [(emotion, entries)] the statistic was built from


class _Layout:
    """Canonical cells per emotion and their shared bootstrap draws (same for every method → paired)."""

    def __init__(self, entries_by_group: dict[tuple[str, str], list[Entry]], cfg: BootstrapConfig, stream: str):
        self.cfg, self.stream = cfg, stream
        self.cells: dict[str, list[str]] = {}
        for (_, emotion), es in entries_by_group.items():
            self.cells.setdefault(emotion, [])
            self.cells[emotion].extend(e.cell for e in es)
        self.cells = {e: sorted(set(c)) for e, c in self.cells.items()}
        self.index = {e: {c: i for i, c in enumerate(cs)} for e, cs in self.cells.items()}
        self.draws = {e: draw_weights(len(cs), f"{stream}|{e}", cfg) for e, cs in self.cells.items()}

    def weights(self, emotion: str, cells: Sequence[str]) -> torch.Tensor:
        idx = torch.tensor([self.index[emotion][c] for c in cells], dtype=torch.long)
        return self.draws[emotion][:, idx]


# ------------------------------------------------------------------------------------------------ scoring

@dataclass
class _Population:
    """A set of methods (the run's, or one control) scored on a shared cell layout."""

    kind: str
    groups: dict[tuple[str, str], list[Entry]]       # (method, emotion) → entries in cell order
    layout: _Layout


def _group_entries(entries: Sequence[Entry], emotions: Sequence[str]) -> dict[tuple[str, str], list[Entry]]:
    groups: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.method, e.item.emotion), []).append(e)
    order = {e: i for i, e in enumerate(emotions)}
    return {k: sorted(v, key=lambda e: e.cell) for k, v in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99)))}


class RunScorer:
    """Does the work of ``score_run``; kept as an object so tests can inspect forwards and series."""

    def __init__(self, zoo, bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: Path | None = None,
                 log: Callable[[str], None] | None = None):
        self.zoo = zoo
        self.cfg = bootstrap
        self.root = Path(cache_dir) if cache_dir is not None else cache_root()
        self.log = log or (lambda msg: print(msg, file=sys.stderr))
        self.stores: dict[str, FeatureStore] = {}
        self.problems: list[str] = []
        self.confusion: dict[str, dict[str, Any]] = {}
        self.boot = PackCache(self.root / "bootstrap")
        self.boot_memo: dict[str, torch.Tensor] = {}
        self.boot_new: dict[str, torch.Tensor] = {}

    # ---- per-metric
    def score_metric(self, metric: Metric, pops: Sequence[_Population], reference: "Reference | None",
                     score_rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], _Series]:
        """Series keyed by (method, column, emotion) for every population; raises EmobenchError on failure."""
        self.zoo.require(*metric.requires)
        if metric.needs_reference:
            self.zoo.require("dataset")
            if reference is None or not reference.emotions:
                raise EmobenchError(f"{metric.name} needs the dataset's held-out test images, and none were found",
                                    "use a zoo whose dataset has a test split")
        fresh = FeatureStore(metric, self.zoo, self.root)
        store = self.stores.setdefault(fresh.prefix, fresh)   # metrics with one feature_id share a store
        groups_cache = GroupCache(metric, self.zoo, self.root)
        out: dict[tuple[str, str, str], _Series] = {}

        def make_group(method: str, emotion: str, entries: list[Entry]) -> Group:
            return Group(method, emotion, [e.item for e in entries],
                         features=(lambda es=entries: store.get(es)) if metric.uses_features else _no_features,
                         images=lambda es=entries: torch.stack([e.loader() for e in es]),
                         cache_get=groups_cache.get, cache_put=groups_cache.put)

        ctx = ScoringContext(lambda emotion: reference.features(store, emotion), seed=self.cfg.seed)
        if metric.uses_features:   # one batched pass over every image the metric will see
            store.get([e for pop in pops for es in pop.groups.values() for e in es])
        for pop in pops:
            methods = sorted({m for m, _ in pop.groups})
            for method in methods:
                keys = [k for k in pop.groups if k[0] == method]
                if metric.kind == "per_image":
                    self._per_image(metric, store, pop, method, keys, out, score_rows)
                else:
                    self._set(metric, pop, method, keys, make_group, ctx, out)
            for (method, col, emotion), ser in out.items():
                if ser.key is None and ser.parts and ser.parts[0][1][0].method == method:
                    ser.key = self._series_key(metric, store, pop, col, emotion, ser.parts, reference)
        return out

    def _series_key(self, metric: Metric, store: FeatureStore, pop: "_Population", col: str, emotion: str,
                    parts: list, reference: "Reference | None") -> str:
        """Everything a series' bootstrap statistics depend on: the metric and judges, each item's content,
        label and cell, the population's draws (stream, canonical cells, resamples, seed) and the reference."""
        ref = reference.identity() if (metric.needs_reference and reference is not None) else None
        return stable_hash([metric.name, config_to_dict(metric.config), store.prefix, col, emotion,
                            pop.layout.stream, self.cfg.n_resamples, self.cfg.seed, ref,
                            [[em, pop.layout.cells[em], [[e.cell, e.item.emotion, store.key(e.item)] for e in es]]
                             for em, es in parts]], n=32)

    def _per_image(self, metric, store, pop, method, keys, out, score_rows) -> None:
        all_cols: dict[str, list[tuple[str, torch.Tensor, list[Entry]]]] = {}
        for key in keys:
            entries = pop.groups[key]
            feats = store.get(entries)
            cols = metric.values(feats, [e.item for e in entries])
            if metric.name == "emo-a":
                from emobench.metrics.emotion_accuracy import confusion

                conf = self.confusion.setdefault(method, {"labels": list(EMOTIONS),
                                                           "counts": [[0] * len(EMOTIONS) for _ in EMOTIONS]})
                add = confusion(feats, [e.item for e in entries])
                conf["counts"] = [[a + b for a, b in zip(r1, r2)] for r1, r2 in zip(conf["counts"], add)]
            for col, vals in cols.items():
                all_cols.setdefault(col, []).append((key[1], vals, entries))
                if pop.kind == "method":
                    for e, v in zip(entries, vals.tolist()):
                        r = e.record
                        score_rows.append({"method": r.method, "emotion": r.emotion, "template": r.template,
                                           "seed": r.seed, "key": r.key, "metric": col, "value": v})
        for col, parts in all_cols.items():
            for emotion, vals, entries in parts:
                cells = [e.cell for e in entries]
                out[(method, col, emotion)] = _Series(MeanStat(vals), cells, pop.layout.weights(emotion, cells),
                                                      parts=[(emotion, entries)])
            vals = torch.cat([v for _, v, _ in parts])
            cells = [c for _, _, es in parts for c in (e.cell for e in es)]
            w = torch.cat([pop.layout.weights(em, [e.cell for e in es]) for em, _, es in parts], 1)
            out[(method, col, ALL)] = _Series(MeanStat(vals), cells, w, parts=[(em, es) for em, _, es in parts])

    def _set(self, metric, pop, method, keys, make_group, ctx, out) -> None:
        groups, stats, ws, cells_all = [], [], [], []
        for key in keys:
            entries = pop.groups[key]
            emotion = key[1]
            cells = [e.cell for e in entries]
            if len(entries) < metric.min_images:
                self.problems.append(f"{metric.name}: {method} / {emotion} has {len(entries)} image(s), "
                                     f"needs at least {metric.min_images}; skipped")
                continue
            g = make_group(method, emotion, entries)
            try:
                stat = metric.group_stat(g, ctx, self.zoo)
            except EmobenchError as err:   # e.g. no reference images of this emotion: the other groups go on
                self.problems.append(f"{metric.name}: {method} / {emotion}: {err}")
                continue
            w = pop.layout.weights(emotion, cells)
            out[(method, metric.name, emotion)] = _Series(stat, cells, w, parts=[(emotion, entries)])
            groups.append(g)
            stats.append(stat)
            ws.append(w)
            cells_all.extend(f"{emotion}|{c}" for c in cells)
        if stats and len(stats) == len(keys):
            pooled = metric.pooled_stat(groups, stats, ctx, self.zoo)
            out[(method, metric.name, ALL)] = _Series(pooled, cells_all, torch.cat(ws, 1),
                                                      parts=[(g.emotion, pop.groups[(method, g.emotion)])
                                                             for g in groups])

    # ---- estimates
    def prefetch(self, series: Sequence[_Series]) -> None:
        """Load cached bootstrap results of unchanged series (a warm re-score skips every resample)."""
        keys = [x.key for x in series if x.key is not None and x.key not in self.boot_memo]
        if keys:
            self.boot_memo.update(self.boot.get_many(keys))

    def estimate(self, s: _Series) -> Estimate:
        if s.est is None:
            cached = self.boot_memo.get(s.key) if s.key is not None else None
            if cached is not None and cached.numel() == self.cfg.n_resamples + 1:
                values = cached.double()
            else:
                point = s.stat.evaluate(torch.ones(1, s.stat.n, dtype=torch.float64))
                values = torch.cat([point, _chunked_eval(s.stat, s.weights)])
                if s.key is not None:
                    self.boot_new[s.key] = values
            s.est = estimate(float(values[0]), values[1:], self.cfg)
        return s.est

    def flush(self) -> None:
        self.boot.put_many(self.boot_new)
        self.boot_new = {}

    def paired(self, a: _Series, b: _Series):
        if a.cells == b.cells:
            return paired_difference(self.estimate(a), self.estimate(b), self.cfg)
        # Different cells survived (a corrupt or missing image): compare on the cells both have.
        common = set(a.cells) & set(b.cells)
        ma = torch.tensor([c in common for c in a.cells], dtype=torch.float64)
        mb = torch.tensor([c in common for c in b.cells], dtype=torch.float64)
        if not common:
            return None
        pa = float(a.stat.evaluate(ma[None])[0])
        pb = float(b.stat.evaluate(mb[None])[0])
        ea = estimate(pa, _chunked_eval(a.stat, a.weights * ma), self.cfg)
        eb = estimate(pb, _chunked_eval(b.stat, b.weights * mb), self.cfg)
        return paired_difference(ea, eb, self.cfg)


def _no_features() -> torch.Tensor:
    raise RuntimeError("this metric works on images, not cached features")


def _chunked_eval(stat: GroupStat, weights: torch.Tensor, chunk: int = 250) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([stat.evaluate(weights[i:i + chunk]) for i in range(0, weights.shape[0], chunk)])


def _run_template(records: Sequence[ImageRecord]) -> str:
    templates = sorted({r.template for r in records})
    return templates[0] if templates else "an image of {emotion}"


def resolve_metrics(names: Sequence[str] | None, problems: list[str]) -> list[Metric]:
    names = list(names) if names else metric_names()
    out = []
    for name in names:
        try:
            out.append(load_metric(name))
        except EmobenchError as err:
            problems.append(f"metric {name!r}: {err}")
    return out


def score_run(run_dir: str | Path, zoo, metrics: list[str] | None = None, baseline: str | None = None, *,
              bootstrap: BootstrapConfig = BootstrapConfig(), cache_dir: str | Path | None = None,
              controls: bool = True, control_per_emotion: int | None = None) -> None:
    """Score every image of ``run_dir`` with ``metrics`` (all registered when None) and write the tables.

    ``baseline``: method to compare every other method with (paired differences, Holm-corrected p-values).
    ``control_per_emotion``: real test images per emotion in the control rows (default: the run's largest
    number of images per emotion, so controls and methods have comparable CIs).
    """
    run_dir = Path(run_dir)
    problems: list[str] = []
    records = read_manifest(run_dir)
    methods_info = read_methods(run_dir)
    run_methods = sorted({r.method for r in records})
    if baseline is not None and baseline not in run_methods:
        if baseline not in methods_info:
            raise EmobenchError(f"baseline {baseline!r} is not a method of this run",
                                f"pick one of: {', '.join(run_methods) or '(no images)'}")
        problems.append(f"baseline {baseline!r} has no images (it failed): no paired differences")
        baseline = None
    scorer = RunScorer(zoo, bootstrap, Path(cache_dir) if cache_dir is not None else None)
    entries = verified_entries(run_dir, records, problems)
    metric_objs = resolve_metrics(metrics, problems)
    emotions = [e for e in EMOTIONS if any(r.emotion == e for r in records)]
    template = _run_template(records)

    run_groups = _group_entries(entries, emotions)
    pops = [_Population("method", run_groups, _Layout(run_groups, bootstrap, "cells"))]
    reference: Reference | None = None
    if getattr(zoo, "dataset", None) is not None and emotions:
        size = int(zoo.sampling.height)
        reference = Reference(zoo.dataset, emotions, size, template, scorer.root)
        per_emotion = control_per_emotion or max((len(v) for v in run_groups.values()), default=0) or None
        real = real_entries(zoo.dataset, emotions, per_emotion, size, template) if controls else []
        if real:
            real_groups = _group_entries(real, emotions)
            shuf_groups = _group_entries(shuffled_entries(real, template, bootstrap.seed), emotions)
            pops.append(_Population("control", real_groups, _Layout(real_groups, bootstrap, "real")))
            pops.append(_Population("control", shuf_groups, _Layout(shuf_groups, bootstrap, "shuffled")))
    elif controls:
        problems.append("the zoo has no dataset: real and shuffled control rows are skipped")

    rows: list[Row] = []
    score_rows: list[dict[str, Any]] = []
    kinds = {m: pop.kind for pop in pops for m, _ in pop.groups}
    for metric in metric_objs:
        try:
            series = scorer.score_metric(metric, pops, reference, score_rows)
            scorer.prefetch(list(series.values()))
        except EmobenchError as err:
            problems.append(f"metric {metric.name}: {err}")
            rows.extend(Row(m, kinds.get(m, "method"), "failed", metric.name, ALL, reason=str(err))
                        for m in run_methods)
            continue
        new_rows = _rows_for(scorer, metric, series, kinds, baseline, emotions)
        have = {(r.method, r.emotion) for r in new_rows}
        for m in run_methods:   # a group with no valid image still gets a row, saying why it has no value
            new_rows.extend(Row(m, "method", "skipped", metric.name, e,
                                reason="no value for some emotion" if e == ALL else "no valid images")
                            for e in list(emotions) + [ALL] if (m, e) not in have)
        rows.extend(new_rows)
    problems = problems + scorer.problems

    for name, info in methods_info.items():
        if str(info.get("status", "ok")) != "ok":
            reason = str(info.get("reason") or "failed")
            rows = [r for r in rows if r.method != name]
            rows.extend(Row(name, "method", "failed", m.name, ALL, reason=reason) for m in metric_objs)
    _apply_holm(rows)
    scorer.flush()
    _write_outputs(run_dir, rows, score_rows, scorer, problems, baseline, bootstrap, zoo, metric_objs)
    for p in problems:
        scorer.log(f"emobench score: {p}")


def _rows_for(scorer: RunScorer, metric: Metric, series: dict[tuple[str, str, str], _Series],
              kinds: dict[str, str], baseline: str | None, emotions: Sequence[str]) -> list[Row]:
    rows = []
    for (method, col, emotion), s in series.items():
        est = scorer.estimate(s)
        row = Row(method, kinds.get(method, "method"), "ok", col, emotion, est.value, est.ci_low, est.ci_high,
                  n=s.stat.n, warning=getattr(s.stat, "warning", ""), extra=dict(getattr(s.stat, "extra", {})))
        if baseline and method != baseline and kinds.get(method) == "method":
            b = series.get((baseline, col, emotion))
            if b is not None:
                d = scorer.paired(s, b)
                if d is not None:
                    row.diff, row.diff_ci_low, row.diff_ci_high, row.p_value = d.diff, d.ci_low, d.ci_high, d.p_value
        rows.append(row)
    order = {e: i for i, e in enumerate(list(emotions) + [ALL])}
    return sorted(rows, key=lambda r: (r.kind != "method", r.method, r.metric, order.get(r.emotion, 99)))


def _apply_holm(rows: list[Row]) -> None:
    """Holm across all comparisons of one emotion level (the "all" rows form the headline family)."""
    families: dict[str, list[Row]] = {}
    for r in rows:
        if math.isfinite(r.p_value):
            families.setdefault(r.emotion, []).append(r)
    for fam in families.values():
        for r, p in zip(fam, holm([r.p_value for r in fam])):
            r.p_holm = p


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _write_outputs(run_dir: Path, rows: list[Row], score_rows: list[dict[str, Any]], scorer: RunScorer,
                   problems: list[str], baseline: str | None, cfg: BootstrapConfig, zoo,
                   metrics: Sequence[Metric]) -> None:
    _atomic_write_csv(run_dir / "scores.csv", SCORE_COLUMNS, score_rows)
    _atomic_write_csv(run_dir / "summary.csv", SUMMARY_COLUMNS, [r.as_dict() for r in rows])
    summary = {
        "baseline": baseline,
        "bootstrap": {"n_resamples": cfg.n_resamples, "seed": cfg.seed, "alpha": cfg.alpha,
                      "unit": "cell, stratified by emotion; paired across methods",
                      "p_value": "two-sided paired bootstrap", "correction": "Holm within each emotion level"},
        "judges_hash": zoo.judges_hash,
        "metrics": {m.name: {"config": config_to_dict(m.config), "higher_is_better": m.higher_is_better}
                    for m in metrics},
        "problems": problems,
        "rows": [{k: _clean(v) for k, v in r.as_dict().items()} for r in rows],
    }
    _atomic_write_text(run_dir / "summary.json", json.dumps(summary, indent=1, sort_keys=False))
    if scorer.confusion:
        _atomic_write_text(run_dir / "confusion.json", json.dumps(scorer.confusion, indent=1))


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _atomic_write_csv(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
    _atomic_write_text(path, buf.getvalue())
