"""The ``Zoo``: everything a scale supplies. Methods and metrics take what they need from it and never
know which scale they run on. Loading lives in ``emobench.zoo.load`` (``load_zoo("mini" | PATH | TOML)``).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import torch
from torch import nn

from emobench.hashing import stable_hash
from emobench.zoo import official

if TYPE_CHECKING:  # pragma: no cover
    from diffusers import StableDiffusionPipeline

    from emobench.data.emoset import EmoSetDataset


@dataclass(frozen=True)
class SamplingDefaults:
    """How the zoo's generator is sampled unless a method overrides it."""

    num_inference_steps: int = 25
    guidance_scale: float = 5.0
    height: int = 32
    width: int = 32
    autocast_dtype: str | None = None   # "bfloat16" to sample under CPU autocast; None = fp32
    channels_last: bool = False         # UNet weights in channels-last memory format (faster oneDNN convs on CPU)


class ImageClassifier(Protocol):
    """A judge: float images ``[N,3,H,W]`` in ``[0,1]`` (any size; it resizes/normalises itself) → logits."""

    labels: Sequence[str]

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class ImageEncoder(Protocol):
    """Features for FID/KID or Sem-D: float images in ``[0,1]`` → ``[N, D]``."""

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


class ClipLike(Protocol):
    """The zoo's CLIP (tiny at mini scale, ViT-L/14 at paper scale), projected, *not* L2-normalised."""

    def encode_images(self, images: torch.Tensor) -> torch.Tensor: ...   # [N,3,H,W] in [0,1] → [N, D]
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor: ...    # → [N, D]


@dataclass
class PendingPart:
    """A judge network loaded on first use (``Judges`` resolves it on attribute access): a warm re-score, whose
    features are all cached, never reads its weights. With ``cls`` (the class ``load`` returns), reading the field
    gives a ``LazyPart`` that loads on its first call or attribute, and answers class-level facts (``STATIC_FACTS``,
    e.g. a metric's ``scale_note`` lookup) without loading."""

    load: "Callable[[], object]"
    cls: type | None = None


STATIC_FACTS = ("scale_note",)   # declared on a judge's class, if at all: read without loading its weights


class LazyPart:
    """A pending judge as ``zoo.judges.<name>`` returns it: calls and attributes load it (once, into the zoo)."""

    def __init__(self, judges: "Judges", name: str, cls: type):
        object.__setattr__(self, "_where", (judges, name, cls))

    def _get(self):
        judges, name, _ = object.__getattribute__(self, "_where")
        return judges.resolve(name)

    def __call__(self, *args, **kwargs):
        return self._get()(*args, **kwargs)

    def __getattr__(self, attr: str):
        if attr in STATIC_FACTS:
            cls = object.__getattribute__(self, "_where")[2]
            if hasattr(cls, attr):
                return getattr(cls, attr)
            raise AttributeError(attr)
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(self._get(), attr)


@dataclass
class Judges:
    """Networks that score images. None of them is shared with a generator. A field may hold a ``PendingPart``;
    reading the field loads it, or gives a ``LazyPart`` that loads on first use (``present`` asks without
    loading)."""

    emotion: ImageClassifier | None = None    # logits over EMOTIONS, canonical order (Emo-A)
    object: ImageClassifier | None = None     # Sem-C
    scene: ImageClassifier | None = None      # Sem-C
    fid_features: nn.Module | None = None     # FID/KID features; torchmetrics-compatible module
    lpips: nn.Module | None = None            # perceptual distance net: (x, y) in [0,1] → [N] distances

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if isinstance(value, PendingPart):
            return LazyPart(self, name, value.cls) if value.cls is not None else self.resolve(name)
        return value

    def resolve(self, name: str):
        """The judge ``name``, loaded now if it is pending."""
        value = object.__getattribute__(self, name)
        if isinstance(value, PendingPart):
            with torch.inference_mode(False):   # as Zoo.pipeline: never load weights as inference tensors
                value = value.load()
            object.__setattr__(self, name, value)
        return value

    def present(self, name: str) -> bool:
        """Whether the judge ``name`` is there (loaded or pending), without loading it."""
        return object.__getattribute__(self, name) is not None

    def loaded(self, name: str) -> bool:
        return not isinstance(object.__getattribute__(self, name), PendingPart)


@dataclass
class PendingPipeline:
    """A zoo's generator, loaded on first use of ``zoo.pipeline``: a resume with nothing left to generate (and
    scoring) never pays for it. The latent shape and image size come from the folder's configs."""

    load: "Callable[[], StableDiffusionPipeline]"
    latent_channels: int
    vae_scale_factor: int
    scheduler_class: str = ""   # the scheduler config's class name: the protocol records it without loading


