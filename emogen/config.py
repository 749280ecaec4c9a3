"""EmoGen's options (``emogen:key=value``): one frozen dataclass, faithful defaults, every open choice a field.

Each field's comment names the faithful value (the official code, see ``docs/emogen.md``) and the alternative.
``"auto"`` / ``0`` values resolve per zoo in :func:`resolve` (mini vs paper scale); the resolved values are
written into the artifacts' ``emogen.json`` so a fit is never ambiguous after the fact.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from emobench.errors import EmobenchError
from emobench.sampling import check_sampling_options

# Measured on the shipped mini zoo, 2 threads: a whole default fit (500 stage-1 steps, one stage-2 epoch of
# 6,036 steps, loading and embedding) takes 335 s, inside the 10-minute bar (docs/emogen.md, "Training length").
MINI_STAGE1_STEPS = 500     # ≈ 1.6 epochs of EmoSet-mini's 20k training images; held-out accuracy 0.79
# Stage 2 trains one epoch over the balanced attribute list at both scales, as the authors did (≈ 6,000 steps at
# batch 8 on EmoSet-mini). The earlier mini default of 1,200 steps (0.2 epoch) underfitted the MLP mapper: one
# epoch takes full EmoGen from Emo-A 71 % / FID 44.5 / Sem-D 0.58 to 77 % / 16.8 / 0.94 on the mini leaderboard's
# cells (docs/emogen.md, "Stage-2 length").
# What "auto" resolves to is part of the artifact key (``auto_defaults``): changing it never reuses a stale fit.
STAGE2_EPOCHS = 1.0         # stage-2 length when neither steps nor epochs is given (both scales)
PAPER_STAGE1_EPOCHS = 3.0   # unreleased recipe: a plain fine-tune length, documented as our choice

# ---------------------------------------------------------------------------- the official-recipe switch
# Options whose official value (the authors' code, docs/emogen.md "Recipe: current default and official") differs
# from what every shipped mini fit was trained with. The defaults stay PRE_REFIT_RECIPE until the mini zoo's
# prefits are refitted: flipping a default changes EmoGen's artifact key, so the shipped prefits would no longer
# be found. THE ONE CHANGE that moves every default to the official recipe, with that refit:
#     DEFAULT_RECIPE = OFFICIAL_RECIPE
PRE_REFIT_RECIPE: dict[str, Any] = {
    "train_list": "overlap",   # every image under its first object AND under its scene
    "framing": "crop",         # stage 2 sees a centre crop of the full short side, resized
    "encoder_crop": 1.0,       # stage 1 crops 100 % of the short side
    "attr_names": "raw",       # attribute names as annotated ("Billiard table")
}
OFFICIAL_RECIPE: dict[str, Any] = {
    "train_list": "norepeat",  # dataset_balance.py: under the scene, else under object[0] (each image once)
    "framing": "squash",       # main.py: Resize((512, 512)), no crop (--center_crop off)
    "encoder_crop": 0.875,     # main.py / emo_translate.py: Resize 256 → CenterCrop 224
    "attr_names": "snake",     # main.py / dataset_balance.py: .lower().replace(' ', '_')
}
DEFAULT_RECIPE = OFFICIAL_RECIPE   # flipped with the refit on the calibrated EmoSet-mini world (v2)
# Options added after the shipped prefits were fitted: left out of the artifact key while they hold the value
# those fits were trained with (so the shipped keys stay byte-identical), written into it otherwise.
KEY_OMITTED_AT: dict[str, Any] = {"train_list": "overlap", "framing": "crop", "encoder_crop": 1.0,
                                  "attr_bank": "dataset", "space": "fit", "official_dir": ""}
# preset=paper2024: the inference the paper's Table 1 most likely used (pre-fix EOS placement, commit f560012,
# EmoGen#5; UniPC, 7.5, 50 steps as in inference.py). Generation only: the fit is shared with the default.
PRESETS: dict[str, dict[str, Any]] = {
    "paper2024": {"placement": "eos", "scheduler": "unipc", "guidance_scale": 7.5, "inference_steps": 50},
}


@dataclass(frozen=True)
class EmoGenConfig:
    # ---------------------------------------------------------------- stage 1: emotion space
    encoder: str = "auto"            # auto (resnet50 at paper scale, cnn otherwise) | cnn | resnet50
    encoder_init: str = "imagenet"   # resnet50 only: imagenet (used if the weights are on disk) | none
    encoder_image_size: int = 0      # 0: the zoo's image height at mini scale; 224 for resnet50 (faithful)
    stage1_steps: int = 0            # 0: auto (mini: MINI_STAGE1_STEPS; paper: PAPER_STAGE1_EPOCHS epochs)
    stage1_batch: int = 64
    stage1_lr: float = 1e-3
    covariance: str = "diag"         # diag (faithful, prepare.py) | full (the commented-out variant)
    encoder_crop: float = DEFAULT_RECIPE["encoder_crop"]  # centre-crop fraction of the short side (official .875)
    space: str = "fit"               # fit (Gaussians of our encoder) | official (the authors' emo_space, imported)
    # ---------------------------------------------------------------- stage 2: mapping network
    mapper: str = "mlp"              # mlp (faithful) | fc (Linear only; the paper's FC ablation)
    mapper_layers: int = 2           # MLP linear layers (faithful 2); >2 adds hidden→hidden blocks
    mapper_hidden: int = 0           # 0: 1024 when the width is 768 (faithful), else 2×width
    steps: int = 0                   # 0: auto (one epoch of the attribute list, as the authors trained)
    epochs: float = 0.0              # >0 overrides steps: epochs over the balanced attribute list (faithful 1)
    batch_size: int = 8              # faithful total batch 8 (#24)
    lr: float = 1e-3                 # AdamW, constant (faithful)
    weight_decay: float = 1e-2
    # ---------------------------------------------------------------- losses
    attr_weight: float = 0.01        # λ (faithful 0.01); 0 = the "without attribute loss" ablation
    emo_weight: float = 0.0          # μ (faithful 0: L_emo off)
    confidence: bool | str = True    # c (faithful); false = the ablation L = L_LDM + λ·L_attr; official = the
                                     # authors' attr_coefficient_*.pkl (imported) instead of our label frequencies
    confidence_smoothing: float = 1.0  # additive (Laplace) smoothing of P(emotion | attribute) counts
    confidence_threshold: float = 0.0  # c := 0 below it (faithful 0: no filtering)
    attr_temperature: float = 1.0    # logits = cos / T (faithful: none, T=1); CLIP's own scale is T=0.01
    attr_pool: str = "token"         # token (faithful: legacy argmax pooling lands on the mapped token) | eos
    attr_names: str = DEFAULT_RECIPE["attr_names"]  # raw (as annotated) | snake (official: lower-case, "_")
                                     # | words ("city street"); no template in any
    attr_bank: str = "dataset"       # dataset (every object + scene name) | official (the authors' 278 names)
    attributes: str = "both"         # both (faithful: object list + scene list) | object | scene
    train_list: str = DEFAULT_RECIPE["train_list"]  # overlap | norepeat (official rule) | official (the
                                     # authors' balanced lists, imported, restricted to our train split)
    framing: str = DEFAULT_RECIPE["framing"]  # stage-2 images: crop (centre crop) | squash (official, no crop)
    official_dir: str = ""           # folder written by `python -m emogen.official import` (for "official")
    balance: bool = True             # oversample every emotion to the majority count (dataset_balance.py)
    flip: bool = True                # horizontal flip p=0.5 of training images (faithful)
    # ---------------------------------------------------------------- generation
    prompt: str = "bare"             # bare (faithful: the mapped token alone, as trained) | plan (the plan's template)
    placement: str = "token"         # token (training-consistent, position of {emotion}) | eos (paper-era bug)
    fuse: str = ""                   # "amusement+fear": two mapped tokens in one prompt (emotion fusion)
    scheduler: str = "pipeline"      # pipeline (the zoo's, same as every method) | unipc (official inference)
    guidance_scale: float | None = None   # None: the zoo's default (official 7.5)
    inference_steps: int | None = None    # None: the zoo's default (official 50)
    micro_batch: int = 8                  # cells per pipeline call, padded (batch-size invariant, like ``sd``)
    preset: str = ""                      # paper2024: placement=eos, scheduler=unipc, 7.5, 50 (PRESETS)

    def __post_init__(self) -> None:
        # Options may arrive as strings from ``emogen:key=value``: coerce to the declared types here, so the
        # method works whichever way the core hands them over.
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            object.__setattr__(self, f.name, _coerce(f.name, value, hints[f.name]))
        _check_choice("encoder", self.encoder, ("auto", "cnn", "resnet50"))
        _check_choice("encoder_init", self.encoder_init, ("imagenet", "none"))
        _check_choice("covariance", self.covariance, ("diag", "full"))
        _check_choice("mapper", self.mapper, ("mlp", "fc"))
        _check_choice("attr_pool", self.attr_pool, ("token", "eos"))
        _check_choice("attributes", self.attributes, ("both", "object", "scene"))
        _check_choice("attr_names", self.attr_names, ("raw", "snake", "words"))
        self._official_options()
        _check_choice("preset", self.preset, ("", *PRESETS))
        for key, value in PRESETS.get(self.preset, {}).items():   # a preset sets its generation options
            object.__setattr__(self, key, value)
        check_sampling_options(self.inference_steps, self.guidance_scale, self.micro_batch)
        if not 0 < self.encoder_crop <= 1:
            raise EmobenchError(f"emogen:encoder_crop={self.encoder_crop} is not a fraction of the short side",
                                "use 1 (whole short side) or 0.875 (official Resize 256 → CenterCrop 224)")
        _check_choice("prompt", self.prompt, ("bare", "plan"))
        _check_choice("placement", self.placement, ("token", "eos"))
        _check_choice("scheduler", self.scheduler, ("pipeline", "unipc"))
        if self.mapper == "mlp" and self.mapper_layers < 2:
            raise EmobenchError(f"emogen:mapper_layers={self.mapper_layers} is too few for an MLP",
                                "use mapper_layers=2 or more, or emogen:mapper=fc for a single linear layer")
        for name in ("batch_size", "stage1_batch"):
            if getattr(self, name) < 1:
                raise EmobenchError(f"emogen:{name} must be at least 1", f"pass e.g. emogen:{name}=8")
        if self.attr_temperature <= 0:
            raise EmobenchError("emogen:attr_temperature must be positive", "use 1 (faithful) or 0.01 (CLIP's scale)")
        self.fusion  # validates a fusion spec (unknown emotion → EmobenchError) when the config is built
        if self.fuse and self.placement == "eos":
            raise EmobenchError("emogen:fuse cannot be combined with placement=eos (one vector fills every "
                                "padding slot there)", "use placement=token for fusion")

    def _official_options(self) -> None:
        """Validate the options that can read the authors' released files; ``X=official:DIR`` is shorthand for
        ``X=official,official_dir=DIR``."""
        choices = {"space": ("fit", "official"), "attr_bank": ("dataset", "official"),
                   "train_list": ("overlap", "norepeat", "official"), "framing": ("crop", "squash")}
        for name in ("space", "attr_bank", "train_list", "confidence"):
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("official:"):
                folder = value.split(":", 1)[1]
                if self.official_dir and self.official_dir != folder:
                    raise EmobenchError(f"emogen:{name}={value} names another folder than official_dir="
                                        f"{self.official_dir}", "import the authors' files into one folder")
                object.__setattr__(self, "official_dir", folder)
                object.__setattr__(self, name, "official")
        for name, allowed in choices.items():
            _check_choice(name, getattr(self, name), allowed)
        if isinstance(self.confidence, str) and self.confidence != "official":
            raise EmobenchError(f"emogen:confidence={self.confidence!r} is not a known choice",
                                "use true, false or official")
        if self.uses_official() and not self.official_dir:
            raise EmobenchError("an emogen option asks for the authors' files but no folder holds them",
                                "import them with `python -m emogen.official import EmoGen/ --out DIR`, then pass "
                                "emogen:official_dir=DIR (or e.g. emogen:space=official:DIR)")

    def uses_official(self) -> bool:
        """True when any option reads the authors' imported files."""
        return "official" in (self.space, self.attr_bank, self.train_list, self.confidence)

    @property
    def fusion(self) -> tuple[str, ...]:
        """The emotions of a fusion spec, validated against the canonical list."""
        from emobench.api import EMOTIONS

        if not self.fuse:
            return ()
        parts = tuple(p.strip() for p in self.fuse.split("+"))
        for p in parts:
            if p not in EMOTIONS:
                raise EmobenchError(f"unknown emotion {p!r} in emogen:fuse={self.fuse}",
                                    f"use two of: {', '.join(EMOTIONS)} (e.g. emogen:fuse=amusement+fear)")
        if len(parts) < 2:
            raise EmobenchError(f"emogen:fuse={self.fuse} names one emotion", "name two, e.g. amusement+fear")
        if len(set(parts)) < len(parts):   # fear+fear is one emotion, not a fusion
            raise EmobenchError(f"emogen:fuse={self.fuse} names an emotion twice",
                                "name two different emotions, e.g. amusement+fear")
        return parts

    def training_dict(self) -> dict[str, Any]:
        """The fields that change the fitted artifacts (generation-only fields excluded)."""
        generation = {"prompt", "placement", "fuse", "scheduler", "guidance_scale", "inference_steps", "micro_batch",
                      "preset"}
        # official_dir is a path: the key carries the imported files' hash instead (EmoGenMethod.fit_config)
        return {k: v for k, v in dataclasses.asdict(self).items()
                if k not in generation and k != "official_dir"
                and not (k in KEY_OMITTED_AT and v == KEY_OMITTED_AT[k])}


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise EmobenchError(f"emogen:{name}={value!r} is not a known choice", f"use one of: {', '.join(choices)}")


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """A string (``emogen:key=value``) parsed by the registry's own option converter; a TOML/Python value kept,
    except that an int given for a float field becomes a float (so the config hashes the same either way)."""
    from emobench.api import convert_option

    if isinstance(value, str):
        try:
            return convert_option(value, kind)
        except (TypeError, ValueError):
            name_of = getattr(kind, "__name__", None) or str(kind).replace("typing.", "")
            raise EmobenchError(f"emogen:{name}={value!r} is not a valid {name_of}",
                                f"pass a {name_of} value for {name}") from None
    if isinstance(value, int) and not isinstance(value, bool) and float in typing.get_args(kind) + (kind,) \
            and int not in typing.get_args(kind) + (kind,):
        return float(value)
    return value


