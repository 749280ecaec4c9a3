"""``textual-inversion``: one learned token per emotion (Gal et al. 2022), diffusers' training procedure.

Fit: for each emotion, a new token ``<emotion>`` (plus ``<emotion>_1`` … for more vectors) is added to a
private copy of the tokenizer and text encoder, initialised from the embedding of ``init_word``, and only its
vector(s) are trained with the denoising loss on that emotion's training images, captioned with
``CAPTION_TEMPLATES``; UNet, VAE and every other embedding row stay frozen. The vectors are a separate
parameter spliced into the embedding output, so no other row can move (AdamW's weight decay would move
rows whose gradient is zero).

Artifacts: ``<emotion>.safetensors`` = ``{token: [num_vectors, dim]}``, the file diffusers'
``StableDiffusionPipeline.load_textual_inversion`` reads, plus ``<emotion>.json`` (facts of the fit).

Generate: the cell's template rendered with the token, e.g. ``"an image of <fear>"``, on a private pipeline
into which every fitted embedding was loaded with ``load_textual_inversion``.
"""
from __future__ import annotations

import copy
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator, Sequence

import torch
from safetensors.torch import save_file

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
from emobench.api import EMOTIONS, FitContext, GenerationRequest, GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.sampling import private_pipeline
from emobench.training import EpochSampler, ScaledBackward, cpu_generator, emotion_seed, quiet_loading

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

# Emotion-neutral captions around the token (diffusers' example uses "a photo of a {}" etc. for objects; an
# emotion is not a countable object, so no article). Includes the paper's generation prompt "an image of {}".
CAPTION_TEMPLATES: tuple[str, ...] = (
    "a photo of {}",
    "an image of {}",
    "a picture of {}",
    "a rendering of {}",
    "a photo showing {}",
    "a scene of {}",
    "a good photo of {}",
    "a close-up photo of {}",
)


@dataclass(frozen=True)
class TextualInversionConfig:
    steps: int = 50                 # optimisation steps per emotion (mini-zoo budget: see docs/baselines.md)
    batch_size: int = 8
    lr: float = 1e-2                # AdamW, constant schedule (few steps: see docs/baselines.md)
    weight_decay: float = 1e-2      # diffusers' default adam_weight_decay
    num_vectors: int = 1            # vectors per emotion token
    init_word: str = "{emotion}"    # initialiser: the emotion word itself, or any word such as "photo"
    token: str = "<{emotion}>"      # the placeholder token; must not exist in the tokenizer
    max_images: int = 512           # training images per emotion (a seeded subset when there are more)


