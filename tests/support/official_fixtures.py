"""A clone-shaped folder of the official EmoGen repository's files, in their shapes and formats (nothing is
downloaded): emotion space tensors, the Emo-A classifier, an LFS pointer, and the dataset_balance pickles."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from emobench.emotions import EMOTIONS


def write_official_repo(root: Path, width: int = 768, ids: dict[str, list[str]] | None = None,
                        objects: dict[str, list[str]] | None = None, scenes: dict[str, list[str]] | None = None
                        ) -> Path:
    """A clone-shaped folder with files of the official shapes and formats."""
    g = torch.Generator().manual_seed(0)
    (root / "emo_space").mkdir(parents=True)
    for e in EMOTIONS:
        torch.save(torch.randn(width, generator=g), root / "emo_space" / f"{e}_mean_v2.pt")
        torch.save(torch.rand(width, generator=g) + 0.1, root / "emo_space" / f"{e}_std_v2.pt")
    (root / "weights" / "Clip_emotion_classifier").mkdir(parents=True)
    torch.save({"fc.weight": torch.randn(8, 768, generator=g), "fc.bias": torch.randn(8, generator=g)},
               root / "weights" / "Clip_emotion_classifier" / "time_2023-11-12_03-29-best.pth")
    (root / "weights" / "image_encoder").mkdir()
    (root / "weights" / "image_encoder" / "2023-08-22-best.pth").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:646ee880\nsize 108913577\n")
    db = root / "dataset_balance"
    db.mkdir()
    objects = objects or {"amusement": ["dessert", "christmas_tree"], "fear": ["tower", "spider"]}
    scenes = scenes or {"awe": ["tower", "mountain"], "sadness": ["cemetery"]}
    for kind, lists in (("object", objects), ("scene", scenes)):
        with open(db / f"{kind}_attr.pkl", "wb") as f:
            pickle.dump({f"attr_{e}": lists.get(e, []) for e in EMOTIONS}, f)
        names = sorted({n for lst in lists.values() for n in lst})
        coef = {n: (np.arange(8, dtype=np.float32) + i + (kind == "object")) / 100 for i, n in enumerate(names)}
        with open(db / f"attr_coefficient_emotion_{kind}.pkl", "wb") as f:
            pickle.dump(coef, f)
        paths = [f"/mnt/d/dataset/EmoSet/0103_split_to_folder/{kind}/(12){a}/{i}.jpg"
                 for i, a in ((ids or {}).get(kind) or [("fear_00001", names[0])])]
        with open(db / f"{kind}_norepeat.pkl", "wb") as f:
            pickle.dump(paths, f)
    return root
