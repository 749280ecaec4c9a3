"""``emobench zoo make-tiny-paper DIR``: a tiny, random-weight zoo in the paper zoo's exact layout, for a dry run.

Every part is in the format the paper zoo's loader reads (``emobench/zoo/paper.py``), so ``emobench run --zoo
DIR/paper.toml`` exercises the whole paper path on CPU in minutes before anyone downloads gigabytes:

* ``stable-diffusion/``: a diffusers ``StableDiffusionPipeline.save_pretrained`` folder (the tiny test zoo's);
* ``clip/``: a transformers ``CLIPModel`` + ``CLIPTokenizer`` folder;
* ``EmoSet/``: an EmoSet-format dataset (``image/``, ``annotation/``, ``train|val|test.json``);
* ``judges/``: the judges' own file formats, random weights of the exact architectures and state-dict keys:
  torchvision ResNet ``.pth`` (object), the Places365 ``.pth.tar`` with ``module.`` prefixes (scene) and its
  category file, torch-fidelity's Inception-v3 (``weights-inception-2015-12-05-6726825d.pth``, float16 as
  torch-fidelity ships it) and torchvision AlexNet ``features.*`` (LPIPS);
* ``emo-a-probe/``: the Emo-A probe, trained by ``fit-judges`` on the tiny dataset;
* ``paper.toml`` with paths relative to itself (the folder can be moved).

The weights are random: the scores mean nothing, and the loader records each file's hash as unknown (not the
official file), so a report never shows the paper's reference numbers for it. The Sem-C judges are ResNet-18
(``arch = "resnet18"``) to stay small; the loading code is the ResNet-50 code.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Mapping

from emobench.errors import EmobenchError

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"   # torch-fidelity's file name


def write_judge_files(root: Path, seed: int = 0) -> dict[str, Path]:
    """Random-weight judges in the paper's file formats under ``root``; returns {part: file}."""
    import torch
    import torchvision

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
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
    files["fid"] = root / INCEPTION_FILE
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in _random_inception().items()}, files["fid"])
    alex = torchvision.models.alexnet(weights=None)
    files["lpips"] = root / "alexnet-owt-7be5be79.pth"
    torch.save({k: v for k, v in alex.state_dict().items() if k.startswith("features.")}, files["lpips"])
    return files


def _random_inception() -> dict:
    """torch-fidelity's Inception-v3 state dict with its random initial weights.

    Its constructor always fetches the official file; here the fetch returns nothing and the load is skipped
    (nothing is downloaded), which leaves the exact architecture and keys the loader checks."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        inception = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    return inception.state_dict()


def paper_toml(path: Path, pipeline: Path | str, clip: Path | str, dataset: Path | str,
               judges: Mapping[str, Path | str], probe: str = "emo-a-probe", name: str = "paper-tiny",
               size: int = 32, steps: int = 4) -> Path:
    """Write a paper-zoo TOML naming these parts (relative paths are relative to the TOML's folder)."""
    path.write_text(f'''name = "{name}"

[runtime]
device = "cpu"

[sampling]
num_inference_steps = {steps}
guidance_scale = 5.0
height = {size}
width = {size}

[pipeline]
path = "{pipeline}"

[clip]
path = "{clip}"

[dataset]
path = "{dataset}"

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


def make_tiny_paper(out: str | Path, seed: int = 0, fit_probe: bool = True) -> Path:
    """Write the tiny paper-layout zoo into ``out`` (absent or empty) and return its ``paper.toml``."""
    from emobench.zoo.tiny import build_tiny_zoo

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmobenchError(f"{out} exists and is not an empty folder", "pass a new folder for make-tiny-paper")
    out.mkdir(parents=True, exist_ok=True)
    try:
        build = build_tiny_zoo(out / ".build", seed)
        for src, dst in (("pipeline", "stable-diffusion"), ("clip", "clip"), ("dataset", "EmoSet")):
            (build / src).rename(out / dst)
        shutil.rmtree(build)
        files = write_judge_files(out / "judges", seed)
        rel = {k: v.relative_to(out).as_posix() for k, v in files.items()}
        toml = paper_toml(out / "paper.toml", "stable-diffusion", "clip", "EmoSet", rel)
        if fit_probe:
            from emobench.zoo.fit_judges import fit_judges

            fit_judges(toml)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)   # nothing half-made is left behind
        raise
    return toml


def add_parser(sub) -> None:
    from emobench.cliargs import SEED   # range-checked while parsing

    """Adds ``make-tiny-paper`` to the ``emobench zoo`` sub-commands."""
    p = sub.add_parser("make-tiny-paper", help="write a tiny random-weight zoo in the paper layout (a dry run)",
                       description="Write DIR/paper.toml and every part it names (SD folder, CLIP, EmoSet-format "
                                   "data, judge files in their official formats, the Emo-A probe), tiny and "
                                   "random, so `emobench run --zoo DIR/paper.toml` tries the paper path on CPU.")
    p.add_argument("out", type=Path, metavar="DIR", help="new or empty folder")
    p.add_argument("--seed", type=SEED, default=0)
    p.set_defaults(func=main)


def main(args) -> int:
    toml = make_tiny_paper(args.out, args.seed)
    print(f"tiny paper zoo written; try: emobench run --zoo {toml} --emotions amusement,fear --n-per-emotion 1 "
          '--methods "sd,textual-inversion:steps=2:max_images=4,dreambooth:steps=2:max_images=4,emogen:steps=2"')
    print(toml)
    return 0
