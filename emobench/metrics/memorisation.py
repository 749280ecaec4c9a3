"""Memorisation: does a method copy its training images?

For every generated image, its nearest **training** image (Euclidean) in two feature spaces: the zoo's FID
features (at mini scale the primary judge's penultimate layer) and its CLIP image features. What "near" means
is read from real images that cannot be copies: the nearest-training-image distances of the held-out **test**
images (an evenly spaced subset of ``threshold_images``, 2000 by default). An image is counted a copy when it
lies closer to a training image than the ``percentile``-th (5th) percentile of those real distances:

* ``copy-rate``: share of a method's images that are copies on the FID features;
* ``copy-rate-clip``: the same on CLIP features.

Held-out real images score ``percentile`` % by construction (the real control reads about 5 %); a method that
reproduces training images scores near 100 %. Per-image values, so the interval is the scorer's bootstrap over
cells and fits. The closest pairs (generated | nearest training image) of each method go to
``memorisation.json`` (the training image embedded, since a report reads no dataset), which the report draws.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch

from emobench.api import PerImageMetric, ScoreItem
from emobench.errors import EmobenchError
from emobench.metrics.nearest_train import SPACES, SplitFeatures, image_features, nearest, split_features

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

TABLE = "memorisation.json"
THUMB = 128   # training images larger than this are embedded as thumbnails (paper scale is 512 px)
COLUMNS = {"fid-features": "copy-rate", "clip-image": "copy-rate-clip"}


@dataclass(frozen=True)
class CopyConfig:
    percentile: float = 5.0        # of the real test images' nearest-training-image distances
    threshold_images: int = 2000   # real test images the threshold is read from (evenly spaced); 0: all
    pairs: int = 8                 # closest pairs per method kept for the report
    train_images: int = 0          # training images searched (evenly spaced); 0: all (a subset misses copies)


def png_base64(path: Path) -> str:
    """A training image's PNG bytes as base64 (a thumbnail when it is larger than ``THUMB``)."""
    from PIL import Image

    data = Path(path).read_bytes()
    img = Image.open(io.BytesIO(data))
    if max(img.size) > THUMB or img.format != "PNG":
        img = img.convert("RGB")
        img.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
    return base64.b64encode(data).decode("ascii")


class CopyRate(PerImageMetric):
    name = "copy-rate"
    Config = CopyConfig
    label, decimals, percent, unit, order = "Copy rate", 1, True, "%", 40
    requires = ("judges.fid_features", "clip", "dataset")
    higher_is_better = False

    def __init__(self, config: Any = None):
        super().__init__(config)
        if not 0 < float(self.config.percentile) < 100:
            raise EmobenchError(f"copy-rate: percentile must lie in (0, 100), got {self.config.percentile}",
                                "pass percentile=5")
        self.train: SplitFeatures | None = None
        self.thresholds: dict[str, float] = {}
        self.content_hash: list | None = None   # the training split's identity: content hash, image size
        self._pairs: dict[str, list[dict[str, Any]]] = {}

    def prepare(self, zoo: "Zoo") -> None:
        from emobench.io.files import cache_root

        root = cache_root()
        self.train = split_features(zoo, "train", root, limit=int(self.config.train_images))
        test = split_features(zoo, "test", root, limit=int(self.config.threshold_images))
        q = float(self.config.percentile) / 100
        self.thresholds = {s: float(torch.quantile(nearest(test.feats[s], self.train.feats[s])[0].float().double(), q))
                           for s in SPACES}
        self.content_hash = [getattr(zoo.dataset, "content_hash", None), int(zoo.sampling.height),
                             int(self.config.train_images)]
        self._pairs = {}

    def _ready(self) -> SplitFeatures:
        if self.train is None:
            raise RuntimeError("copy-rate: prepare(zoo) was not called before scoring")
        return self.train

    def feature_id(self) -> list:
        # the nearest training image depends on the training split, not on the percentile or the pair count
        return [self.name, self.content_hash]

    def display(self) -> dict[str, dict[str, Any]]:
        base = super().display()[self.name]
        facts = {"percentile": float(self.config.percentile), "pairs_table": TABLE,
                 "train_images": len(self.train.samples) if self.train is not None else None,
                 "reference": "nearest-training-image distances of held-out test images"}
        return {col: {**base, **facts, "label": "Copy rate" + (" (CLIP)" if space == "clip-image" else ""),
                      "features": space, "threshold": self.thresholds.get(space),
                      "order": self.order + i, "bars": i == 0} for i, (space, col) in enumerate(COLUMNS.items())}

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        train = self._ready()
        out = []
        for space, f in image_features(zoo, images, self.batch_size).items():
            d, i = nearest(f, train.feats[space])
            out += [d, i.double()]
        return torch.stack(out, 1).float()   # [N, 4]: distance, index per space (SPACES order)

    def values(self, feats: torch.Tensor, items: Sequence[ScoreItem]) -> dict[str, torch.Tensor]:
        f = feats.double()
        return {col: (f[:, 2 * k] < self.thresholds[space]).double() for k, (space, col) in enumerate(COLUMNS.items())}

    def extra_tables(self, method: str, feats: torch.Tensor, items: Sequence[ScoreItem],
                     tables: dict[str, Any]) -> None:
        """Keeps each method's closest pairs (by distance over threshold, the smaller of the two spaces)."""
        from emobench.rundir.layout import split_label

        train = self._ready()
        base, fit = split_label(method)
        mine = self._pairs.setdefault(base, [])
        for row, item in zip(feats.double().tolist(), items):
            if "@" in item.image_id:   # a real image (controls): not in the run folder, nothing to show
                continue
            ratios = [(row[2 * k] / max(self.thresholds[s], 1e-12), s, row[2 * k], int(row[2 * k + 1]))
                      for k, s in enumerate(SPACES)]
            ratio, space, dist, idx = min(ratios)
            mine.append({"image": item.image_id, "emotion": item.emotion, "fit_seed": fit, "features": space,
                         "distance": dist, "ratio": ratio, "train_index": idx})
        mine.sort(key=lambda p: (p["ratio"], p["image"]))
        seen: set[str] = set()   # an image drawn in several cells (a template-blind or collapsed method) once
        mine[:] = [p for p in mine if not (p["image"] in seen or seen.add(p["image"]))][:int(self.config.pairs)]
        if not mine:
            return
        table = tables.setdefault(TABLE, {
            "kind": "image-pairs", "title": "Closest pairs: generated image | nearest training image",
            "note": (f"distance / threshold: below 1 means closer to a training image than "
                     f"{100 - float(self.config.percentile):g} % of held-out real images are"),
            "thresholds": dict(self.thresholds), "percentile": float(self.config.percentile), "methods": {}})
        table["methods"][base] = [
            {**p, "train_id": str(train.samples[p["train_index"]].id),
             "train_emotion": str(getattr(train.samples[p["train_index"]], "emotion", "")),
             "train_png": png_base64(train.samples[p["train_index"]].image_path)} for p in mine]
