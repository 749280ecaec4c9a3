"""Named content lists for the ``content`` track, and what kind of content a string is (docs/protocols.md).

A content is either an **element** (a word or short noun phrase: "spider", "tear drop") or a **caption** (a
whole scene description, written as a sentence that ends with a full stop: "A bird flying in the sky.").
The kind decides how CLIP-A scores it, as in EmoCtrl's ``metrics/joint.py``: an element must be in CLIP's
top-k over the zoo's element list, a caption must have a CLIP cosine similarity above a threshold with the
image. EmoCtrl tells the two apart by the full stop too (a content with a "." is a caption).

Named lists (``content_list = "..."`` in a run config, ``contents = "..."`` in a paper zoo's TOML):

* ``emoctrl-elements``: EmoCtrl's 45 test elements (the paper zoo's default list);
* ``emoctrl-captions``: EmoCtrl's 31 test captions;
* ``emoctrl``: both, EmoCtrl's whole test set of 76 contents;
* ``dataset-objects``: the zoo dataset's object vocabulary (the mini zoo's default: EmoSet-mini's 12 objects).

EmoCtrl's lists are shipped in ``emobench/data/emoctrl_test_data.json`` (its ``data/test_data.json``, as
published); like EmoCtrl, they are de-duplicated and sorted here.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Sequence

from emobench.errors import EmobenchError

CAPTION_END = "."
DATASET_OBJECTS = "dataset-objects"
EMOCTRL_FILE = "emoctrl_test_data.json"


def is_caption(content: str) -> bool:
    """A caption is a sentence: it ends with a full stop. Anything else is an element."""
    return content.rstrip().endswith(CAPTION_END)


def elements_of(contents: Sequence[str]) -> tuple[str, ...]:
    return tuple(c for c in contents if not is_caption(c))


@lru_cache(maxsize=1)
def _emoctrl() -> tuple[tuple[str, ...], tuple[str, ...]]:
    data = json.loads(resources.files("emobench.data").joinpath(EMOCTRL_FILE).read_text(encoding="utf-8"))
    # EmoCtrl's metrics/joint.py: sorted(set(...)) — its element list names "cake" twice
    return tuple(sorted(set(data["element"]))), tuple(sorted(set(data["caption"])))


def _static(name: str) -> tuple[str, ...]:
    elements, captions = _emoctrl()
    return {"emoctrl-elements": elements, "emoctrl-captions": captions, "emoctrl": elements + captions}[name]


LIST_NAMES = ("emoctrl-elements", "emoctrl-captions", "emoctrl", DATASET_OBJECTS)


def check_list_name(name: str, where: str = "content list") -> str:
    """``name`` if it names a content list, else the one-line error naming the known ones."""
    if name not in LIST_NAMES:
        close = difflib.get_close_matches(str(name), LIST_NAMES, n=1)
        raise EmobenchError(f"unknown {where} {name!r}",
                            f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}"
                            f"content lists: {', '.join(LIST_NAMES)}")
    return name


def has_captions(name: str) -> bool:
    """Whether the named list holds captions (known without a zoo: the dataset's objects are all elements)."""
    return name != DATASET_OBJECTS and any(is_caption(c) for c in _static(check_list_name(name)))


def dataset_objects(dataset: Any) -> tuple[str, ...]:
    """The dataset's object vocabulary as words ("angry_face" → "angry face"), in its sorted order."""
    objects = list(getattr(dataset, "objects", None) or [])
    return tuple(o.replace("_", " ") for o in objects)


def named_list(name: str, dataset: Any = None) -> tuple[str, ...]:
    """The contents of the list ``name``; ``dataset``: where ``dataset-objects`` comes from."""
    check_list_name(name)
    return dataset_objects(dataset) if name == DATASET_OBJECTS else _static(name)
