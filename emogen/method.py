"""The ``emogen`` method plugin: fit (stage 1 + stage 2), load artifacts, generate (incl. transfer and fusion).

Generation for a cell: v ~ N(μ_e, Σ_e) drawn with a generator seeded from (cell seed, emotion, slot) →
mapper(v) → injected as the input embedding of the prompt's slot → the zoo pipeline with the plan's latents,
classifier-free guidance against "", sampled with ``emobench.sampling.sample`` (padded micro-batches of a
fixed size and per-cell step noise, so images do not depend on the runner's batch size).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file

from emobench.api import Cell, FitContext, GenerationRequest, GenerationResult, Method
from emobench.errors import EmobenchError
from emobench.sampling import empty_prompt_embeds, private_pipeline, sample, swap_scheduler
from emogen import prompts

TRANSFER_TEMPLATE = "{emotion} {content}"   # EmoGen's emotion transfer: the mapped token, then the content word
from emogen.config import KEY_OMITTED_AT, EmoGenConfig, auto_defaults
from emogen.emotion_space import EmotionSpace
from emogen.fit import fit_emogen, seed_of
from emogen.version import FORMAT, VERSION
from emogen.mapper import build_mapper


class EmoGenMethod(Method):
    name = "emogen"
    display_name = "EmoGen"
    Config = EmoGenConfig
    learns = True

    def __init__(self, config: Any = None):
        if isinstance(config, dict):
            config = EmoGenConfig(**config)
        super().__init__(config)
        self.config.fusion  # validates a fusion spec up front (unknown emotion → EmobenchError)
        self.space: EmotionSpace | None = None
        self.mapper: torch.nn.Module | None = None
        self.meta: dict[str, Any] = {}

    def fit_config(self) -> dict[str, Any]:
        """The options that change the fitted artifacts (generation-only options such as ``fuse`` or
        ``prompt`` excluded) and what their ``auto`` values resolve to, for cores that key the artifact cache on
        them."""
        out = {**self.config.training_dict(), "auto": auto_defaults()}
        if self.config.uses_official():   # the imported files' content, not the folder's path
            from emogen.official import OfficialFiles

            out["official_files"] = OfficialFiles(self.config.official_dir).files_hash
        return out

    # ------------------------------------------------------------------ fit / load
    def fit(self, ctx: FitContext) -> dict[str, Any]:
        return fit_emogen(self.config, ctx)

    def load(self, zoo, artifact_dir: Path | None) -> None:
        if artifact_dir is None or not (Path(artifact_dir) / "emogen.json").is_file():
            raise EmobenchError(f"no fitted emogen artifacts in {artifact_dir}",
                                "fit them first: emobench fit emogen (or run with --refit)")
        root = Path(artifact_dir)
        meta = json.loads((root / "emogen.json").read_text())
        if meta.get("format") != FORMAT or int(meta.get("version", 0)) > VERSION:
            raise EmobenchError(f"{root} does not hold emogen artifacts of a known format",
                                "refit: emobench fit emogen --refit")
        if meta["zoo_weights_hash"] != zoo.weights_hash:
            raise EmobenchError(
                f"the emogen artifacts in {root} were fitted for another zoo (weights hash "
                f"{meta['zoo_weights_hash']}, this zoo {zoo.weights_hash})",
                "refit for this zoo (emobench fit emogen --refit) or use the zoo they were fitted on",
            )
        width = int(zoo.pipeline.text_encoder.config.hidden_size)
        if meta["width"] != width:
            raise EmobenchError(f"emogen artifacts map to {meta['width']}-d tokens, the zoo's text encoder is "
                                f"{width}-d", "refit for this zoo: emobench fit emogen --refit")
        # options added later are absent from older artifacts and omitted at their pre-existing value: fill both
        mine = {**KEY_OMITTED_AT, **self.config.training_dict()}
        theirs = {**KEY_OMITTED_AT, **meta["config"]}
        differ = sorted(k for k, v in theirs.items() if k in mine and mine[k] != v)
        if differ:
            raise EmobenchError(f"the emogen artifacts in {root} were fitted with other options ({', '.join(differ)})",
                                "refit with these options (emobench fit emogen --refit)")
        for e in self.config.fusion:
            if e not in meta["emotions"]:
                raise EmobenchError(f"emogen:fuse names {e!r}, which these artifacts were not fitted for",
                                    f"refit with {e} in --emotions")
        cfg = meta["config"]
        mapper = build_mapper(cfg["mapper"], width, width, meta["resolved"]["mapper_hidden"], cfg["mapper_layers"])
        mapper.load_state_dict(load_file(str(root / "mapper.safetensors")))
        self.mapper = mapper.to(zoo.device).eval().requires_grad_(False)
        self.space = EmotionSpace.from_tensors(meta["emotions"], load_file(str(root / "space.safetensors")))
        self.meta, self.zoo = meta, zoo
        replace: dict[str, Any] = {}
        if self.config.scheduler == "unipc":
            replace["scheduler"] = swap_scheduler(zoo.pipeline.scheduler, "UniPCMultistepScheduler")
        # A private view: changing its scheduler or progress bar never touches the shared pipeline.
        self.pipe = private_pipeline(zoo.pipeline, **replace)
        self._negative: torch.Tensor | None = None

    # ------------------------------------------------------------------ the pieces of one cell
    def emotions_of(self, cell: Cell) -> tuple[str, ...]:
        return self.config.fusion or (cell.emotion,)

    def emotion_vectors(self, cell: Cell) -> list[torch.Tensor]:
        """v ~ N(μ_e, Σ_e) for each slot; the draw depends on (cell seed, emotion, repeat) only, so a fused
        image's fear vector is the very one the plain fear image of the same seed gets (paired comparisons)."""
        self._require_loaded()
        names = self.emotions_of(cell)
        return [self.space.sample(e, torch.Generator().manual_seed(seed_of("vector", cell.seed, e, names[:k].count(e))))
                for k, e in enumerate(names)]

    @torch.no_grad()
    def mapped_tokens(self, cell: Cell) -> list[torch.Tensor]:
        dev = self.zoo.device
        return [self.mapper(v.to(dev)[None])[0] for v in self.emotion_vectors(cell)]

    def prompt_layout(self, cell: Cell) -> prompts.PromptLayout:
        names = self.emotions_of(cell)
        if self.config.prompt == "plan":
            template = cell.template
        else:   # bare: the mapped token alone; a content cell gets EmoGen's emotion-transfer prompt "<emotion> bag"
            template = TRANSFER_TEMPLATE if cell.content is not None else "{emotion}"
        if cell.content is not None:
            template = template.replace("{content}", cell.content)
        tok = self.pipe.tokenizer
        if self.config.placement == "eos":
            return prompts.eos_layout(tok, template, names[0])
        return prompts.layout(tok, prompts.template_parts(template, len(names)), names)

    @torch.no_grad()
    def prompt_embeds(self, cell: Cell) -> tuple[torch.Tensor, str]:
        lay = self.prompt_layout(cell)
        return prompts.encode(self.pipe.text_encoder, [lay], [self.mapped_tokens(cell)]), lay.text

    def _negative_embeds(self) -> torch.Tensor:
        if self._negative is None:
            self._negative = empty_prompt_embeds(self.pipe, self.zoo.device)
        return self._negative

    # ------------------------------------------------------------------ generation
    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        self._require_loaded()
        s = self.zoo.sampling
        if not requests:
            return GenerationResult(torch.zeros(0, 3, s.height, s.width), [], [])
        embeds, texts = zip(*(self.prompt_embeds(r.cell) for r in requests))
        c = self.config
        images = sample(self.zoo, requests, prompt_embeds=torch.cat(embeds), negative_prompt_embeds=self._negative_embeds(),
                        pipe=self.pipe, micro_batch=c.micro_batch, num_inference_steps=c.inference_steps,
                        guidance_scale=c.guidance_scale)
        extras = [{"emogen_emotions": "+".join(self.emotions_of(r.cell))} for r in requests]
        return GenerationResult(images, list(texts), extras)

    def _require_loaded(self) -> None:
        if self.space is None or self.mapper is None:
            raise RuntimeError("EmoGenMethod.load() must be called before generating")
