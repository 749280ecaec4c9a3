"""``emotion-words``: the plan's prompt enriched with emotion-evoking words, no training and no language model
(lexicon enrichment in the spirit of EPIG's training-free prompt enrichment). The cell's template is rendered
with the emotion word followed by up to ``n_words`` words of the emotion's list (``baselines.emotion_lexicon``):
``"an image of fear, scary, terrifying, frightening"``.

Which words a zoo can read: a word means something to a text encoder only if its training text held it.
* ``vocabulary=auto`` (default): when the zoo's dataset has captions (EmoSet-mini, whose captions are all the
  mini text encoder was ever trained on), only lexicon words found in its train captions are used; a dataset
  without captions (EmoSet) keeps the whole lexicon (SD's CLIP text encoder read the web).
  ``vocabulary=all``: every lexicon word, whatever the zoo (on the mini zoo, unseen words are untrained
  embeddings: noise in the prompt).
* Words that name the dataset's content (any word of an object or scene name, e.g. "angry" of the mini
  world's "angry face") are never added: the method adds feeling, not content.
* Words are added in list order while the prompt fits the text encoder (the mini zoo's takes 16 tokens), so no
  prompt is ever cut.

With ``n_words=0`` (or no readable word for an emotion) the prompt is exactly ``sd``'s, and so are the images.
Each image's extras list the words added.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from baselines.emotion_lexicon import LEXICON
from emobench.api import Cell, GenerationRequest, GenerationResult, Method, stable_hash
from emobench.errors import EmobenchError
from emobench.sampling import check_sampling_options, sample

VOCABULARIES = ("auto", "all")
WORD = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class EmotionWordsConfig:
    n_words: int = 3                           # words added after the emotion word (fewer if the prompt is full)
    vocabulary: str = "auto"                   # auto: only words the zoo's captions hold (if it has captions) | all
    guidance_scale: float | None = None        # None: the zoo's default
    num_inference_steps: int | None = None     # None: the zoo's default
    micro_batch: int = 8                       # cells per pipeline call, padded (as ``sd``)
    # the word lists' hash: editing the lexicon changes the images, so it changes their store keys
    lexicon: str = field(default_factory=lambda: stable_hash(LEXICON), init=False)

    def __post_init__(self) -> None:
        if isinstance(self.n_words, bool) or not isinstance(self.n_words, int) or not 0 <= self.n_words <= 8:
            raise EmobenchError(f"emotion-words:n_words={self.n_words!r} is out of range",
                                "pass an integer from 0 (plain sd) to 8 (the whole list)")
        if self.vocabulary not in VOCABULARIES:
            raise EmobenchError(f"emotion-words:vocabulary={self.vocabulary!r} is not a choice",
                                f"pass vocabulary={'|'.join(VOCABULARIES)}")
        check_sampling_options(self.num_inference_steps, self.guidance_scale, self.micro_batch)


def readable_words(dataset: Any, vocabulary: str) -> dict[str, list[str]]:
    """Per emotion, the lexicon words this zoo can read and that name no content of its dataset."""
    if dataset is None:
        return {e: list(ws) for e, ws in LEXICON.items()}
    content = {w for name in [*dataset.objects, *dataset.scenes] for w in WORD.findall(name.replace("_", " ").lower())}
    seen: set[str] | None = None
    if vocabulary == "auto":
        captions = [s.caption for s in dataset.split("train") if s.caption]
        seen = {w for c in captions for w in WORD.findall(c.lower())} if captions else None
    return {e: [w for w in ws if w not in content and (seen is None or w in seen)] for e, ws in LEXICON.items()}


class EmotionWordsMethod(Method):
    name = "emotion-words"
    display_name = "Emotion words"
    Config = EmotionWordsConfig
    learns = False
    uses_dataset_statistics = True      # reads the dataset's caption vocabulary and content names (not its labels)
    reduces_to_baseline = {"n_words": 0}

    def load(self, zoo, artifact_dir: Path | None) -> None:
        self.zoo, self.pipe = zoo, zoo.pipeline
        self.pipe.set_progress_bar_config(disable=True)
        self.words = readable_words(getattr(zoo, "dataset", None), self.config.vocabulary)
        self._cache: dict[Cell, tuple[str, list[str]]] = {}

    def _fits(self, prompt: str) -> bool:
        tok = getattr(self.pipe, "tokenizer", None)
        limit = int(getattr(tok, "model_max_length", 0) or 0)
        if tok is None or not limit or limit > 100_000:
            return True
        return len(tok(prompt, truncation=False, add_special_tokens=True).input_ids) <= limit

    def enrich(self, cell: Cell) -> tuple[str, list[str]]:
        """(prompt, words added) for one cell: list words in order, while the prompt still fits."""
        key = Cell(cell.emotion, cell.template, 0, cell.content)   # the prompt does not depend on the seed
        if key not in self._cache:
            added: list[str] = []
            for w in self.words[cell.emotion][: self.config.n_words]:
                if not self._fits(cell.prompt(", ".join([cell.emotion, *added, w]))):
                    break
                added.append(w)
            self._cache[key] = (cell.prompt(", ".join([cell.emotion, *added])), added)
        return self._cache[key]

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        enriched = [self.enrich(r.cell) for r in requests]
        prompts = [p for p, _ in enriched]
        c = self.config
        images = sample(self.zoo, requests, prompt=prompts, pipe=self.pipe, micro_batch=c.micro_batch,
                        num_inference_steps=c.num_inference_steps, guidance_scale=c.guidance_scale)
        return GenerationResult(images=images, prompts=prompts, extras=[{"words": list(w)} for _, w in enriched])
