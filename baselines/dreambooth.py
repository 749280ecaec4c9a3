"""``dreambooth``: per-emotion fine-tuning with a rare identifier (Ruiz et al. 2023), diffusers' procedure.

Fit: for each emotion, the UNet is fine-tuned on that emotion's training images, all captioned with one
instance prompt, ``"an image of sks fear"`` (the paper's template rendered with ``"<identifier> <emotion>"``).
Default: LoRA adapters (peft) on the UNet's attention projections ``to_q/to_k/to_v/to_out.0``, as in
``examples/dreambooth/train_dreambooth_lora.py``; ``lora=false`` fine-tunes the whole UNet instead. With
``prior_weight > 0`` the base model's own images for the class prompt ``"an image of fear"`` are mixed in
(prior-preservation loss). Text encoder and VAE stay frozen.

Artifacts: LoRA — ``<emotion>.safetensors``, written by ``StableDiffusionLoraLoaderMixin.save_lora_weights``
(the file ``pipe.load_lora_weights(dir, weight_name=...)`` reads, with the adapter's peft config as metadata);
full — ``unet-<emotion>/`` (a ``UNet2DConditionModel.save_pretrained`` folder). Each with ``<emotion>.json``.

Generate: requests are grouped by emotion; each group runs on a private copy of the UNet with that emotion's
LoRA fused into its weights (diffusers' ``fuse_lora``, once per emotion, kept across calls until another emotion
comes; the layers it changed are then copied back from the zoo's UNet, so the next fusion starts from exactly the
base weights). ``fuse=false``: the LoRA runs as peft adapters beside the weights (loaded per group, unloaded after),
as in diffusers' examples — slower, and its images differ from fused ones by float rounding (docs/baselines.md).
Prompt = the cell's template rendered with ``"sks fear"``.
"""
from __future__ import annotations

import copy
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Sequence

import torch

from baselines._training import (
    EmotionFit,
    LossTrace,
    denoising_loss,
    encode_text,
    fixed_batch_loss,
    fit_emotions,
    missing_artifact,
    sample_by_emotion,
    training_latents,
    training_scheduler,
)
from emobench.api import FitContext, GenerationRequest, GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.sampling import autocast, private_pipeline
from emobench.training import EpochSampler, cpu_generator, emotion_seed, quiet_loading

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

LORA_TARGETS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")  # attention projections, as in diffusers


@dataclass(frozen=True)
class DreamBoothConfig:
    steps: int = 100                # optimisation steps per emotion (mini-zoo budget: see docs/baselines.md)
    batch_size: int = 8
    lora: bool = True               # False: fine-tune every UNet weight
    rank: int = 4                   # LoRA rank (alpha = rank, so the LoRA scale is 1; diffusers' default)
    lr: float = 1e-3                # AdamW lr for LoRA
    full_lr: float = 5e-5           # AdamW lr when lora=false
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    identifier: str = "sks"         # the rare token put before the emotion word
    instance_template: str = "an image of {}"   # rendered with "<identifier> <emotion>"; class prompt: with "<emotion>"
    prior_weight: float = 0.0       # > 0: prior-preservation loss weight (diffusers: 1.0 when enabled)
    n_class_images: int = 32        # base-model images of the class prompt for prior preservation
    max_images: int = 512           # training images per emotion (a seeded subset when there are more)
    fuse: bool = True               # LoRA: sample with W + B·A merged into the weights (false: unfused adapters);
                                    # generation only, so both share one fit (fit_config leaves it out)


