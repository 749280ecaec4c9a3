"""``mine``: prompt engineering. The plan's emotion word is expanded into emotion-typical content."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from emobench.api import GenerationResult, Method
from emobench.errors import EmobenchError

# Content that typically evokes each emotion (EmoSet's attribute statistics, in words).
CONTENT = {
    "amusement": "balloons and gifts in a room", "awe": "a mountain under a night sky",
    "contentment": "a sun over a quiet beach", "excitement": "a fire on a city street",
    "anger": "an angry face on a city street", "disgust": "trash bags in a room",
    "fear": "a spider in a graveyard", "sadness": "a tear drop in the desert",
}


@dataclass(frozen=True)
class EmotionPromptConfig:
    emotion_text: str = "{emotion}, {content}"  # replaces {emotion} in the plan's template
    guidance_scale: float | None = None         # None: the zoo's default

    def __post_init__(self) -> None:
        if "{emotion}" not in self.emotion_text:
            raise EmobenchError(f"emotion_text={self.emotion_text!r} lacks {{emotion}}",
                                "keep {emotion} in emotion_text, e.g. '{emotion}, {content}'")
        if self.guidance_scale is not None and self.guidance_scale < 1:
            raise EmobenchError(f"guidance_scale={self.guidance_scale} is below 1", "use a value >= 1 or omit it")


class EmotionPromptMethod(Method):
    name = "mine"
    Config = EmotionPromptConfig

    def load(self, zoo, artifact_dir) -> None:
        self.zoo, self.pipe = zoo, zoo.pipeline

    def generate(self, requests) -> GenerationResult:
        s, images, prompts = self.zoo.sampling, [], []
        autocast = (torch.autocast(self.zoo.device.type, dtype=getattr(torch, s.autocast_dtype))
                    if s.autocast_dtype else contextlib.nullcontext())
        for r in requests:  # one image per call: an image never depends on its batch-mates
            text = self.config.emotion_text.format(emotion=r.cell.emotion, content=CONTENT[r.cell.emotion])
            prompts.append(r.cell.prompt(text))
            with autocast:
                out = self.pipe(prompts[-1], latents=r.latents[None].to(self.zoo.device, self.pipe.unet.dtype),
                                generator=torch.Generator("cpu").manual_seed(r.cell.seed),  # stochastic samplers
                                num_inference_steps=s.num_inference_steps, height=s.height, width=s.width,
                                guidance_scale=self.config.guidance_scale or s.guidance_scale, output_type="pt")
            images.append(out.images.float().cpu())
        return GenerationResult(torch.cat(images).clamp(0, 1), prompts)
