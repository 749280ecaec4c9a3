"""``attribute-prompt``: a zero-training control for EmoGen. Each cell draws one content attribute (an object or
a scene) from the dataset's own p(attribute | emotion) and writes it into the prompt of the zoo's pipeline:
``"a photo of a spider, fear"``. Nothing is learned; the table is counted from annotations when the method
loads (``baselines.attribute_table``: sources, counting, the temperature family and the wording).

* **Emotion cells**: ``template`` (default ``"a photo of {attribute}, {emotion}"``) with ``{attribute}`` the
  attribute's noun phrase ("a trash bag", "a graveyard") and ``{emotion}`` the emotion word; the plan's
  template is not used (as EmoGen's default ``bare`` prompt does not use it).
* **Content cells** (``--track content``): the cell names the object, so the attribute drawn is a scene,
  from p(scene | emotion), placed after the content inside the plan's template: ``"a spider in a graveyard,
  evoking fear"``. ``source=objects`` has nothing to add there and is refused for content cells.
* **The draw** is the inverse CDF of q_T(· | e) at one uniform from a CPU generator seeded by the whole cell
  (emotion, template, seed, content): the same cell draws the same attribute in every run, whatever its batch,
  and the two templates of one seed draw independently.

Images come from ``emobench.sampling.sample`` (the plan's latents and step noise), as ``sd``'s do. Each image's
extras record the attribute, its kind and its probability q_T.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from baselines import attribute_table as at
from emobench.api import Cell, GenerationRequest, GenerationResult, Method, lists_hash, read_train_lists
from emobench.errors import EmobenchError
from emobench.sampling import check_sampling_options, sample
from emobench.training import cpu_generator, derive_seed

DEFAULT_TEMPLATE = "a photo of {attribute}, {emotion}"


@dataclass(frozen=True)
class AttributePromptConfig:
    source: str = "both"                       # objects | scenes | both (one table over objects and scenes)
    temperature: float = 1.0                   # 1: the data's p(a|e); 0: always the most emotion-typical attribute
    template: str = DEFAULT_TEMPLATE           # must hold {attribute}; may hold {emotion}
    official_dir: str = ""                     # a folder `python -m emogen.official import` wrote; "": the zoo's dataset
    guidance_scale: float | None = None        # None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    micro_batch: int = 8                       # cells per pipeline call, padded (as ``sd``)
    # the imported files' content hash (official_dir only), filled here: the image keys and methods.json carry it
    official_files: str = field(default="", init=False)

    def __post_init__(self) -> None:  # refused when the spec is parsed, before anything is written
        if self.source not in at.SOURCES:
            raise EmobenchError(f"attribute-prompt:source={self.source!r} is not a table",
                                f"pass source={'|'.join(at.SOURCES)}")
        at.check_temperature(float(self.temperature))
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None}
            self.template.format(attribute="x", emotion="y")
        except (ValueError, KeyError, IndexError):
            fields = None
        if fields is None or "attribute" not in fields or not fields <= {"attribute", "emotion"}:
            raise EmobenchError(f"attribute-prompt:template={self.template!r} must hold {{attribute}} and no field "
                                "but {emotion}", f"write it like {DEFAULT_TEMPLATE!r}")
        check_sampling_options(self.num_inference_steps, self.guidance_scale, self.micro_batch)
        if self.official_dir:
            try:
                object.__setattr__(self, "official_files", lists_hash(read_train_lists(self.official_dir)))
            except EmobenchError as err:
                raise EmobenchError(f"attribute-prompt:official_dir: {err.problem}", err.fix) from None


class AttributePromptMethod(Method):
    name = "attribute-prompt"
    display_name = "Attribute prompt"
    Config = AttributePromptConfig
    learns = False
    uses_dataset_statistics = True

    def load(self, zoo, artifact_dir: Path | None) -> None:
        self.zoo, self.pipe = zoo, zoo.pipeline
        self.pipe.set_progress_bar_config(disable=True)
        cfg = self.config
        if cfg.official_dir:
            full = at.from_official(read_train_lists(cfg.official_dir), cfg.official_dir)
        elif getattr(zoo, "dataset", None) is not None:
            full = at.from_dataset(zoo.dataset)
        else:
            raise EmobenchError(f"zoo {zoo.name!r} has no emotion dataset to count attributes from",
                                "use a zoo with a [dataset], or attribute-prompt:official_dir=DIR (the folder "
                                "`python -m emogen.official import` wrote)")
        self.table = full.select(at.SOURCES[cfg.source])
        self.scenes = full.select(("scene",))      # what a content cell draws from

    # ------------------------------------------------------------------ the draw
    def draw(self, cell: Cell) -> tuple[at.Attribute, float]:
        """The cell's attribute and its probability under q_T(· | emotion)."""
        table = self.table
        if cell.content is not None:
            if self.config.source == "objects":
                raise EmobenchError("attribute-prompt:source=objects has nothing to draw on a content cell (the "
                                    "cell names the object)", "use source=scenes or source=both on --track content")
            table = self.scenes
        q = table.tempered(cell.emotion, self.config.temperature)
        g = cpu_generator(derive_seed("attribute-prompt", cell.emotion, cell.template, cell.seed, cell.content))
        u = float(torch.rand((), generator=g, dtype=torch.float64))
        i = at.draw_index(q, u)
        return table.attributes[i], float(q[i])

    def prompt(self, cell: Cell, attribute: at.Attribute) -> str:
        if cell.content is None:
            return self.config.template.format(attribute=attribute.noun, emotion=cell.emotion)
        return Cell(cell.emotion, cell.template, cell.seed, f"{cell.content} {attribute.where}").prompt()

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        drawn = [self.draw(r.cell) for r in requests]
        prompts = [self.prompt(r.cell, a) for r, (a, _) in zip(requests, drawn)]
        c = self.config
        images = sample(self.zoo, requests, prompt=prompts, pipe=self.pipe, micro_batch=c.micro_batch,
                        num_inference_steps=c.num_inference_steps, guidance_scale=c.guidance_scale)
        extras = [{"attribute": a.name, "attribute_kind": a.kind, "q": round(q, 6)} for a, q in drawn]
        return GenerationResult(images=images, prompts=prompts, extras=extras)