class TextualInversionMethod(Method):
    name: ClassVar[str] = "textual-inversion"
    display_name: ClassVar[str] = "Textual Inversion"
    Config: ClassVar[type] = TextualInversionConfig
    learns: ClassVar[bool] = True
    # diffusers' examples/textual_inversion README for SD: 3,000 steps of batch 1 × 4 accumulated at lr 5e-4,
    # scaled by --scale_lr to 5e-4 × 4 = 2e-3 (this plugin takes the 4 images in one batch: no accumulation)
    scale_defaults: ClassVar[dict[str, dict[str, Any]]] = {"paper": {"steps": 3000, "batch_size": 4, "lr": 2e-3}}

    def __init__(self, config: Any = None):
        super().__init__(config)
        c = self.config
        if c.steps < 1 or c.batch_size < 1 or c.num_vectors < 1 or c.lr <= 0:
            raise EmobenchError(f"textual-inversion config {c} has a non-positive steps, batch_size, "
                                "num_vectors or lr", "set them to positive values")
        if "{emotion}" not in c.token:
            raise EmobenchError(f"textual-inversion token {c.token!r} has no {{emotion}} placeholder",
                                "use a pattern such as '<{emotion}>' so each emotion gets its own token")
        self._pipe: Any = None
        self._zoo: Zoo | None = None
        self._loaded: set[str] = set()
        self._artifact_dir: Path | None = None

    # ------------------------------------------------------------------------------------------ fit

    def token_for(self, emotion: str) -> str:
        return self.config.token.format(emotion=emotion)

    def tokens_for(self, emotion: str) -> list[str]:
        """The emotion's placeholder tokens, named as diffusers names a multi-vector embedding's parts."""
        token = self.token_for(emotion)
        return [token] + [f"{token}_{i}" for i in range(1, self.config.num_vectors)]

    def fit(self, ctx: FitContext) -> dict[str, Any]:
        pipe = ctx.zoo.pipeline
        vocab = pipe.tokenizer.get_vocab()
        for emotion in ctx.emotions:  # checked up front: fail before any training
            clash = [t for t in self.tokens_for(emotion) if t in vocab]
            if clash:
                raise EmobenchError(
                    f"textual-inversion token {clash[0]!r} already exists in the zoo's tokenizer",
                    "choose another pattern with textual-inversion:token='<emo-{emotion}>'",
                )
        space = _TokenSpace(pipe)  # one private tokenizer + text encoder for the whole fit
        facts = fit_emotions(ctx, self.name, lambda e: f"{e}.safetensors",
                             lambda e, tick: self._fit_one(ctx, space, e, tick))
        facts["config"] = {k: getattr(self.config, k) for k in self.config.__dataclass_fields__}
        facts["caption_templates"] = list(CAPTION_TEMPLATES)
        return facts

    def _fit_one(self, ctx: FitContext, space: "_TokenSpace", emotion: str, tick: Callable[[int, int], None]):
        cfg = self.config
        zoo = ctx.zoo
        pipe = zoo.pipeline
        tokens = self.tokens_for(emotion)
        start = time.perf_counter()
        seed = emotion_seed(ctx.seed, emotion)
        gen = cpu_generator(seed)
        latents = training_latents(zoo, ctx.dataset, emotion, cfg.max_images, gen)

        init = self._init_vectors(pipe, emotion).repeat(cfg.num_vectors, 1)
        vectors = torch.nn.Parameter(init.to(space.device, copy=True))  # init stays as it was
        unet = pipe.unet
        was_grad = [p.requires_grad for p in unet.parameters()]
        unet.requires_grad_(False)  # gradients flow through the UNet to the token only
        scheduler = training_scheduler(pipe)
        opt = torch.optim.AdamW([vectors], lr=cfg.lr, weight_decay=cfg.weight_decay)
        scaled = ScaledBackward([unet, space.text_encoder], space.device)   # fp16 zoo: loss scaling (fp32: plain)
        sampler = EpochSampler(len(latents), cfg.batch_size, gen)
        trace = LossTrace()
        device = latents.device
        text = token_text(tokens)

        def probe_loss() -> float:  # on the paper's prompt, fixed batch: before vs after the fit
            with torch.no_grad():
                cond = encode_text(pipe, ["an image of " + text], space.tokenizer, space.text_encoder)
            return fixed_batch_loss(unet, scheduler, latents, cond, seed + 1)

        try:
            with space.learning(tokens, vectors):
                before = probe_loss()
                for step in range(ctx.loop_steps(cfg.steps)):   # a pilot runs a few
                    idx = sampler.next()
                    picks = torch.randint(0, len(CAPTION_TEMPLATES), (len(idx),), generator=gen).tolist()
                    captions = [CAPTION_TEMPLATES[k].format(text) for k in picks]
                    cond = encode_text(pipe, captions, space.tokenizer, space.text_encoder)
                    loss = denoising_loss(unet, scheduler, latents[idx.to(device)], cond, gen)
                    opt.zero_grad(set_to_none=True)
                    scaled.step(loss, opt)
                    trace.add(loss.item())
                    tick(step + 1, cfg.steps)
                after = probe_loss()
        finally:
            for p, g in zip(unet.parameters(), was_grad):
                p.requires_grad_(g)
        learned = vectors.detach().to("cpu", torch.float32).contiguous()
        token = tokens[0]
        facts = EmotionFit(emotion, ctx.loop_steps(cfg.steps), len(latents), round(time.perf_counter() - start, 3),
                           trace.first, trace.last,
                           {"token": token, "seed": seed,
                            "vector_norm": round(float(learned.norm(dim=1).mean()), 5),
                            "init_norm": round(float(init.norm(dim=1).mean()), 5), **scaled.facts(),
                            "fixed_batch_loss_before": round(before, 6), "fixed_batch_loss_after": round(after, 6)})

        def write(tmp: Path) -> None:
            # diffusers' format: one key, the token, mapping to [num_vectors, dim]
            save_file({token: learned}, str(tmp / f"{emotion}.safetensors"))

        return write, facts

    def _init_vectors(self, pipe, emotion: str) -> torch.Tensor:
        """Mean embedding of the initialiser word's tokens (diffusers requires a single-token initialiser;
        averaging lets multi-token words such as "contentment" initialise too)."""
        word = self.config.init_word.format(emotion=emotion)
        ids = pipe.tokenizer.encode(word, add_special_tokens=False)
        if not ids:
            raise EmobenchError(f"textual-inversion init_word {word!r} has no tokens",
                                "use a word such as '{emotion}' or 'photo'")
        weight = pipe.text_encoder.get_input_embeddings().weight
        return weight[torch.tensor(ids, device=weight.device)].detach().float().mean(0, keepdim=True).cpu()

    # ------------------------------------------------------------------------------------------ generate

    def load(self, zoo: "Zoo", artifact_dir: Path | None) -> None:
        if artifact_dir is None or not Path(artifact_dir).is_dir():
            raise EmobenchError(f"textual-inversion needs fitted embeddings, and {artifact_dir} is not a folder",
                                "run `emobench fit textual-inversion` first")
        artifact_dir = Path(artifact_dir)
        pipe = private_pipeline(zoo.pipeline, tokenizer=copy.deepcopy(zoo.pipeline.tokenizer),
                                text_encoder=copy.deepcopy(zoo.pipeline.text_encoder))
        loaded = set()
        for emotion in EMOTIONS:
            path = artifact_dir / f"{emotion}.safetensors"
            if not path.exists():
                continue
            try:
                with quiet_loading():  # transformers' embedding-resize notice on every load
                    pipe.load_textual_inversion(str(path), token=self.token_for(emotion))
            except ValueError as err:  # diffusers: token already in vocabulary / wrong shape
                raise EmobenchError(f"cannot load the textual-inversion embedding {path}: {err}",
                                    "refit with --refit, or pick another token pattern") from err
            loaded.add(emotion)
        self._zoo, self._pipe, self._loaded, self._artifact_dir = zoo, pipe, loaded, artifact_dir

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        if self._pipe is None or self._zoo is None:
            raise RuntimeError("textual-inversion: call load() before generate()")
        images, prompts = sample_by_emotion(self._zoo, self._pipe, requests, self.token_for, self._fitted)
        return GenerationResult(images=images, prompts=prompts,
                                extras=[{"token": self.token_for(r.cell.emotion)} for r in requests])

    @contextmanager
    def _fitted(self, emotion: str) -> Iterator[None]:
        """Every fitted token is already in the private pipeline: only check this emotion has one."""
        if emotion not in self._loaded:
            raise missing_artifact(self.name, emotion, self._artifact_dir)
        yield


