"""Whether a run's protocol matches the EmoGen paper's closely enough to print the paper's Table 1 beside it.

The paper's numbers are a reference only where the run measures the same thing: a paper-scale zoo whose pinned
judges are the official files (``emobench.zoo.official``), 512-pixel images, the paper's emotion-only prompt
and at least as many images per emotion as the official evaluation code draws. Anything else (a 32-pixel
random-weight dry run, the mini zoo, other prompts) gets one sentence saying why the block is absent.
Decided from the run's stored zoo.json and config.json only.
"""
from __future__ import annotations

from emobench.spec.protocol import REFERENCES, ReferenceProtocol, matches_paper
from emobench.rundir.results import RunData
from emobench.zoo.official import OFFICIAL, file_status, is_official

PAPER_SIZE = 512
PAPER_TEMPLATES = ("an image of {emotion}",)   # the paper's SD prompt: the emotion word and nothing else
PAPER_MIN_N_PER_EMOTION = 10   # the official evaluation code's default (the paper states no number)


def why_no_reference(run: RunData) -> str | None:
    """None when the paper's reference block may be shown; otherwise why not (one sentence, no paths)."""
    if run.scale != "paper":
        return f"the run's zoo is at {run.scale} scale; the paper's numbers compare only at paper scale"
    hashes = run.zoo.get("hashes") or {}
    bad = [f"{key} ({file_status(key, hashes.get(key, ''))})" for key in OFFICIAL
           if not is_official(key, hashes.get(key, ""))]
    if bad:
        return "the zoo's judges are not the paper's official files: " + ", ".join(bad)
    sampling = run.zoo.get("sampling") or {}
    size = (sampling.get("height"), sampling.get("width"))
    if size != (PAPER_SIZE, PAPER_SIZE):
        return f"images are {size[0]}×{size[1]} pixels, the paper's are {PAPER_SIZE}×{PAPER_SIZE}"
    templates = tuple(run.config.get("templates") or ())
    if not templates or any(t not in PAPER_TEMPLATES for t in templates):
        return f"the prompts {list(templates)} are not the paper's emotion-only prompt {PAPER_TEMPLATES[0]!r}"
    n = int(run.config.get("n_per_emotion") or 0)
    if n < PAPER_MIN_N_PER_EMOTION:
        return f"{n} images per emotion, fewer than the official evaluation's {PAPER_MIN_N_PER_EMOTION}"
    return None


REFERENCE_TABLES = {"emogen-paper": "paper_table1.csv", "emoctrl-paper": "paper_emoctrl_table1.csv"}


def reference_protocol(run: RunData) -> ReferenceProtocol | None:
    """The paper whose reported rows are shown beside this run: the one whose protocol the run follows
    (``emobench.spec.protocol.matches_paper``); a run recorded before protocols falls back to "paper scale"."""
    if run.protocol:
        return matches_paper(run.protocol)
    return REFERENCES["emogen-paper"] if run.scale == "paper" else None
