"""``emogen-official``: EmoGen's own Emo-A classifier, read from the official checkpoint layout.

The authors' file (``weights/Clip_emotion_classifier/time_2023-11-12_03-29-best.pth``) is a state dict
``{"fc.weight": [8, 768], "fc.bias": [8]}`` (float32) applied to CLIP ViT-L/14 ``get_image_features``
(projected, not L2-normalised), labels in EmoGen's order (amusement, awe, contentment, excitement, anger,
disgust, fear, sadness). It is read with ``torch.load(weights_only=True)`` (or as safetensors), never
unpickled. Configure it in the paper TOML::

    [panel.emogen-official]
    path = "weights/Clip_emotion_classifier/time_2023-11-12_03-29-best.pth"
    # labels = ["amusement", ...]   # only if a checkpoint orders its rows differently
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from emobench.emotions import EMOTIONS
from emobench.judges.base import Judge, JudgePlugin, JudgeUnavailable
from emobench.judges.clip_probe import ClipLinear, clip_feature_dim, linear_from_state
from emobench.judges.sources import file_sha256, toml_labels, toml_path, toml_section

EXPECTED = "EmoGen's Clip_emotion_classifier .pth (a state dict with fc.weight [8, 768] and fc.bias [8])"


def read_emogen_classifier(path: Path, feature_dim: int | None = 768):
    """The official file → ``nn.Linear(768, 8)``; tensors only (``weights_only=True``), shapes checked."""
    from emobench.zoo.paper_judges import safe_state_dict

    return linear_from_state(safe_state_dict(Path(path)), str(path), feature_dim)


def emogen_judge(path: Path, clip: Any, labels: tuple[str, ...] = EMOTIONS, name: str = "emogen-official",
                 card: dict[str, Any] | None = None) -> Judge:
    fc = read_emogen_classifier(path, clip_feature_dim(clip))
    device = getattr(clip, "device", None)
    if device is not None:
        fc = fc.to(device)
    return Judge(name, "clip-linear-probe", labels, file_sha256(Path(path)), ClipLinear(clip, fc), {
        "architecture": "Linear(768 → 8) on CLIP ViT-L/14 projected image features (EmoGen's judge)",
        "trained_on": "EmoSet CLIP features by EmoGen's authors (training code and split unreleased)",
        "validated_on": None, "held_out_accuracy": None,
        "note": "the authors published no held-out accuracy; measure it with `emobench zoo validate-judges --zoo paper.toml`",
        "file": str(path), **(card or {})})


class EmoGenOfficialJudge(JudgePlugin):
    name = "emogen-official"
    family = "clip-linear-probe"
    description = "EmoGen's released CLIP-L linear emotion classifier (paper TOML [panel.emogen-official])"

    def build(self, zoo) -> Judge:
        sec = toml_section(zoo, self.name)
        if zoo.clip is None:
            raise JudgeUnavailable(f"zoo {zoo.name!r} has no CLIP")
        path = toml_path(zoo, self.name, sec, EXPECTED)
        labels = toml_labels(zoo, self.name, sec, EMOTIONS)
        card = {k: v for k, v in sec.items() if k in ("validated_on", "held_out_accuracy")}
        return emogen_judge(path, zoo.clip, labels, self.name, card)
