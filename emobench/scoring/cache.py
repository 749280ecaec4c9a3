"""The score cache under ``$EMOBENCH_CACHE`` (default ``~/.cache/emobench``): per-image features, LPIPS
pair-distance matrices, bootstrap statistics. All safetensors, content-keyed; nothing is unpickled."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file

from emobench.api import Metric, ScoreItem, config_to_dict, stable_hash
from emobench.io.files import atomic_save_tensors
from emobench.scoring.validate import check_features


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
        atomic_save_tensors({k: v.detach().contiguous() for k, v in tensors.items()}, path)
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
        self.progress = False   # a bar per batch of misses (scoring's slow part: minutes at paper scale)

    def key(self, item: ScoreItem) -> str:
        k = self._keys.get(item)
        if k is None:
            k = self._keys[item] = stable_hash([item.image_id, self.metric.item_key(item)], n=32)
        return k

    def get(self, entries: Sequence[Any]) -> torch.Tensor:
        """Features of ``entries`` (``scoring.inputs.Entry``: ``.item`` and ``.loader``), computing the misses."""
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

    def _compute(self, missing: dict[str, Any]) -> None:
        from tqdm.auto import tqdm

        todo = list(missing.items())
        bs = max(1, self.metric.batch_size)
        with tqdm(total=len(todo), desc=f"scoring {self.metric.name}", unit="img", leave=False,
                  disable=None if self.progress else True) as bar:
            for start in range(0, len(todo), bs):
                chunk = todo[start:start + bs]
                images = torch.stack([e.loader() for _, e in chunk])
                feats = check_features(self.metric, self.metric.features(images, [e.item for _, e in chunk],
                                                                         self.zoo), len(chunk))
                self.forwards += len(chunk)
                pack = {k: f.detach().float().contiguous().clone() for (k, _), f in zip(chunk, feats)}
                self.memo.update(pack)
                self.packs.put_many(pack)
                bar.update(len(chunk))


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
        atomic_save_tensors({k: v.contiguous() for k, v in value.items()}, self.path(key))
