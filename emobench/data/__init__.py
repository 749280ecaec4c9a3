"""Emotion datasets: ``EmoSetDataset`` reads real EmoSet-118K and the procedural EmoSet-mini alike."""
from emobench.data.emoset import EmoSample, EmoSetDataset

__all__ = ["EmoSample", "EmoSetDataset"]
