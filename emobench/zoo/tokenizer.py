"""The real CLIP BPE tokenizer, built offline from the vocabulary file that open_clip ships.

Token ids equal SD 1.5's (and open_clip's SimpleTokenizer's), so mini-scale prompts tokenise exactly as
paper-scale ones do; only ``model_max_length`` differs (the tiny text towers have 16 positions).
"""
from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from transformers import CLIPTokenizer


def _bpe_path() -> Path:
    import open_clip.tokenizer as oct

    return Path(oct.default_bpe())


@lru_cache(maxsize=1)
def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def write_clip_tokenizer(out_dir: str | Path, model_max_length: int = 77) -> Path:
    """Write vocab.json / merges.txt / configs that ``CLIPTokenizer.from_pretrained(out_dir)`` reads."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(_bpe_path(), "rt", encoding="utf-8").read().split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]
    vocab = list(_bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tok = CLIPTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), model_max_length=model_max_length,
                        pad_token="<|endoftext|>")
    tok.save_pretrained(out)
    return out


def clip_tokenizer(model_max_length: int = 77, cache_dir: str | Path | None = None) -> CLIPTokenizer:
    """A CLIPTokenizer with the real vocabulary (written once into ``cache_dir`` or a temp folder)."""
    import tempfile

    target = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="emobench-tok-"))
    if not (target / "vocab.json").exists():
        write_clip_tokenizer(target, model_max_length)
    return CLIPTokenizer.from_pretrained(target, model_max_length=model_max_length)
