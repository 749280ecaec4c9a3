"""The one EmoSet loader: reads real EmoSet-118K and EmoSet-mini alike.

Both share EmoSet's layout: ``ROOT/{train,val,test}.json`` list rows ``[emotion, image_id, image_rel,
annotation_rel]`` (EmoSet-118K's format; 3-element rows without the id are accepted too), and each
annotation JSON has ``emotion``, ``brightness``, ``colorfulness``, ``scene``, ``object`` (a list) and, in
EmoSet-mini only, ``caption``. Real EmoSet has .jpg images; EmoSet-mini has .png.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class EmoSample:
    id: str
    emotion: str
    image_path: Path
    objects: tuple[str, ...]
    scene: str | None
    brightness: float | None
    colorfulness: float | None
    caption: str | None


def _words(name: str) -> str:
    return name.replace("_", " ").strip().lower()


class EmoSetDataset:
    """An EmoSet-layout folder. Split rows and annotations are read lazily, once, and cached."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise EmobenchError(f"EmoSet folder {self.root} does not exist",
                                "pass a folder with image/, annotation/ and train.json, val.json, test.json "
                                "(write one with `emobench zoo world`)")
        missing = [p for p in ("image", "annotation") if not (self.root / p).is_dir()]
        missing += [f"{s}.json" for s in SPLITS if not (self.root / f"{s}.json").is_file()]
        if missing:
            raise EmobenchError(f"EmoSet folder {self.root} lacks {', '.join(missing)}",
                                "it should hold image/<emotion>/, annotation/<emotion>/ and the split files "
                                "train.json, val.json, test.json")
        self._splits: dict[str, list[EmoSample]] = {}

    def __repr__(self) -> str:
        return f"EmoSetDataset({str(self.root)!r})"

    # ------------------------------------------------------------------ splits
    def _rows(self, name: str) -> list[list[str]]:
        path = self.root / f"{name}.json"
        try:
            rows = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise EmobenchError(f"split file {path} is unreadable ({err})",
                                "it should be a JSON list of [emotion, image_id, image_path, annotation_path]")
        if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) in (3, 4) for r in rows):
            raise EmobenchError(f"split file {path} is not a list of EmoSet rows",
                                "each row should be [emotion, image_id, image_path, annotation_path]")
        return rows

    def _annotation(self, path: Path) -> dict:
        try:
            ann = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise EmobenchError(f"annotation {path} is missing or damaged ({err})",
                                "each split row must point at a JSON annotation with at least 'emotion'")
        if not isinstance(ann, dict):
            raise EmobenchError(f"annotation {path} is not a JSON object", "rewrite the dataset folder")
        return ann

    def split(self, name: str) -> list[EmoSample]:
        """All samples of ``"train"``, ``"val"`` or ``"test"``, in split-file order."""
        if name not in SPLITS:
            raise EmobenchError(f"unknown EmoSet split {name!r}", f"use one of {', '.join(SPLITS)}")
        if name not in self._splits:
            samples = []
            for row in self._rows(name):
                emotion, img_rel, ann_rel = row[0], row[-2], row[-1]
                if emotion not in EMOTIONS:
                    raise EmobenchError(f"{self.root / (name + '.json')} names unknown emotion {emotion!r}",
                                        f"emotions must be among {', '.join(EMOTIONS)}")
                ann = self._annotation(self.root / ann_rel)
                objects = ann.get("object") or []
                if isinstance(objects, str):
                    objects = [objects]
                samples.append(EmoSample(
                    id=row[1] if len(row) == 4 else Path(img_rel).stem,
                    emotion=emotion,
                    image_path=self.root / img_rel,
                    objects=tuple(objects),
                    scene=ann.get("scene"),
                    brightness=None if ann.get("brightness") is None else float(ann["brightness"]),
                    colorfulness=None if ann.get("colorfulness") is None else float(ann["colorfulness"]),
                    caption=ann.get("caption"),
                ))
            self._splits[name] = samples
        return self._splits[name]

    def by_emotion(self, name: str, emotion: str) -> list[EmoSample]:
        if emotion not in EMOTIONS:
            raise EmobenchError(f"unknown emotion {emotion!r}", f"use one of {', '.join(EMOTIONS)}")
        return [s for s in self.split(name) if s.emotion == emotion]

    @cached_property
    def objects(self) -> list[str]:
        return sorted({o for s in SPLITS for x in self.split(s) for o in x.objects})

    @cached_property
    def scenes(self) -> list[str]:
        return sorted({x.scene for s in SPLITS for x in self.split(s) if x.scene})

    def check_images(self, splits: Iterable[str] = SPLITS) -> int:
        """Check that every image the split files reference exists (a ``stat`` each, no decoding); returns how
        many there are. One ``EmobenchError`` names the first missing file and how many are missing, so a
        run stops before it generates anything instead of failing on a disk error at scoring time."""
        missing, first, total = 0, None, 0
        for name in splits:
            for row in self._rows(name):
                total += 1
                if not (self.root / row[-2]).is_file():
                    missing += 1
                    first = first or f"{row[-2]} ({name}.json)"
        if missing:
            raise EmobenchError(f"EmoSet at {self.root}: {missing} of {total} referenced images are missing; "
                                f"the first is {first}",
                                "restore the missing images (or re-download EmoSet) so the split files and "
                                "image/ agree")
        return total

    @cached_property
    def content_hash(self) -> str:
        """sha256 over the split files and every annotation they name (not pixels), truncated to 16 hex.

        Remembered under ``$EMOBENCH_CACHE/dataset-hashes/`` keyed by the split files' bytes and every
        annotation's size and modification time (a stat is cheaper than a read: about a second of a finished
        run's resume), so any change to a file the hash covers computes it afresh; nothing is written into
        the dataset folder."""
        from emobench.io.files import cache_root, write_json

        stats = hashlib.sha256(str(self.root.resolve()).encode())
        rows = {}
        for name in SPLITS:
            split = (self.root / f"{name}.json").read_bytes()
            stats.update(name.encode() + b"\0" + hashlib.sha256(split).digest())
            rows[name] = self._rows(name)
            for row in rows[name]:
                try:
                    st = (self.root / row[-1]).stat()
                except OSError as err:
                    raise EmobenchError(f"annotation {self.root / row[-1]} is missing ({err})",
                                        "rewrite the dataset folder") from None
                stats.update(f"{row[-1]}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        memo = cache_root() / "dataset-hashes" / f"{stats.hexdigest()[:32]}.json"
        try:
            known = json.loads(memo.read_text()).get("content_hash")
            if isinstance(known, str) and len(known) == 16:
                return known
        except (OSError, ValueError, AttributeError):
            pass
        h = hashlib.sha256()
        for name in SPLITS:
            h.update(name.encode() + b"\0" + (self.root / f"{name}.json").read_bytes())
            for row in rows[name]:
                path = self.root / row[-1]
                try:
                    h.update(row[-1].encode() + b"\0" + path.read_bytes())
                except OSError as err:
                    raise EmobenchError(f"annotation {path} is missing ({err})", "rewrite the dataset folder")
        digest = h.hexdigest()[:16]
        try:
            write_json(memo, {"root": str(self.root), "content_hash": digest})
        except OSError:
            pass   # a read-only cache only costs the next run the same second
        return digest

    # ------------------------------------------------------------------ content
    def caption(self, sample: EmoSample) -> str:
        """EmoSet-mini's own caption; for real EmoSet, "a photo of a {object} in a {scene}" from annotations."""
        if sample.caption:
            return sample.caption
        obj = _words(sample.objects[0]) if sample.objects else None
        scene = _words(sample.scene) if sample.scene else None
        if obj and scene:
            return f"a photo of a {obj} in a {scene}"
        if obj or scene:
            return f"a photo of a {obj or scene}"
        return "a photo"

    def load_images(self, samples: Iterable[EmoSample], size: int | None = None) -> torch.Tensor:
        """float [N,3,H,W] in [0,1]. With ``size``: centre-crop to square, resize with antialiasing."""
        out = []
        for s in samples:
            try:
                with Image.open(s.image_path) as im:
                    arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
            except OSError as err:
                raise EmobenchError(f"image {s.image_path} is missing or damaged ({err})",
                                    "rewrite or re-download the dataset folder")
            t = torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)
            if size is not None:
                _, h, w = t.shape
                m = min(h, w)
                t = t[:, (h - m) // 2:(h - m) // 2 + m, (w - m) // 2:(w - m) // 2 + m]
                if m != size:
                    t = F.interpolate(t[None], size=(size, size), mode="bilinear", antialias=True,
                                      align_corners=False)[0].clamp_(0, 1)
            out.append(t)
        if not out:
            return torch.zeros(0, 3, size or 0, size or 0)
        shapes = {tuple(t.shape) for t in out}
        if len(shapes) > 1:
            raise EmobenchError(f"images have different sizes {sorted(shapes)[:3]}",
                                "pass size= to load_images to resize them to one square size")
        return torch.stack(out)
