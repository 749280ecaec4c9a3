"""How much of an emotion sits in the content: entropies, mutual information and the Bayes rate of a joint
(emotion, content) table — exact probabilities (the EmoSet-mini tables) or counts (a dataset's annotations,
EmoSet's official training lists), where every figure is the usual plug-in estimate.

For a joint P(e, c) (rows in ``EMOTIONS`` order, one column per content):

* H(C) and H(C | E) = Σ_e P(e) H(C | E = e), in bits; I(E; C) = H(C) − H(C | E);
* Bayes emotion accuracy from the content alone: Σ_c max_e P(e, c) (the best any classifier that sees only
  this content can do; from counts it is in-sample, i.e. optimistic for contents seen a few times);
* per emotion: distinct contents, H(C | E = e), and the share of its images on its top-1 and top-5 contents.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy.stats import entropy

from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError

TOP_K = 5


@dataclass(frozen=True)
class ContentStats:
    """The statistics of one kind of content (``object``, ``scene`` or ``object+scene``)."""

    kind: str
    exact: bool                                  # True: from probabilities; False: plug-in from counts
    n: int | None                                # images counted (None when exact)
    distinct: int                                # contents with any mass
    distinct_per_emotion: dict[str, int]
    h_content: float                             # H(C), bits
    h_content_given_emotion: float               # H(C | E), bits
    mutual_information: float                    # I(E; C), bits
    bayes_accuracy: float                        # Σ_c max_e P(e, c)
    h_per_emotion: dict[str, float]              # H(C | E = e), bits
    top1_share: dict[str, float]                 # share of e's images on its most frequent content
    top5_share: dict[str, float]
    top1_content: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def range(self, field: str) -> tuple[float, float]:
        values = [v for e, v in getattr(self, field).items() if self.distinct_per_emotion.get(e, 0)]
        return (min(values), max(values)) if values else (float("nan"), float("nan"))


def content_stats(joint: np.ndarray, names: Sequence[str], kind: str, exact: bool = True) -> ContentStats:
    """Statistics of ``joint`` [8, n_contents] (probabilities, or counts when ``exact`` is False)."""
    p = np.asarray(joint, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != len(EMOTIONS) or p.shape[1] != len(names):
        raise EmobenchError(f"a content table of shape {p.shape} does not fit {len(EMOTIONS)} emotions × "
                            f"{len(names)} contents", "pass one row per emotion and one column per content")
    total = p.sum()
    if not np.isfinite(total) or total <= 0 or (p < 0).any():
        raise EmobenchError(f"the {kind} table holds no images (or negative counts)",
                            "count at least one annotated image")
    n = None if exact else int(round(total))
    p = p / total
    pe, pc = p.sum(axis=1), p.sum(axis=0)
    h_c = float(entropy(pc, base=2))
    rows = [e for e in range(len(EMOTIONS)) if pe[e] > 0]
    h_e = {EMOTIONS[e]: float(entropy(p[e], base=2)) if pe[e] > 0 else 0.0 for e in range(len(EMOTIONS))}
    h_c_e = float(sum(pe[e] * h_e[EMOTIONS[e]] for e in rows))
    cond = np.divide(p, pe[:, None], out=np.zeros_like(p), where=pe[:, None] > 0)
    ordered = -np.sort(-cond, axis=1)
    return ContentStats(
        kind=kind, exact=exact, n=n, distinct=int((pc > 0).sum()),
        distinct_per_emotion={EMOTIONS[e]: int((p[e] > 0).sum()) for e in range(len(EMOTIONS))},
        h_content=h_c, h_content_given_emotion=h_c_e, mutual_information=max(0.0, h_c - h_c_e),
        bayes_accuracy=float(p.max(axis=0).sum()), h_per_emotion=h_e,
        top1_share={EMOTIONS[e]: float(ordered[e, 0]) for e in range(len(EMOTIONS))},
        top5_share={EMOTIONS[e]: float(ordered[e, :TOP_K].sum()) for e in range(len(EMOTIONS))},
        top1_content={EMOTIONS[e]: str(names[int(cond[e].argmax())]) if pe[e] > 0 else ""
                      for e in range(len(EMOTIONS))},
    )


def count_table(pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, list[str]]:
    """(emotion, content) pairs → counts [8, n_contents] and the content names (sorted)."""
    names = sorted({c for _, c in pairs})
    index = {c: i for i, c in enumerate(names)}
    counts = np.zeros((len(EMOTIONS), len(names)), dtype=np.int64)
    for e, c in pairs:
        if e not in EMOTIONS:
            raise EmobenchError(f"unknown emotion {e!r} in the annotations", f"use one of {', '.join(EMOTIONS)}")
        counts[EMOTIONS.index(e), index[c]] += 1
    return counts, names
