"""Emotion-evoking words for ``emotion-words``, written for emobench rather than taken from an outside lexicon:
the usual ones (the NRC Emotion Lexicon, WordNet-Affect) come with research-use terms that an Apache-2.0
toolkit cannot pass on, and none is organised by Mikels' eight emotions.

Eight words per emotion, ordered from the most to the least direct, chosen by these rules so that the lists
say "how it feels", never "what is shown" (that is ``attribute-prompt``'s job):
* adjectives a caption would use for how an image feels ("scary", "peaceful"), in plain English;
* no content nouns (no "spider", "storm", "grave") and no other emotion's name;
* no word of one emotion in another's list.

Part of emobench, under its Apache-2.0 licence. A change to a list changes ``emotion-words``'s images: record it
in docs/baselines.md.
"""
from __future__ import annotations

from emobench.api import EMOTIONS

LEXICON: dict[str, tuple[str, ...]] = {
    "amusement": ("funny", "playful", "hilarious", "silly", "cheerful", "whimsical", "comical", "lighthearted"),
    "awe": ("awe-inspiring", "majestic", "breathtaking", "vast", "sublime", "magnificent", "grand", "monumental"),
    "contentment": ("peaceful", "calm", "serene", "cozy", "relaxed", "gentle", "tranquil", "comforting"),
    "excitement": ("exciting", "thrilling", "energetic", "exhilarating", "electrifying", "dynamic", "lively",
                   "adventurous"),
    "anger": ("infuriating", "furious", "outrageous", "hostile", "aggressive", "enraged", "angry", "violent"),
    "disgust": ("disgusting", "gross", "revolting", "repulsive", "filthy", "nauseating", "rotten", "slimy"),
    "fear": ("scary", "terrifying", "frightening", "creepy", "menacing", "ominous", "sinister", "eerie"),
    "sadness": ("sad", "gloomy", "lonely", "sorrowful", "melancholy", "mournful", "heartbroken", "bleak"),
}

assert tuple(LEXICON) == EMOTIONS, "one list per emotion, in EMOTIONS order"
