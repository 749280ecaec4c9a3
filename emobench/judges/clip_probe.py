"""``clip-probe``: EmoGen's judge design, a linear layer over the zoo's CLIP image features (projected, not
L2-normalised): ``logits = fc(clip.encode_images(x))``.

* mini scale: fitted by ``emobench zoo fit-panel`` on the tiny CLIP's features of EmoSet-mini's train split
  (L2 chosen on val), shipped as ``judges/panel/clip-probe.safetensors`` (``fc.weight`` [8, D], ``fc.bias``
  [8]) + ``clip-probe.json`` (card with its test-split accuracy);
* paper scale: the probe ``emobench zoo fit-judges`` trained on EmoSet, which is that zoo's Emo-A judge
  (``zoo.judges.emotion``, primary).
"""
from __future__ import annotations

from typing import Any

import torch
from safetensors.torch import load_file
from torch import nn

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.judges.base import Judge, JudgePlugin, JudgeUnavailable
from emobench.judges.sources import files_sha256, panel_card


class ClipLinear(nn.Module):
    """``fc(clip.encode_images(x))``; differentiable through CLIP (its own preprocessing is)."""

    def __init__(self, clip: Any, fc: nn.Linear):
        super().__init__()
        self.clip, self.fc = clip, fc

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feats = self.clip.encode_images(images).float()
        return self.fc(feats.to(self.fc.weight.device))


def linear_from_state(state: dict[str, torch.Tensor], where: str, feature_dim: int | None) -> nn.Linear:
    """``fc.weight`` [8, D] + ``fc.bias`` [8] → ``nn.Linear(D, 8)`` (float32, eval), shapes checked."""
    w, b = state.get("fc.weight"), state.get("fc.bias")
    if w is None or b is None:
        raise EmobenchError(f"{where} has no fc.weight / fc.bias (keys: {', '.join(sorted(state)[:6])})",
                            "expected a state dict {'fc.weight': [8, D], 'fc.bias': [8]}")
    if w.ndim != 2 or w.shape[0] != len(EMOTIONS) or tuple(b.shape) != (len(EMOTIONS),):
        raise EmobenchError(f"{where}: fc.weight is {tuple(w.shape)}, fc.bias {tuple(b.shape)}",
                            f"expected fc.weight [{len(EMOTIONS)}, D] and fc.bias [{len(EMOTIONS)}]")
    if feature_dim is not None and w.shape[1] != feature_dim:
        raise EmobenchError(f"{where}: fc.weight takes {w.shape[1]}-d features, the zoo's CLIP gives {feature_dim}",
                            "use the classifier trained on this CLIP (ViT-L/14: 768-d projected image features)")
    fc = nn.Linear(w.shape[1], w.shape[0])
    fc.load_state_dict({"weight": w.float(), "bias": b.float()})
    for p in fc.parameters():
        p.requires_grad_(False)
    return fc.eval()


def clip_feature_dim(clip: Any) -> int | None:
    model = getattr(clip, "model", None)
    dim = getattr(getattr(model, "config", None), "projection_dim", None)
    return int(dim) if dim is not None else None


class ClipProbeJudge(JudgePlugin):
    name = "clip-probe"
    family = "clip-linear-probe"
    description = "linear probe on the zoo's CLIP image features (EmoGen's judge design)"

    def build(self, zoo) -> Judge:
        from emobench.zoo.paper_judges import EmotionProbe

        if isinstance(zoo.judges.emotion, EmotionProbe):   # paper scale: the zoo's own Emo-A probe
            probe = zoo.judges.emotion
            card = _paper_probe_card(zoo)
            return Judge(self.name, self.family, tuple(probe.labels), zoo.hashes.get("judges.emotion", ""),
                         probe, card, primary=True)
        if zoo.clip is None:
            raise JudgeUnavailable(f"zoo {zoo.name!r} has no CLIP")
        path, card = panel_card(zoo, self.name)
        weights = path.with_suffix(".safetensors")
        if not weights.is_file():
            raise EmobenchError(f"{path} has no {weights.name} beside it", "refit with `emobench zoo fit-panel ZOO_DIR`")
        fc = linear_from_state(load_file(str(weights)), str(weights), None)
        labels = tuple(card.get("labels", EMOTIONS))
        return Judge(self.name, self.family, labels, files_sha256(weights, path),
                     ClipLinear(zoo.clip, fc.to(zoo.device)), card)


def _paper_probe_card(zoo) -> dict[str, Any]:
    import json

    from emobench.zoo.paper_spec import PROBE_CONFIG, read_paper_toml

    try:
        facts = json.loads((read_paper_toml(zoo.source).parts["judges.emotion"].path / PROBE_CONFIG).read_text())
    except (OSError, ValueError, TypeError):
        facts = {}
    return {"architecture": "Linear(D → 8) on CLIP ViT-L/14 projected image features",
            "trained_on": f"EmoSet train split ({facts.get('n_train', '?')} images), L2 chosen on val, "
                          "by `emobench zoo fit-judges`",
            "validated_on": "EmoSet val split (the split the L2 strength was chosen on)",
            "held_out_accuracy": facts.get("val_accuracy"), "held_out_n": facts.get("n_val"),
            "train_accuracy": facts.get("train_accuracy"), "l2": facts.get("l2")}
