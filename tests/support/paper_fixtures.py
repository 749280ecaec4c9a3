"""A paper-zoo TOML pointing at tiny saved models: the tiny zoo's SD pipeline, CLIP and EmoSet-format dataset,
plus randomly initialised judges in the paper's own file formats (torchvision ``.pth`` state dicts, the
Places365 ``.pth.tar`` layout with ``module.`` prefixes, torch-fidelity's Inception, AlexNet features).

The Sem-C judges use ``arch = "resnet18"`` to keep the test fast; the loading code is the ResNet-50 code.
"""
from __future__ import annotations

from pathlib import Path
from unittest import mock

import torch
import torchvision


def write_judge_files(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    files = {}
    imagenet = torchvision.models.resnet18(weights=None, num_classes=1000)
    files["object"] = root / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), files["object"])
    places = torchvision.models.resnet18(weights=None, num_classes=365)
    files["scene"] = root / "resnet18_places365.pth.tar"
    torch.save({"epoch": 1, "arch": "resnet18",
                "state_dict": {f"module.{k}": v for k, v in places.state_dict().items()}}, files["scene"])
    files["scene_labels"] = root / "categories_places365.txt"
    files["scene_labels"].write_text("".join(f"/s/scene_{i} {i}\n" for i in range(365)))
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        inception = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    files["fid"] = root / "weights-inception-2015-12-05-6726825d.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in inception.state_dict().items()}, files["fid"])
    alex = torchvision.models.alexnet(weights=None)
    files["lpips"] = root / "alexnet-owt-7be5be79.pth"
    torch.save({k: v for k, v in alex.state_dict().items() if k.startswith("features.")}, files["lpips"])
    return files


def write_paper_toml(path: Path, zoo_dir: Path, judges: dict[str, Path], probe: str = "emo-a-probe") -> Path:
    path.write_text(f'''name = "paper-tiny"

[runtime]
device = "cpu"

[sampling]
num_inference_steps = 4
guidance_scale = 5.0
height = 32
width = 32

[pipeline]
path = "{zoo_dir / 'pipeline'}"

[clip]
path = "{zoo_dir / 'clip'}"

[dataset]
path = "{zoo_dir / 'dataset'}"

[judges.emotion]
path = "{probe}"

[judges.object]
path = "{judges['object']}"
arch = "resnet18"

[judges.scene]
path = "{judges['scene']}"
arch = "resnet18"
labels = "{judges['scene_labels']}"

[judges.fid]
path = "{judges['fid']}"

[judges.lpips]
path = "{judges['lpips']}"
''')
    return path