@dataclass
class Zoo:
    name: str                                  # "mini", "paper" or a folder path
    scale: str                                 # "mini" | "paper" | "custom"
    pipeline: "StableDiffusionPipeline | None"   # None only when loaded for scoring (load_zoo(with_pipeline=False))
    sampling: SamplingDefaults = field(default_factory=SamplingDefaults)
    clip: ClipLike | None = None
    judges: Judges = field(default_factory=Judges)
    dataset: "EmoSetDataset | None" = None
    root: Path | None = None
    source: Path | None = None                 # the file it was described by (a paper .toml); judge plugins read it
    hashes: dict[str, str] = field(default_factory=dict)   # component → sha256 over its weight files
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    # the content track's list (emobench.spec.tracks.zoo_contents); None = the dataset's objects (the mini zoo)
    contents: tuple[str, ...] | None = None
    # per part, what the weight lock says of its files (emobench.zoo.weights_lock, paper zoos); None: derived
    # from the component hashes by ``official.statuses``
    official: dict[str, str] | None = None

    def __getattribute__(self, name: str):
        value = object.__getattribute__(self, name)
        if name == "pipeline" and isinstance(value, PendingPipeline):
            # first use may happen inside the runner's inference_mode(); weights loaded there would become
            # inference tensors (no version counter, no autograd), which breaks fingerprints and any method
            # that takes a gradient through the pipeline
            with torch.inference_mode(False):
                value = value.load()
            object.__setattr__(self, "pipeline", value)
            # the state every method must leave it in (the runner compares after each method)
            object.__setattr__(self, "loaded_fingerprint", self.pipeline_fingerprint())
        return value

    @property
    def pipeline_loaded(self) -> bool:
        """Whether the pipeline is in memory (a lazily loaded zoo's is not until first used)."""
        return not isinstance(object.__getattribute__(self, "pipeline"), PendingPipeline)

    @property
    def weights_hash(self) -> str:
        """Hash of what generates (pipeline parts); part of every image key."""
        return stable_hash({k: v for k, v in sorted(self.hashes.items()) if k.startswith("pipeline")})

    @property
    def judges_hash(self) -> str:
        """Hash of what scores (judges + CLIP); part of every score-cache key."""
        return stable_hash({k: v for k, v in sorted(self.hashes.items()) if not k.startswith("pipeline")})

    def latent_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the initial latents for ``sampling.height`` × ``sampling.width``."""
        self.require("pipeline")
        pending = object.__getattribute__(self, "pipeline")
        if isinstance(pending, PendingPipeline):
            return (pending.latent_channels, self.sampling.height // pending.vae_scale_factor,
                    self.sampling.width // pending.vae_scale_factor)
        p = self.pipeline
        f = p.vae_scale_factor
        return (p.unet.config.in_channels, self.sampling.height // f, self.sampling.width // f)

    def has(self, part: str) -> bool:
        """Whether the dotted part (``"clip"``, ``"judges.emotion"``, ``"dataset"``) is present."""
        if part == "pipeline":   # without loading a pending pipeline
            return object.__getattribute__(self, "pipeline") is not None
        judges = self.judges
        if part.startswith("judges.") and isinstance(judges, Judges) and part[7:] in Judges.__dataclass_fields__:
            return judges.present(part[7:])   # nor a pending judge
        obj = self
        for attr in part.split("."):
            obj = getattr(obj, attr, None)
        return obj is not None

    def require(self, *parts: str) -> None:
        """Raise a clear error if any dotted part (``"clip"``, ``"judges.emotion"``, ``"dataset"``) is missing."""
        from emobench.errors import EmobenchError

        for part in parts:
            if not self.has(part):
                raise EmobenchError(
                    f"zoo {self.name!r} has no {part}",
                    "use a zoo that provides it (the default mini zoo has every part; a bare diffusers "
                    "folder has only the pipeline)",
                )

    def facts(self) -> dict:
        """What ``zoo.json`` of a run records about this zoo."""
        return {"name": self.name, "scale": self.scale, "sampling": dataclasses.asdict(self.sampling),
                "hashes": dict(sorted(self.hashes.items())), "weights_hash": self.weights_hash,
                "judges_hash": self.judges_hash, "latent_shape": list(self.latent_shape()),
                "official": dict(self.official) if self.official is not None else official.statuses(self.hashes)}

    def scheduler_name(self) -> str:
        """The sampler's class name, read from the folder's config when the pipeline is not loaded yet."""
        raw = object.__getattribute__(self, "pipeline")
        if isinstance(raw, PendingPipeline):
            return raw.scheduler_class or "?"
        sched = getattr(raw, "scheduler", None) if raw is not None else None
        return type(sched).__name__ if sched is not None else "?"

    def pipeline_fingerprint(self) -> int | None:
        """Cheap identity of the shared pipeline's state: parameters (storage, in-place version counter, shape),
        train/eval mode, attention processors, tokenizer size and scheduler. A method that changes any of them
        (a LoRA left loaded, a token added, weights edited in place) would make later methods' images depend on
        the order methods run in."""
        if not self.pipeline_loaded:
            return None   # not loaded: nothing can have changed it (see ``loaded_fingerprint``)
        pipe = self.pipeline
        parts: list = []
        for name in ("unet", "vae", "text_encoder"):
            module = getattr(pipe, name, None)
            if module is None:
                continue
            parts.append((name, type(module).__name__, module.training,
                          tuple((n, p.data_ptr(), p._version, tuple(p.shape), str(p.dtype), str(p.device))
                                for n, p in module.named_parameters())))
        unet = getattr(pipe, "unet", None)
        if unet is not None and hasattr(unet, "attn_processors"):
            parts.append(tuple(sorted((k, type(v).__name__) for k, v in unet.attn_processors.items())))
        tok = getattr(pipe, "tokenizer", None)
        parts.append(len(tok) if tok is not None else None)
        sched = getattr(pipe, "scheduler", None)
        parts.append((id(sched), type(sched).__name__,
                      json.dumps(dict(getattr(sched, "config", {}) or {}), sort_keys=True, default=str)))
        return hash(tuple(parts))
