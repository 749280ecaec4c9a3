"""The eight Mikels emotions in EmoGen's canonical index order (training and metrics depend on it)."""
from __future__ import annotations

EMOTIONS: tuple[str, ...] = (
    "amusement", "awe", "contentment", "excitement",  # positive, indices 0-3
    "anger", "disgust", "fear", "sadness",            # negative, indices 4-7
)
POSITIVE: frozenset[str] = frozenset(EMOTIONS[:4])
EMOTION_INDEX: dict[str, int] = {e: i for i, e in enumerate(EMOTIONS)}


def polarity(emotion: str) -> int:
    """1 for positive, 0 for negative (EmoGen's 2-class score uses this split)."""
    return int(emotion in POSITIVE)