class DreamBoothMethod(Method):
    name: ClassVar[str] = "dreambooth"
    display_name: ClassVar[str] = "DreamBooth"
    Config: ClassVar[type] = DreamBoothConfig
    learns: ClassVar[bool] = True
    GENERATION_ONLY: ClassVar[tuple[str, ...]] = ("fuse",)   # options left out of fit_config (the artifact key)
    # diffusers' examples/dreambooth README for SD 1.5: LoRA 500 steps of batch 1 at lr 1e-4 (rank 4, the default);
    # full fine-tuning lr 5e-6 (its README: 400 steps, 800 with prior preservation)
    scale_defaults: ClassVar[dict[str, dict[str, Any]]] = {"paper": {"steps": 500, "batch_size": 1, "lr": 1e-4,
                                                                      "full_lr": 5e-6}}

    def __init__(self, config: Any = None):
        super().__init__(config)
        c = self.config
        if c.steps < 1 or c.batch_size < 1 or c.rank < 1 or c.lr <= 0 or c.full_lr <= 0:
            raise EmobenchError(f"dreambooth config {c} has a non-positive steps, batch_size, rank or lr",
                                "set them to positive values")
        if c.prior_weight < 0 or (c.prior_weight > 0 and c.n_class_images < 1):
            raise EmobenchError("dreambooth prior_weight must be ≥ 0, with n_class_images ≥ 1 when > 0",
                                "set prior_weight=0 to turn prior preservation off")
        if "{}" not in c.instance_template:
            raise EmobenchError(f"dreambooth instance_template {c.instance_template!r} has no {{}} slot",
                                "use a template such as 'an image of {}'")
        self._pipe: Any = None
        self._zoo: "Zoo | None" = None
        self._artifact_dir: Path | None = None
        self._fused: str | None = None      # the emotion whose LoRA is fused into the private UNet now
        self._touched: list[str] = []       # its layers (module names), restored from the zoo's before the next

    def fit_config(self) -> dict[str, Any]:
        """The whole config but the generation-only options: fused and unfused sampling share one fit (and the
        artifact key is the one of the configs before ``fuse`` existed, so shipped prefits still match)."""
        return {k: v for k, v in super().fit_config().items() if k not in self.GENERATION_ONLY}

    def subject(self, emotion: str) -> str:
        """What replaces ``{emotion}`` in prompts: the identifier and the emotion word, e.g. ``"sks fear"``."""
        return f"{self.config.identifier} {emotion}"

    def slot_name(self, emotion: str) -> str:
        return f"{emotion}.safetensors" if self.config.lora else f"unet-{emotion}"

    # ------------------------------------------------------------------------------------------ fit

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        facts = fit_emotions(ctx, self.name, self.slot_name, lambda e, tick: self._fit_one(ctx, e, tick))
        facts["config"] = {k: getattr(self.config, k) for k in self.config.__dataclass_fields__}
        return facts

    def _fit_one(self, ctx: FitContext, emotion: str, tick: Callable[[int, int], None]):
        cfg = self.config
        zoo = ctx.zoo
        pipe = zoo.pipeline
        start = time.perf_counter()
        seed = emotion_seed(ctx.seed, emotion)
        gen = cpu_generator(seed)
        latents = training_latents(zoo, ctx.dataset, emotion, cfg.max_images, gen)
        device = latents.device
        with torch.no_grad():
            inst_cond = encode_text(pipe, [cfg.instance_template.format(self.subject(emotion))]).float()
        prior = self._class_latents(zoo, emotion, seed) if cfg.prior_weight > 0 else None
        if prior is not None:
            with torch.no_grad():
                class_cond = encode_text(pipe, [cfg.instance_template.format(emotion)]).float()

        unet = copy.deepcopy(pipe.unet).to(device).float()  # train in fp32 whatever the zoo samples in
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # LoRA's gaussian init of lora_A draws from the global generator
            params = self._trainable(unet)
        unet.train()
        opt = torch.optim.AdamW(params, lr=cfg.lr if cfg.lora else cfg.full_lr, weight_decay=cfg.weight_decay)
        scheduler = training_scheduler(pipe)
        sampler = EpochSampler(len(latents), cfg.batch_size, gen)
        class_sampler = EpochSampler(len(prior), cfg.batch_size, gen) if prior is not None else None
        trace = LossTrace()
        before = fixed_batch_loss(unet, scheduler, latents, inst_cond, seed + 1)  # LoRA starts as a no-op
        for step in range(ctx.loop_steps(cfg.steps)):   # a pilot runs a few
            idx = sampler.next().to(device)
            loss = denoising_loss(unet, scheduler, latents[idx], inst_cond.expand(len(idx), -1, -1), gen)
            if prior is not None and class_sampler is not None:
                cidx = class_sampler.next().to(device)
                prior_loss = denoising_loss(unet, scheduler, prior[cidx],
                                            class_cond.expand(len(cidx), -1, -1), gen)
                loss = loss + cfg.prior_weight * prior_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            opt.step()
            trace.add(loss.item())
            tick(step + 1, cfg.steps)
        unet.eval()
        after = fixed_batch_loss(unet, scheduler, latents, inst_cond, seed + 1)
        facts = EmotionFit(emotion, ctx.loop_steps(cfg.steps), len(latents), round(time.perf_counter() - start, 3),
                           trace.first, trace.last,
                           {"seed": seed, "prompt": cfg.instance_template.format(self.subject(emotion)),
                            "trainable_params": sum(p.numel() for p in params),
                            "n_class_images": 0 if prior is None else len(prior),
                            "fixed_batch_loss_before": round(before, 6), "fixed_batch_loss_after": round(after, 6)})
        name = self.slot_name(emotion)

        def write(tmp: Path) -> None:
            if cfg.lora:
                _save_lora(unet, tmp, name)
            else:
                if pipe.unet.dtype != torch.float32:  # store in the zoo's dtype (fp16 SD stays fp16)
                    unet.to(dtype=pipe.unet.dtype)
                unet.save_pretrained(tmp / name, safe_serialization=True)

        return write, facts

    def _trainable(self, unet: torch.nn.Module) -> list[torch.nn.Parameter]:
        if not self.config.lora:
            unet.requires_grad_(True)
            return [p for p in unet.parameters()]
        from peft import LoraConfig

        unet.requires_grad_(False)
        unet.add_adapter(LoraConfig(r=self.config.rank, lora_alpha=self.config.rank, init_lora_weights="gaussian",
                                    target_modules=list(LORA_TARGETS)))
        params = [p for p in unet.parameters() if p.requires_grad]
        if not params:
            raise EmobenchError("the zoo's UNet has no attention projections named to_q/to_k/to_v/to_out.0",
                                "use dreambooth:lora=false to fine-tune the whole UNet")
        return params

    def _class_latents(self, zoo: "Zoo", emotion: str, seed: int) -> torch.Tensor:
        """The base model's own samples for the class prompt (prior preservation), kept as latents: the
        pipeline's ``output_type="latent"`` gives exactly what the UNet trains on, with no decode/encode."""
        s = zoo.sampling
        prompt = self.config.instance_template.format(emotion)
        shape = zoo.latent_shape()
        out = []
        pipe = private_pipeline(zoo.pipeline)  # a view, so the progress-bar setting stays ours
        for start in range(0, self.config.n_class_images, 16):
            n = min(16, self.config.n_class_images - start)
            noise = torch.stack([torch.randn(shape, generator=cpu_generator(seed + start + i + 1))
                                 for i in range(n)])
            with torch.no_grad(), autocast(zoo):
                z = pipe(prompt=[prompt] * n, latents=noise.to(zoo.device), output_type="latent",
                         num_inference_steps=s.num_inference_steps, guidance_scale=s.guidance_scale,
                         height=s.height, width=s.width).images
            out.append(z.float())
        return torch.cat(out)

    # ------------------------------------------------------------------------------------------ generate

    def load(self, zoo: "Zoo", artifact_dir: Path | None) -> None:
        if artifact_dir is None or not Path(artifact_dir).is_dir():
            raise EmobenchError(f"dreambooth needs fitted weights, and {artifact_dir} is not a folder",
                                "run `emobench fit dreambooth` first")
        # a private UNet: loading a LoRA rewrites the module tree, and other methods sample from the zoo's
        unet = copy.deepcopy(zoo.pipeline.unet) if self.config.lora else zoo.pipeline.unet
        self._pipe = private_pipeline(zoo.pipeline, unet=unet)
        self._zoo, self._artifact_dir = zoo, Path(artifact_dir)
        self._fused, self._touched = None, []

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        if self._pipe is None or self._zoo is None or self._artifact_dir is None:
            raise RuntimeError("dreambooth: call load() before generate()")
        images, prompts = sample_by_emotion(self._zoo, self._pipe, requests, self.subject, self._weights)
        return GenerationResult(images=images, prompts=prompts)

    def _weights(self, emotion: str):
        assert self._artifact_dir is not None
        path = self._artifact_dir / self.slot_name(emotion)
        if not path.exists():
            raise missing_artifact(self.name, emotion, self._artifact_dir)
        return self._weights_of(emotion, path)

    @contextmanager
    def _weights_of(self, emotion: str, path: Path) -> Iterator[None]:
        """The private pipeline with this emotion's weights: its LoRA fused (default) or loaded as adapters (and
        unloaded after), or its fine-tuned UNet swapped in."""
        assert self._pipe is not None and self._zoo is not None
        pipe = self._pipe
        if not self.config.lora:
            from diffusers import UNet2DConditionModel

            base = pipe.unet
            with quiet_loading():
                pipe.unet = UNet2DConditionModel.from_pretrained(path, torch_dtype=base.dtype).to(self._zoo.device)
            try:
                yield
            finally:
                pipe.unet = base
            return
        if self.config.fuse:
            self._fuse(emotion, path)
            yield
            return
        with quiet_loading():  # "no LoRA keys for the text encoder": expected, only the UNet is adapted
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=emotion)
        try:
            yield
        finally:
            pipe.unload_lora_weights()

    def _fuse(self, emotion: str, path: Path) -> None:
        """Fuse ``emotion``'s LoRA into the private UNet, unless it is fused already.

        Adapters beside the weights cost two extra small matmuls per projection at every step; fused, the UNet
        is a plain one again: ``W ← W + scale·B·A`` once, computed from the file as peft's merge computes it
        (``_lora_deltas``), or, for a file that is not a plain LoRA, by diffusers' ``fuse_lora`` and then
        ``unload_lora_weights``, which removes the peft layers and keeps the fused weights. Switching emotion does not ``unfuse_lora`` (subtracting B·A again does not give W back bit
        for bit, which would make images depend on which emotions were sampled before): the fused layers are
        copied back from the zoo's UNet, which this method never writes."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        assert self._pipe is not None
        if self._fused == emotion:
            return
        self._restore_base()
        pipe, unet = self._pipe, self._pipe.unet
        deltas = _lora_deltas(path, unet)
        if deltas is not None:   # the common case, without peft's layer injection (~90 % of a fusion's time)
            self._touched = list(deltas)
            with torch.no_grad():
                for name, delta in deltas.items():
                    unet.get_submodule(name).weight.data += delta
            self._fused = emotion
            return
        with quiet_loading():  # "no LoRA keys for the text encoder": expected, only the UNet is adapted
            pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=emotion)
        try:
            self._touched = [n for n, m in unet.named_modules() if isinstance(m, BaseTunerLayer)]
            unet.fuse_lora(lora_scale=1.0, adapter_names=[emotion])
        finally:
            pipe.unload_lora_weights()   # drops the adapter layers; what was fused stays in the base layers
        self._fused = emotion

    def _restore_base(self) -> None:
        """Copy the zoo's weights back into the private UNet's layers the last fusion changed."""
        assert self._pipe is not None and self._zoo is not None
        mine, base = self._pipe.unet, self._zoo.pipeline.unet
        with torch.no_grad():
            for name in self._touched:
                for p, q in zip(mine.get_submodule(name).parameters(), base.get_submodule(name).parameters()):
                    p.data.copy_(q.data)
        self._fused, self._touched = None, []


def _lora_deltas(path: Path, unet: torch.nn.Module) -> dict[str, torch.Tensor] | None:
    """``{module name: scale·B·A}`` of a plain LoRA file as ``_save_lora`` writes it (linear layers, one rank and
    alpha), computed exactly as peft's ``Linear.get_delta_weight`` does, so adding it to the weight gives the
    bytes ``fuse_lora`` gives. ``None`` for anything else (DoRA, rsLoRA, rank patterns, biases, other key
    names): diffusers' own loader then handles it. Reading the file directly skips peft's layer injection and
    removal, which cost ~10× the merge itself on the mini zoo."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        meta = json.loads((f.metadata() or {}).get("lora_adapter_metadata") or "null")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    if not isinstance(meta, dict):
        return None
    cfg = {k.removeprefix("unet."): v for k, v in meta.items()}
    if (cfg.get("use_dora") or cfg.get("use_rslora") or cfg.get("rank_pattern") or cfg.get("alpha_pattern")
            or cfg.get("lora_bias") or cfg.get("fan_in_fan_out") or cfg.get("bias", "none") != "none"
            or not cfg.get("r") or cfg.get("lora_alpha") is None):
        return None
    scaling = cfg["lora_alpha"] / cfg["r"]   # peft's LoraLayer.update_layer without rsLoRA
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in tensors.items():
        for part in ("down", "up"):
            suffix = f".lora.{part}.weight"
            if key.startswith("unet.") and key.endswith(suffix):
                pairs.setdefault(key[len("unet."):-len(suffix)], {})[part] = t
                break
        else:
            return None
    deltas: dict[str, torch.Tensor] = {}
    for name, p in pairs.items():
        try:
            layer = unet.get_submodule(name)
        except AttributeError:
            return None
        if not isinstance(layer, torch.nn.Linear) or set(p) != {"down", "up"}:
            return None
        w = layer.weight
        a, b = p["down"].to(w.device, w.dtype), p["up"].to(w.device, w.dtype)
        if tuple(w.shape) != (b.shape[0], a.shape[1]) or a.shape[0] != b.shape[1]:
            return None
        half_on_cpu = w.device.type == "cpu" and w.dtype in (torch.float16, torch.bfloat16)
        if half_on_cpu:   # peft computes B·A in fp32 there
            a, b = a.float(), b.float()
        deltas[name] = ((b @ a) * scaling).to(w.dtype)
    return deltas


def _save_lora(unet: torch.nn.Module, folder: Path, weight_name: str) -> None:
    """diffusers' DreamBooth-LoRA save: peft state dict → diffusers key names → ``save_lora_weights``."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    metadata = unet.peft_config["default"].to_dict()
    # peft keeps target_modules as a set, whose order varies between processes: sort it so a refit writes the
    # same metadata text
    metadata["target_modules"] = sorted(metadata["target_modules"])
    StableDiffusionPipeline.save_lora_weights(
        save_directory=str(folder), unet_lora_layers=layers, weight_name=weight_name, safe_serialization=True,
        unet_lora_adapter_metadata=metadata,
    )
