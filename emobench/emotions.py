"""The eight Mikels emotions in EmoGen's canonical index order (training and metrics depend on it)."""
from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "amusement", "awe", "contentment", "excitement",  # positive, indices 0-3
    "anger", "disgust", "fear", "sadness",            # negative, indices 4-7
)
# Polarity, a public API (metric plugins use it, e.g. for a 2-class positive/negative accuracy): Mikels'
# split, as EmoSet and EmoGen use it.
POSITIVE: frozenset[str] = frozenset(EMOTIONS[:4])
NEGATIVE: frozenset[str] = frozenset(EMOTIONS[4:])
EMOTION_INDEX: dict[str, int] = {e: i for i, e in enumerate(EMOTIONS)}


def polarity(emotion: str) -> int:
    """1 for positive, 0 for negative (EmoGen's 2-class score uses this split).

    Raises ``ValueError`` for a word that is none of the eight emotions (a typo must not count as negative)."""
    if emotion not in EMOTION_INDEX:
        raise ValueError(f"{emotion!r} is not one of the eight emotions: {', '.join(EMOTIONS)}")
    return int(emotion in POSITIVE)
