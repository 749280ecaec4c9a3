"""``cnn``: the mini zoo's own Emo-A judge, the emotion head of ``JudgeNet`` (a 4-stage CNN trained on
EmoSet-mini pixels, no CLIP features; its backbone also serves Sem-C, FID/KID and LPIPS). It is the zoo's
primary judge, ``zoo.judges.emotion``, at mini scale."""
from __future__ import annotations

import json
from typing import Any

from emobench.judges.base import Judge, JudgePlugin, JudgeUnavailable
from emobench.judges.sources import files_sha256, judges_folder


class ZooCnnJudge(JudgePlugin):
    name = "cnn"
    family = "pixel-cnn"
    description = "the zoo's JudgeNet emotion head (CNN on pixels; the mini zoo's Emo-A judge)"

    def build(self, zoo) -> Judge:
        from emobench.zoo.judges import CONFIG, WEIGHTS, JudgeClassifier

        emotion = zoo.judges.emotion
        folder = judges_folder(zoo)
        if not isinstance(emotion, JudgeClassifier) or folder is None:
            raise JudgeUnavailable(f"zoo {zoo.name!r} has no JudgeNet emotion head (a zoo folder's judges/)")
        cfg = json.loads((folder / CONFIG).read_text())
        card: dict[str, Any] = {
            "architecture": f"JudgeNet: {len(cfg['widths'])} stages of 2×(conv3×3+BN+ReLU), widths {cfg['widths']}, "
                            f"{cfg['image_size']}px input; object/scene/emotion heads on one backbone",
            "trained_on": "the zoo's EmoSet-mini train split (pixels), jointly with the object and scene heads",
            "training": cfg.get("facts", {}),
            "validated_on": "the zoo's EmoSet-mini test split",
        }
        figures = _card_figures(zoo)
        if "emotion_judge_acc" in figures:
            card["held_out_accuracy"] = round(float(figures["emotion_judge_acc"]), 4)
            card["held_out_n"] = figures.get("n_real")
        if "emotion_bayes_acc" in figures:
            card["bayes_ceiling"] = round(float(figures["emotion_bayes_acc"]), 4)
        card.setdefault("held_out_accuracy", None)
        return Judge(name=self.name, family=self.family, labels=tuple(emotion.labels),
                     weights_hash=files_sha256(folder / WEIGHTS, folder / CONFIG), logits_fn=emotion, card=card,
                     primary=True, differentiable=True)


def _card_figures(zoo) -> dict[str, Any]:
    """``figures`` of the zoo's ``card.json`` (written by ``emobench zoo check --card``), if it has one."""
    path = zoo.root / "card.json" if zoo.root is not None else None
    if path is None or not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()).get("figures", {}))
    except ValueError:
        return {}
