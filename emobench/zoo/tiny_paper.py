"""``emobench zoo make-tiny-paper DIR``: a tiny, random-weight zoo in the paper zoo's exact layout, for a dry run.

Every part is in the format the paper zoo's loader reads (``emobench/zoo/paper.py``), so ``emobench run --zoo
DIR/paper.toml`` exercises the whole paper path on CPU in minutes before anyone downloads gigabytes:

* ``stable-diffusion/``: a diffusers ``StableDiffusionPipeline.save_pretrained`` folder in SD 1.5's own layout
  (``AutoencoderKL`` with 4 latent channels, ``CLIPTextModel`` with 77 positions, SD 1.5's ``PNDMScheduler``
  config: ``emobench.zoo.tiny_sd``), sampled at 64 px;
* ``clip/``: a transformers ``CLIPModel`` + ``CLIPTokenizer`` folder (77 text positions, as ViT-L/14);
* ``EmoSet/``: an EmoSet-format dataset (``image/``, ``annotation/``, ``train|val|test.json``) with every emotion
  in every split (12 / 4 / 4 images per emotion), so FID/KID and the real-image controls are never empty;
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

import json
import shutil
from pathlib import Path
from typing import Mapping

from emobench.errors import EmobenchError

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"   # torch-fidelity's file name
PER_EMOTION = {"train": 12, "val": 4, "test": 4}   # images per emotion and split of the tiny EmoSet
DRY_RUN = ('--emotions amusement,fear --n-per-emotion 2 --methods "sd,textual-inversion:steps=2:max_images=4,'
           'dreambooth:steps=2:max_images=4,emogen:steps=2:stage1_steps=2:encoder_init=none"')   # docs/paper-scale.md, section 0


def write_judge_files(root: Path, seed: int = 0) -> dict[str, Path]:
    """Random-weight judges in the paper's file formats under ``root``; returns {part: file}."""
    import torch
    import torchvision

    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    files = {}
    imagenet = _calibrated(torchvision.models.resnet18(weights=None, num_classes=1000))
    files["object"] = root / "resnet18-imagenet.pth"
    torch.save(imagenet.state_dict(), files["object"])
    places = _calibrated(torchvision.models.resnet18(weights=None, num_classes=365))
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


def _calibrated(net, uint8: bool = False, size: int = 64):
    """``net`` with its batch-norm statistics set from one batch of random images (momentum None, train mode).

    At their initial statistics (mean 0, variance 1) a random deep network's activations shrink layer by layer:
    the random Inception's 2048-d features came out ~1e-8 for every image, so FID and KID were 0 for every
    method and the dry run tested nothing of them. Calibrated, the features keep unit scale and differ per image."""
    import torch

    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None          # a cumulative average: one batch sets the statistics exactly
    images = torch.rand(16, 3, size, size)
    net.train()
    with torch.no_grad():
        net((images * 255).round().to(torch.uint8) if uint8 else images)
    for m in bns:
        m.momentum = 0.1           # torch's default: the saved module is an ordinary one
    return net.eval()


def _random_inception() -> dict:
    """torch-fidelity's Inception-v3 state dict with random weights (batch norm calibrated: ``_calibrated``).

    Its constructor always fetches the official file; here the fetch returns nothing and the load is skipped
    (nothing is downloaded), which leaves the exact architecture and keys the loader checks."""
    from unittest import mock

    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None):
        inception = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    return _calibrated(inception, uint8=True).state_dict()


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


def write_balanced_emoset(out: Path, seed: int = 0, per_emotion: Mapping[str, int] = PER_EMOTION) -> Path:
    """An EmoSet-format folder with exactly ``per_emotion[split]`` images of every emotion in every split, drawn
    from the EmoSet-mini world (whose emotion marginal is uneven: a plain small draw can miss an emotion)."""
    from emobench.emotions import EMOTIONS
    from emobench.world import write_emoset_mini

    scale = 4
    while True:   # draw more until each split holds enough of every emotion (deterministic for a seed)
        draw = out.parent / f".{out.name}.draw"
        shutil.rmtree(draw, ignore_errors=True)
        write_emoset_mini(draw, seed=seed, **{f"n_{s}": n * len(EMOTIONS) * scale for s, n in per_emotion.items()})
        picked = {}
        for split, k in per_emotion.items():
            rows = json.loads((draw / f"{split}.json").read_text())
            picked[split] = [r for e in EMOTIONS for r in [r for r in rows if r[0] == e][:k]]
        if all(len(rows) == k * len(EMOTIONS) for rows, k in zip(picked.values(), per_emotion.values())):
            break
        scale *= 2
    for split, rows in picked.items():
        for row in rows:
            for rel in row[-2:]:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (draw / rel).rename(out / rel)
        (out / f"{split}.json").write_text(json.dumps(rows))
    if (draw / "info.json").is_file():
        (draw / "info.json").rename(out / "info.json")
    shutil.rmtree(draw)
    return out


def make_tiny_paper(out: str | Path, seed: int = 0, fit_probe: bool = True) -> Path:
    """Write the tiny paper-layout zoo into ``out`` (absent or empty) and return its ``paper.toml``."""
    from emobench.zoo.tiny_sd import IMAGE_SIZE, write_tiny_sd

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmobenchError(f"{out} exists and is not an empty folder", "pass a new folder for make-tiny-paper")
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_tiny_sd(out, seed)
        write_balanced_emoset(out / "EmoSet", seed)
        files = write_judge_files(out / "judges", seed)
        rel = {k: v.relative_to(out).as_posix() for k, v in files.items()}
        toml = paper_toml(out / "paper.toml", "stable-diffusion", "clip", "EmoSet", rel, size=IMAGE_SIZE)
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
    print(f"tiny paper zoo written; try: emobench run --zoo {toml} {DRY_RUN}")
    print(toml)
    return 0
