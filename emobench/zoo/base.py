"""The ``Zoo``: everything a scale supplies. Methods and metrics take what they need from it and never
know which scale they run on. Loading lives in ``emobench.zoo.load`` (``load_zoo("mini" | PATH | TOML)``).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

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
    scoring) never pays for it. The latent shape and image size come from the folder's configs. Loaded once
    for the zoo and every read-only view of it (``Zoo.for_method``)."""

    load: "Callable[[], StableDiffusionPipeline]"
    latent_channels: int
    vae_scale_factor: int
    scheduler_class: str = ""   # the scheduler config's class name: the protocol records it without loading
    loaded: Any = None                    # the pipeline once loaded
    loaded_fingerprint: int | None = None   # its state right after loading (what every method must leave)

    def get(self) -> "StableDiffusionPipeline":
        if self.loaded is None:
            # first use may happen inside the runner's inference_mode(); weights loaded there would become
            # inference tensors (no version counter, no autograd), which breaks fingerprints and any method
            # that takes a gradient through the pipeline
            with torch.inference_mode(False):
                self.loaded = self.load()
            self.loaded_fingerprint = fingerprint_pipeline(self.loaded)
        return self.loaded


SHARED = ("name", "scale", "pipeline", "sampling", "clip", "judges", "dataset", "root", "source", "hashes",
          "device", "contents")   # what every method of a run shares: read-only in a method's view


class ReadOnlyError(AttributeError):
    pass


def _refuse(what: str, name: str) -> None:
    raise ReadOnlyError(f"{what}.{name} is shared by every method of the run and cannot be changed (a plugin "
                        "that changes it would change other methods' images under the same store keys): keep "
                        "your setting in your method's Config and pass it to sample(...) (num_inference_steps=, "
                        "guidance_scale=), or work on a copy (emobench.sampling.private_pipeline)")


@dataclass
class ReadOnlyJudges:
    """The zoo's judges as a method sees them: the same networks, no attribute can be replaced."""

    emotion: Any = None
    object: Any = None
    scene: Any = None
    fid_features: Any = None
    lpips: Any = None

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_sealed", False):
            _refuse("zoo.judges", name)
        object.__setattr__(self, name, value)


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
        if name == "pipeline" and value is not None:
            pending = value if isinstance(value, PendingPipeline) else None
            if pending is not None:
                value = pending.get()
                if not object.__getattribute__(self, "__dict__").get("_method_view"):
                    object.__setattr__(self, "pipeline", value)
                    # the state every method must leave it in (the runner compares after each method)
                    object.__setattr__(self, "loaded_fingerprint", pending.loaded_fingerprint)
            if object.__getattribute__(self, "__dict__").get("_method_view"):
                value = self._private_pipeline(value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SHARED and self.__dict__.get("_method_view"):
            _refuse("zoo", name)
        object.__setattr__(self, name, value)

    def _private_pipeline(self, shared: Any) -> Any:
        """A method's own view of the shared pipeline: the same networks, a private copy of the scheduler (its
        config and state), made once per view. Networks are too large to copy: the runner and the kit check
        them after every method (``state``)."""
        mine = self.__dict__.get("_private")
        if mine is None or self.__dict__.get("_private_of") is not shared:
            mine = copy.copy(shared)
            if getattr(shared, "scheduler", None) is not None:
                object.__setattr__(mine, "scheduler", copy.deepcopy(shared.scheduler))
            self.__dict__["_private"], self.__dict__["_private_of"] = mine, shared
        return mine

    def for_method(self) -> "Zoo":
        """What a method gets (``load``, ``fit``): this zoo, read-only. Assigning any shared attribute
        (``zoo.sampling = ...``, ``zoo.judges.emotion = ...``) raises; the pipeline is a private view with its
        own scheduler; ``hashes`` cannot be edited. Weights are shared: ``state()`` shows a change to them."""
        view = copy.copy(self)
        judges = self.judges
        frozen = ReadOnlyJudges(**{f.name: getattr(judges, f.name) for f in dataclasses.fields(Judges)})
        object.__setattr__(frozen, "_sealed", True)
        view.__dict__.update(judges=frozen, hashes=types.MappingProxyType(dict(self.hashes)), _method_view=True,
                             _private=None, _private_of=None)
        return view

    @property
    def pipeline_loaded(self) -> bool:
        """Whether the pipeline is in memory (a lazily loaded zoo's is not until first used, by it or a view)."""
        raw = object.__getattribute__(self, "pipeline")
        return not isinstance(raw, PendingPipeline) or raw.loaded is not None

    def load_time_fingerprint(self) -> int | None:
        """The pipeline's state right after it was loaded (None when loaded eagerly or not at all)."""
        raw = object.__getattribute__(self, "pipeline")
        if isinstance(raw, PendingPipeline):
            return raw.loaded_fingerprint
        return self.__dict__.get("loaded_fingerprint")

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
        """Cheap identity of the shared pipeline's state (``fingerprint_pipeline``); None when not loaded."""
        if not self.pipeline_loaded:
            return None   # not loaded: nothing can have changed it (see ``load_time_fingerprint``)
        raw = object.__getattribute__(self, "pipeline")
        return fingerprint_pipeline(raw.loaded if isinstance(raw, PendingPipeline) else raw)

    def state(self) -> tuple:
        """Everything the methods of a run share, as one comparable value: the sampling defaults, hashes,
        contents, device, the identity of CLIP, dataset and every judge with its parameters' versions, and the
        pipeline's fingerprint. A method that changes any of it (even in place) changes it."""
        judges = object.__getattribute__(self, "judges")
        parts: list = [self.name, self.scale, str(self.root), str(self.source), str(self.device), self.sampling,
                       tuple(sorted(dict(self.hashes).items())), self.contents, id(self.clip), id(self.dataset)]
        for f in dataclasses.fields(Judges):
            net = getattr(judges, f.name, None)
            parts.append((f.name, id(net), _params_state(net)))
        parts.append(self.pipeline_fingerprint())
        return tuple(parts)


STATE_PARTS = ("name", "scale", "root", "source", "device", "sampling", "hashes", "contents", "clip", "dataset",
               *(f"judges.{f}" for f in ("emotion", "object", "scene", "fid_features", "lpips")), "pipeline")


def state_changes(before: tuple, after: tuple) -> list[str]:
    """The parts of ``Zoo.state()`` that differ, by name (``["sampling", "judges.emotion"]``)."""
    return [name for name, a, b in zip(STATE_PARTS, before, after) if a != b] or \
        (["?"] if before != after else [])


def _params_state(module: Any) -> tuple:
    if not isinstance(module, nn.Module):
        return ()
    return (module.training, tuple((n, p.data_ptr(), p._version) for n, p in module.named_parameters()),
            tuple((n, b.data_ptr(), b._version) for n, b in module.named_buffers()))


def fingerprint_pipeline(pipe: Any) -> int:
    """Cheap identity of a pipeline's state: parameters (storage, in-place version counter, shape),
    train/eval mode, attention processors, tokenizer size and scheduler. A method that changes any of them
    (a LoRA left loaded, a token added, weights edited in place) would make later methods' images depend on
    the order methods run in."""
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
