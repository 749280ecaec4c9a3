"""Stage 2: training the mapping network with everything else frozen (``main.py:597-881``, reimplemented with
ordinary autograd through the injected input embedding; batches of any size instead of DDP batch 1).
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F

from emobench.errors import EmobenchError
from emobench.training import InOrderEpochSampler, ScaledBackward, denoising_loss, encode_latents
from emogen import losses, prompts
from emogen.config import STAGE2_EPOCHS, EmoGenConfig, Resolved
from emogen.data import AttributeVocabulary, ImageBank, TrainItem
from emogen.mapper import build_mapper
from emogen.recipe import stage2_data


def as_tensor(x: Any) -> torch.Tensor:
    # transformers 5 may return an output object (projected embedding in .pooler_output) instead of a tensor
    return x if isinstance(x, torch.Tensor) else x.pooler_output


@contextmanager
def frozen(*modules: torch.nn.Module) -> Iterator[None]:
    """Eval mode and no parameter gradients for ``modules`` during the block, restored afterwards (they are
    the zoo's shared models; the official code left them trainable and accumulating unused gradients)."""
    saved = [(m, m.training, [(p, p.requires_grad) for p in m.parameters()]) for m in modules]
    try:
        for m in modules:
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, training, flags in saved:
            m.train(training)
            for p, flag in flags:
                p.requires_grad_(flag)


def clip_text_projection(zoo: Any) -> torch.nn.Module:
    """The ``text_projection`` of the zoo CLIP's underlying transformers ``CLIPModel`` (SD-1.5's text encoder
    is CLIP ViT-L/14's text tower, so its pooled output lives where this projection expects)."""
    clip = zoo.clip
    if clip is None:
        raise EmobenchError(f"zoo {zoo.name!r} has no CLIP, which the attribute loss needs",
                            "use a zoo with a CLIP, or train without it: emogen:attr_weight=0")
    for candidate in (clip, getattr(clip, "model", None), getattr(clip, "clip", None),
                      getattr(clip, "clip_model", None)):
        proj = getattr(candidate, "text_projection", None)
        if isinstance(proj, torch.nn.Module):
            width = int(zoo.pipeline.text_encoder.config.hidden_size)
            if getattr(proj, "in_features", width) != width:
                raise EmobenchError(
                    f"the zoo's CLIP text projection takes {proj.in_features}-d input but the generator's text "
                    f"encoder is {width}-d, so the attribute loss cannot project the mapped prompt",
                    "use a zoo whose CLIP text tower is the generator's text encoder, or emogen:attr_weight=0",
                )
            return proj
    raise EmobenchError("the zoo's CLIP exposes no text_projection for the attribute loss",
                        "use a zoo with a transformers CLIPModel, or train without it: emogen:attr_weight=0")


def train_emotion_probe(zoo: Any, dataset: Any, samples: list, labels: torch.Tensor, k: int, seed: int
                         ) -> torch.nn.Module:
    """L_emo's classifier: Linear(CLIP dim → K) on CLIP image features of the training split (the official
    Emo-A probe is such a linear layer; this one is our own, never the benchmark's judge)."""
    zoo.require("clip")
    bank = ImageBank(dataset, samples, int(zoo.sampling.height))
    with torch.no_grad():
        feats = torch.cat([as_tensor(zoo.clip.encode_images(x)).float().cpu() for x in bank.chunks()])
    g = torch.Generator().manual_seed(seed)
    probe = torch.nn.Linear(feats.shape[1], k)
    with torch.no_grad():
        probe.weight.copy_(torch.randn(probe.weight.shape, generator=g) * 0.01)
        probe.bias.zero_()
    opt = torch.optim.AdamW(probe.parameters(), lr=1e-2, weight_decay=1e-4)
    for _ in range(300):
        loss = F.cross_entropy(probe(feats), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    probe.requires_grad_(False)
    return probe.to(zoo.device)


@dataclass
class Stage2Trainer:
    """Everything a stage-2 step needs; ``loss`` (one batch) is also what the speed benchmark and tests call."""

    config: EmoGenConfig
    zoo: Any
    items: list[TrainItem]
    conf: torch.Tensor                     # c per item
    targets: torch.Tensor                  # attribute index per item (-1: none)
    vocab: AttributeVocabulary
    vectors: torch.Tensor                  # stage-1 emotion vector per training image
    images: ImageBank                      # training images at the generator's resolution
    mapper: torch.nn.Module
    proj: torch.nn.Module | None
    bank_feats: torch.Tensor | None
    probe: torch.nn.Module | None
    generator: torch.Generator
    trace: dict[str, list[float]] = field(default_factory=lambda: {"loss": [], "ldm": [], "attr": [], "attr_acc": []})

    @classmethod
    def build(cls, config: EmoGenConfig, res: Resolved, zoo: Any, dataset: Any, train: list, labels: torch.Tensor,
              n_emotions: int, vectors: torch.Tensor, images: ImageBank, seed: int, probe_seed: int
              ) -> "Stage2Trainer":
        device = zoo.device
        need_attr = config.attr_weight > 0
        g = torch.Generator().manual_seed(seed)
        items, conf, vocab, data_facts = stage2_data(config, dataset, train, labels, n_emotions, g, need_attr)
        targets = torch.tensor([vocab.index(it.attribute) if it.attribute else -1 for it in items])
        proj = bank_feats = probe = None
        if need_attr or config.emo_weight > 0:
            proj = clip_text_projection(zoo)
        if need_attr:
            with torch.no_grad():
                bank_feats = as_tensor(zoo.clip.encode_texts(vocab.texts(config.attr_names))).float().to(device)
        if config.emo_weight > 0:
            probe = train_emotion_probe(zoo, dataset, train, labels, n_emotions, probe_seed)
        torch.manual_seed(seed)  # mapper initialisation (the caller forks the global RNG)
        mapper = build_mapper(config.mapper, res.width, res.width, res.mapper_hidden, config.mapper_layers).to(device)
        trainer = cls(config, zoo, items, conf, targets, vocab, vectors, images, mapper, proj, bank_feats, probe, g)
        trainer.data_facts = data_facts
        return trainer

    def default_steps(self, resolved_steps: int | None) -> int:
        """``resolved_steps`` (the user's ``steps``), else ``epochs`` (default ``STAGE2_EPOCHS``, the authors'
        one) over the balanced attribute list."""
        if resolved_steps is not None:
            return resolved_steps
        return max(1, math.ceil((self.config.epochs or STAGE2_EPOCHS) * len(self.items) / self.config.batch_size))

    def run(self, steps: int, report: Callable[[int, int], None] | None = None) -> float:
        """Train ``steps`` steps; returns the seconds spent."""
        opt = torch.optim.AdamW(self.mapper.parameters(), lr=self.config.lr, betas=(0.9, 0.999),
                                weight_decay=self.config.weight_decay, eps=1e-8)
        sampler = InOrderEpochSampler(len(self.items), self.config.batch_size, self.generator)
        self.scaled = self.backward_step()
        t0 = time.perf_counter()
        with self.training():
            for step in range(steps):
                loss = self.loss(sampler.next())
                opt.zero_grad(set_to_none=True)
                self.scaled.step(loss, opt)   # loss scaling when the frozen pipeline is fp16 (paper zoo, CUDA)
                if report and (step % 20 == 0 or step == steps - 1):
                    report(step + 1, steps)
        self.mapper.eval()
        return time.perf_counter() - t0

    def backward_step(self) -> ScaledBackward:
        """Backward + step, with a gradient scaler when the frozen parts compute in float16 (the official
        accelerate fp16 AMP); plain ``loss.backward(); opt.step()`` otherwise (fp32 fits unchanged)."""
        pipe = self.zoo.pipeline
        return ScaledBackward([pipe.unet, pipe.vae, pipe.text_encoder, self.proj], self.zoo.device)

    @contextmanager
    def training(self) -> Iterator[None]:
        pipe = self.zoo.pipeline
        frozen_parts = [pipe.unet, pipe.vae, pipe.text_encoder] + ([self.proj] if self.proj is not None else [])
        with frozen(*frozen_parts):
            self.mapper.train()
            yield

    def loss(self, batch: list[int]) -> torch.Tensor:
        """The objective of one batch of item indices (call inside ``training()``)."""
        cfg, pipe, device, g = self.config, self.zoo.pipeline, self.zoo.device, self.generator
        its = [self.items[i] for i in batch]
        img_idx = [it.image for it in its]
        vae = pipe.vae
        with torch.no_grad():
            x = self.images.get(img_idx).to(device)
            if cfg.flip:
                flip = (torch.rand(len(its), generator=g) < 0.5).to(device)[:, None, None, None]
                x = torch.where(flip, x.flip(-1), x)
            latents = encode_latents(vae, (x * 2 - 1).to(vae.dtype), g)
        tokens = self.mapper(self.vectors[img_idx].to(device))
        bare = self._bare()
        lays = [bare] * len(its)
        hidden = prompts.encode(pipe.text_encoder, lays, [[t] for t in tokens])
        l_ldm = denoising_loss(pipe.unet, self._noise_scheduler(), latents.float(), hidden, g)
        l_attr = l_emo = None
        if self.proj is not None:
            pooled = prompts.pooled(hidden, lays, cfg.attr_pool)
            s = as_tensor(self.proj(pooled.to(self.proj.weight.dtype))).float()
            if self.bank_feats is not None:
                tgt = self.targets[batch].to(device)
                l_attr = losses.attribute_loss(s, self.bank_feats, tgt, cfg.attr_temperature)
                with torch.no_grad():
                    hit = (losses.attribute_logits(s, self.bank_feats).argmax(1) == tgt).float().mean()
                self.trace["attr"].append(l_attr.mean().item())
                self.trace["attr_acc"].append(hit.item())
            if self.probe is not None:
                emo = torch.tensor([it.emotion for it in its], device=device)
                l_emo = F.cross_entropy(self.probe(s.float()), emo, reduction="none")
        c = self.conf[batch].to(device)
        loss = losses.combine(l_ldm, l_attr, c, cfg.attr_weight, cfg.confidence, l_emo, cfg.emo_weight)
        self.trace["loss"].append(loss.item())
        self.trace["ldm"].append(l_ldm.mean().item())
        return loss

    def _bare(self) -> prompts.PromptLayout:
        # [BOS, token, EOS, pad…]: the mapped token at position 1, as trained officially
        if not hasattr(self, "_bare_layout"):
            self._bare_layout = prompts.layout(self.zoo.pipeline.tokenizer, [0], ["emotion"])
        return self._bare_layout

    def _noise_scheduler(self):
        if not hasattr(self, "_ddpm"):
            from diffusers import DDPMScheduler

            self._ddpm = DDPMScheduler.from_config(self.zoo.pipeline.scheduler.config)
        return self._ddpm

