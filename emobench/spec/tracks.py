"""Tracks: what a run asks of its methods, and so which cells its plan holds (docs/protocols.md).

* ``emotion`` (the default): cells ``(emotion, template, seed)``; templates hold ``{emotion}``. EmoGen's own
  protocol (its Table 1): emotion-only prompts, Emo-A / Sem-C / Sem-D / FID / LPIPS.
* ``content``: cells ``(emotion, content, template, seed)``; templates hold ``{emotion}`` and ``{content}``
  ("a {content}, evoking {emotion}"). EmoCtrl's protocol: scored for emotion (Emo-A), content (CLIP-A) and
  both at once (EC-A), plus LPIPS and Sem-C.

For each emotion (and content), ``i in range(n_per_emotion)``: ``template = templates[i % T]``,
``seed = base_seed + i // T``. Seeds never depend on the content, so every content and emotion of a seed
starts from the same latent (paired comparisons across the whole grid).
"""
from __future__ import annotations

import difflib
import string
from dataclasses import dataclass
from typing import Any, Sequence

from emobench.api import Cell
from emobench.data.content_lists import dataset_objects, elements_of, is_caption, named_list
from emobench.errors import EmobenchError

RunConfig = Any   # emobench.spec.config.RunConfig (not imported: config imports this module)


@dataclass(frozen=True)
class Track:
    name: str
    fields: tuple[str, ...]          # template fields this track fills (every template must use all of them)
    default_template: str
    description: str
    caption_template: str = ""       # the default when the run plans captions (whole sentences as contents)

    @property
    def uses_content(self) -> bool:
        return "content" in self.fields

    def check_template(self, template: str) -> None:
        """A clear error unless ``template`` uses exactly this track's fields (and no stray braces)."""
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            template.format(**{f: "x" for f in self.fields})
        except (KeyError, IndexError, ValueError):
            used = None
        fields = " and ".join("{" + f + "}" for f in self.fields)
        if used is None or used != set(self.fields):
            raise EmobenchError(f"prompt template {template!r} must contain {fields} and no other braces "
                                f"(track {self.name!r})", f"write it like {self.default_template!r}")

    def cells(self, cfg: RunConfig, contents: Sequence[str] = ()) -> tuple[Cell, ...]:
        t = len(cfg.templates)
        if not self.uses_content:
            return tuple(Cell(emotion, cfg.templates[i % t], cfg.seed + i // t)
                         for emotion in cfg.emotions for i in range(cfg.n_per_emotion))
        if not contents:
            raise EmobenchError(f"track {self.name!r} has no contents to plan",
                                "pass --contents, or use a zoo with a content list (a dataset with objects)")
        return tuple(Cell(emotion, cfg.templates[i % t], cfg.seed + i // t, content)
                     for emotion in cfg.emotions for content in contents for i in range(cfg.n_per_emotion))


TRACKS: dict[str, Track] = {
    "emotion": Track("emotion", ("emotion",), "an image of {emotion}",
                     "emotion-only prompts; EmoGen's protocol (CVPR 2024, Table 1)"),
    # In the mini zoo's vocabulary ("…, evoking {emotion}" is one of EmoSet-mini's caption forms), and plain
    # English for a paper zoo: "a spider, evoking fear" is 7 tokens, far under the mini text tower's 16.
    # A caption is a whole sentence ("A bird flying in the sky."): it cannot follow "a", and its full stop
    # stays (it marks the caption, and CLIP-A scores the caption as written), so the emotion goes after it.
    "content": Track("content", ("content", "emotion"), "a {content}, evoking {emotion}",
                     "content + emotion prompts; EmoCtrl's protocol (ACM MM 2026, Table 1)",
                     caption_template="{content} ({emotion})"),
}


def get_track(name: str) -> Track:
    if name not in TRACKS:
        close = difflib.get_close_matches(name, list(TRACKS), n=1)
        raise EmobenchError(f"unknown track {name!r}",
                            f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}tracks: {', '.join(TRACKS)}")
    return TRACKS[name]


def zoo_contents(zoo) -> tuple[str, ...]:
    """The zoo's content list: the list its loader set (a paper zoo: EmoCtrl's 45 elements unless its TOML
    names another, ``emobench.data.content_lists``), else its dataset's object vocabulary as words ("angry_face" →
    "angry face"), in the dataset's sorted order. At mini scale these are EmoSet-mini's 12 objects. Its
    elements are CLIP-A's candidates; a zoo with neither has none, and a content run names its contents."""
    own = getattr(zoo, "contents", None)
    if own is not None:
        return tuple(own)
    return dataset_objects(getattr(zoo, "dataset", None))


def resolve_contents(cfg: RunConfig, zoo) -> tuple[str, ...]:
    """The contents a run plans: those the config names, else its named ``content_list``, else the zoo's
    whole list; () on tracks without content. An element must be in the zoo's list when the zoo has one
    (CLIP-A ranks it among them); a caption needs no list (CLIP-A thresholds its cosine)."""
    if not get_track(cfg.track).uses_content:
        return ()
    known = zoo_contents(zoo)
    listed = named_list(cfg.content_list, getattr(zoo, "dataset", None)) if cfg.content_list else known
    planned = tuple(cfg.contents) or listed
    if cfg.content_list and cfg.contents:
        unknown = [c for c in planned if c not in listed]
        if unknown:
            raise EmobenchError(f"content {unknown[0]!r} is not in the content list {cfg.content_list!r}",
                                f"pick contents from: {', '.join(listed)}")
    elements = elements_of(known)
    unknown = [c for c in planned if known and not is_caption(c) and c not in elements]
    if unknown:
        raise EmobenchError(f"content {unknown[0]!r} is not in the zoo's content list",
                            f"pick contents from: {', '.join(known)}"
                            + ("" if not cfg.content_list else
                               f" (or set the zoo's list to {cfg.content_list!r}: contents = ... in a paper zoo's TOML)"))
    return planned
