"""The paper zoo's TOML: its parts (where each is, what must be there), runtime and sampling settings, and
the one error that names every missing part. Reads files' presence only; loads nothing."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from emobench.errors import EmobenchError

# The files torchvision / torch-fidelity put into the torch hub cache ("their usual caches").
HUB_FILES = {
    "object": "resnet50-0676ba61.pth",                       # ResNet50_Weights.IMAGENET1K_V1 (pretrained=True)
    "fid": "weights-inception-2015-12-05-6726825d.pth",      # torch-fidelity's FID Inception (torchmetrics FID)
    "lpips": "alexnet-owt-7be5be79.pth",                     # AlexNet_Weights.IMAGENET1K_V1 (LPIPS backbone)
}
PROBE_WEIGHTS, PROBE_CONFIG = "probe.safetensors", "probe.json"
PAPER_SAMPLING = {"num_inference_steps": 50, "guidance_scale": 7.5, "height": 512, "width": 512}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
FIT_JUDGES = "emobench zoo fit-judges --zoo {toml}"
PAPER_CONTENTS = "emoctrl-elements"   # EmoCtrl's 45 test elements: the content track's list at paper scale


def hub_checkpoint(name: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / name


# ---------------------------------------------------------------------------------------------- the TOML
@dataclass(frozen=True)
class Part:
    """One part of the paper zoo: where it is and what must be there."""

    key: str            # "pipeline", "judges.object", ...
    path: Path
    expected: str       # what should be at that path, for the error message
    options: dict[str, Any]

    def problem(self) -> str | None:
        """None if the part looks complete, else what is wrong with it."""
        p = self.path
        checks: dict[str, Callable[[], str | None]] = {
            "pipeline": lambda: None if (p / "model_index.json").is_file() else "no model_index.json",
            "clip": lambda: None if (p / "config.json").is_file() and any(p.glob("*.safetensors"))
            else "no config.json + *.safetensors",
            "dataset": lambda: None if (p / "image").is_dir() and (p / "annotation").is_dir()
            else "no image/ and annotation/ folders",
            "judges.emotion": lambda: None if (p / PROBE_WEIGHTS).is_file() and (p / PROBE_CONFIG).is_file()
            else f"no {PROBE_WEIGHTS} + {PROBE_CONFIG}",
        }
        if not p.exists():
            return "does not exist"
        if self.key in checks:
            return checks[self.key]()
        return None if p.is_file() else "is not a file"

    def describe(self) -> str:
        return f"[{self.key}] {self.path}: {self.problem()} (expected {self.expected})"


@dataclass(frozen=True)
class PaperSpec:
    toml: Path
    name: str
    parts: dict[str, Part]
    sampling: dict[str, Any]
    device: str
    dtype: str
    contents: str = PAPER_CONTENTS   # the zoo's content list (emobench.data.content_lists), by name

    def missing(self, skip: Sequence[str] = ()) -> list[Part]:
        return [p for k, p in self.parts.items() if k not in skip and p.problem() is not None]


_EXPECTED = {
    "pipeline": "a diffusers StableDiffusionPipeline folder of Stable Diffusion 1.5 (model_index.json, unet/, vae/, "
                "text_encoder/, tokenizer/, scheduler/, safetensors weights)",
    "clip": "a transformers CLIPModel + CLIPTokenizer folder of CLIP ViT-L/14 (config.json, model.safetensors, "
            "tokenizer files)",
    "dataset": "the EmoSet root (image/<emotion>/, annotation/<emotion>/, train.json, val.json, test.json)",
    "judges.emotion": f"the Emo-A linear probe ({PROBE_WEIGHTS} + {PROBE_CONFIG}); train it with `{FIT_JUDGES}`",
    "judges.object": f"the torchvision ImageNet ResNet-50 weights ({HUB_FILES['object']}, what "
                     "resnet50(weights='IMAGENET1K_V1') caches)",
    "judges.scene": "the Places365 ResNet-50 checkpoint (resnet50_places365.pth.tar from the Places365 release)",
    "judges.fid": f"torch-fidelity's FID Inception-v3 weights ({HUB_FILES['fid']}, what torchmetrics' FID caches)",
    "judges.lpips": f"the torchvision AlexNet weights ({HUB_FILES['lpips']}, what LPIPS(net='alex') caches)",
}


PART_KEYS = tuple(_EXPECTED)   # every part of a paper zoo, in the TOML's order


def _section(doc: dict[str, Any], dotted: str) -> dict[str, Any]:
    node: Any = doc
    for k in dotted.split("."):
        node = node.get(k, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def read_paper_toml(path: str | Path) -> PaperSpec:
    path = Path(path).expanduser().resolve()
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise EmobenchError(f"cannot read paper zoo file {path}: {err}",
                            "fix the TOML (see docs/paper-scale.md for a complete example)") from err
    parts: dict[str, Part] = {}
    for key, expected in _EXPECTED.items():
        sec = _section(doc, key)
        raw = sec.get("path")
        if raw is None and key.removeprefix("judges.") in HUB_FILES:
            where = hub_checkpoint(HUB_FILES[key.removeprefix("judges.")])
        elif raw is None:
            where = path.parent / f"<[{key}] path not set in {path.name}>"
        else:
            where = Path(os.path.expandvars(str(raw))).expanduser()
            where = where if where.is_absolute() else path.parent / where
        options = {k: v for k, v in sec.items() if k != "path"}
        labels = options.get("labels")
        if isinstance(labels, str) and not Path(os.path.expandvars(labels)).expanduser().is_absolute():
            options["labels"] = str(path.parent / labels)   # relative to the TOML, like every path
        parts[key] = Part(key, where, expected.replace("{toml}", str(path)), options)
    runtime = _section(doc, "runtime")
    sampling = {**PAPER_SAMPLING, **_section(doc, "sampling")}
    contents = doc.get("contents", PAPER_CONTENTS)
    if not isinstance(contents, str):
        raise EmobenchError(f"contents = {contents!r} in {path} must name a content list",
                            f'write it like contents = "{PAPER_CONTENTS}" (docs/protocols.md)')
    from emobench.data.content_lists import check_list_name

    check_list_name(contents, f"content list (contents = ... in {path.name})")
    return PaperSpec(toml=path, name=str(doc.get("name", path.stem)), parts=parts, sampling=sampling,
                     device=str(runtime.get("device", "auto")), dtype=str(runtime.get("dtype", "auto")),
                     contents=contents)


def missing_error(spec: PaperSpec, missing: Sequence[Part]) -> EmobenchError:
    return EmobenchError(
        f"paper zoo {spec.toml}: {len(missing)} part(s) missing: " + "; ".join(p.describe() for p in missing),
        f"put each part there or fix its path in {spec.toml.name} (docs/paper-scale.md lists where to get them)")