def token_text(tokens: list[str]) -> str:
    """The placeholder as it appears in a caption: all its vectors' tokens, space-separated (what diffusers'
    ``maybe_convert_prompt`` expands ``<tok>`` into at generation time)."""
    return " ".join(tokens)


class _TokenSpace:
    """A private tokenizer and frozen text encoder into which placeholder tokens are added, and whose token
    embedding takes the rows of the tokens being learned from a separate parameter.

    The embedding matrix is never resized or written: a pre-hook maps the new ids to id 0 for the lookup, and
    a forward hook puts the learned vectors in those positions. So only the vectors get gradients, and the
    result equals a resized matrix holding the vectors in the new rows (what ``load_textual_inversion`` builds).
    """

    def __init__(self, pipe):
        self.tokenizer = copy.deepcopy(pipe.tokenizer)
        self.text_encoder = copy.deepcopy(pipe.text_encoder).requires_grad_(False).eval()
        self.embedding = self.text_encoder.get_input_embeddings()
        self.device = self.embedding.weight.device

    @contextmanager
    def learning(self, tokens: list[str], vectors: torch.nn.Parameter) -> Iterator[None]:
        self.tokenizer.add_tokens(tokens)
        ids = self.tokenizer.convert_tokens_to_ids(tokens)
        first, n = ids[0], len(ids)
        if ids != list(range(first, first + n)):  # pragma: no cover - add_tokens appends in order
            raise RuntimeError(f"new token ids are not contiguous: {ids}")
        marked: dict[str, torch.Tensor] = {}

        def pre(module: torch.nn.Module, args: tuple):
            ids_in = args[0]
            mask = (ids_in >= first) & (ids_in < first + n)
            marked["mask"], marked["ids"] = mask, ids_in
            return (torch.where(mask, torch.zeros_like(ids_in), ids_in),) + tuple(args[1:])

        def post(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
            mask, ids_in = marked.pop("mask"), marked.pop("ids")
            if not bool(mask.any()):
                return output
            out = output.clone()
            out[mask] = vectors[ids_in[mask] - first].to(out.dtype)
            return out

        handles = [self.embedding.register_forward_pre_hook(pre), self.embedding.register_forward_hook(post)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()