@dataclass(frozen=True)
class Resolved:
    """The per-zoo values behind the config's ``auto`` / ``0`` settings."""

    encoder: str
    image_size: int
    width: int
    mapper_hidden: int
    stage1_steps: int | None     # None: derive from PAPER_STAGE1_EPOCHS and the dataset size
    stage2_steps: int | None     # None: derive from epochs and the training list length


def auto_defaults() -> dict[str, Any]:
    """What ``stage1_steps = 0`` / ``steps = 0`` resolve to; fitted artifacts are keyed on it."""
    return {"mini_stage1_steps": MINI_STAGE1_STEPS, "paper_stage1_epochs": PAPER_STAGE1_EPOCHS,
            "stage2": f"{STAGE2_EPOCHS:g} epoch"}


def resolve(config: EmoGenConfig, zoo: Any) -> Resolved:
    width = int(zoo.pipeline.text_encoder.config.hidden_size)
    paper = zoo.scale == "paper" or int(zoo.sampling.height) >= 256
    encoder = config.encoder if config.encoder != "auto" else ("resnet50" if paper else "cnn")
    if config.encoder_image_size:
        size = config.encoder_image_size
    else:
        # 224 (the official Resize 256 → CenterCrop 224) for ResNet-50 at paper scale; never above the zoo's own
        # image size: a tiny paper-layout zoo (64 px) would otherwise upsample to 224 and spend most of a dry
        # run's time in stage 1
        size = min(224, int(zoo.sampling.height)) if encoder == "resnet50" and paper else int(zoo.sampling.height)
    hidden = config.mapper_hidden or (1024 * width // 768 if width == 768 else 2 * width)
    s1 = config.stage1_steps or (None if paper else MINI_STAGE1_STEPS)
    s2 = None if config.epochs > 0 else (config.steps or None)   # None: epochs over the list (Stage2Trainer)
    return Resolved(encoder, size, width, hidden, s1, s2)
