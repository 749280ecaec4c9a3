"""Where the mapped vectors enter the text encoder: prompt layouts with slots, and an embedding-level
injection with autograd.

The official code writes the mapper output into a new row of the token-embedding table (``<dummy>``, id
49408) and moves its gradient back into the mapper with a tensor hook (``main.py:766-881``); that equals
ordinary back-propagation through the input embeddings. transformers 5's ``CLIPTextModel.forward`` takes no
``inputs_embeds`` (it requires ``input_ids``), so the injection is a forward hook on the input-embedding
module (``get_input_embeddings()``) that replaces the slot positions' outputs with the mapped vectors —
before position embeddings and all layers, exactly the official injection point, and differentiable. The
embedding table is never touched, no token is added, and everything else in the encoder's forward (causal
mask, final LayerNorm) is the model's own code. The pooled output is taken here at a chosen position, not
by the model (which would need a real placeholder id to reproduce the legacy argmax pooling).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from emobench.errors import EmobenchError

Part = str | int   # text, or the index of a slot that takes a mapped vector


@dataclass(frozen=True)
class PromptLayout:
    """Token ids of one prompt, and which positions take which mapped vector."""

    input_ids: tuple[int, ...]
    slots: tuple[tuple[int, ...], ...]    # positions of slot k (one, or EOS + padding for placement=eos)
    eos: int                              # position of the end-of-text token
    text: str                             # human-readable prompt, e.g. "<amusement> bag"


def template_parts(template: str, n_slots: int) -> list[Part]:
    """``"{emotion} bag"`` → [0, " bag"]; with fusion (two slots) each ``{emotion}`` becomes two adjacent slots."""
    if "{emotion}" not in template:
        raise EmobenchError(f"prompt template {template!r} has no {{emotion}} placeholder for the mapped token",
                            "write templates like '{emotion} bag' (emotion transfer) or use emogen:prompt=bare")
    pieces = template.split("{emotion}")
    parts: list[Part] = []
    for i, piece in enumerate(pieces):
        if piece:
            parts.append(piece)
        if i < len(pieces) - 1:
            parts.extend(range(n_slots))
    return parts


def layout(tokenizer, parts: Sequence[Part], names: Sequence[str]) -> PromptLayout:
    """Token ids [BOS, …, EOS, pad…] with one position per slot (placement ``token``, as trained).

    Text pieces are tokenised separately; CLIP's pre-tokeniser splits on whitespace, so the ids equal those of
    tokenising the whole prompt with a one-token word in each slot.
    """
    max_len = tokenizer.model_max_length
    body: list[int] = []
    slots: dict[int, list[int]] = {}
    text = []
    for part in parts:
        if isinstance(part, int):
            slots.setdefault(part, []).append(1 + len(body))
            body.append(_slot_id(tokenizer))
            text.append(f"<{names[part]}>")
        else:
            body.extend(tokenizer(part.strip(), add_special_tokens=False).input_ids)
            text.append(part.strip())
    if len(body) > max_len - 2:
        body = body[: max_len - 2]
        if any(p >= max_len - 1 for ps in slots.values() for p in ps):
            raise EmobenchError(f"the prompt {' '.join(text)!r} is too long for the text encoder "
                                f"({max_len} tokens): a mapped token was cut off", "use a shorter template")
    ids = [tokenizer.bos_token_id, *body, tokenizer.eos_token_id]
    eos = len(ids) - 1
    ids += [tokenizer.pad_token_id] * (max_len - len(ids))
    order = tuple(tuple(slots[k]) for k in sorted(slots))
    return PromptLayout(tuple(ids), order, eos, " ".join(t for t in text if t))


def eos_layout(tokenizer, template: str, name: str) -> PromptLayout:
    """Paper-era placement (official ``f560012``, #5): the prompt holds ``<emotion>`` as plain text (so the
    emotion word itself is tokenised), and the mapped vector replaces EOS and every padding position."""
    text = template.replace("{emotion}", f"<{name}>")
    ids = tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True).input_ids
    eos = ids.index(tokenizer.eos_token_id, 1)
    return PromptLayout(tuple(ids), (tuple(range(eos, len(ids))),), eos, text)


def _slot_id(tokenizer) -> int:
    # Any id: the slot's embedding is replaced before use. The unk id keeps it inside the vocabulary.
    return int(tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.eos_token_id)


def slot_tensors(layouts: Sequence[PromptLayout], vectors: Sequence[Sequence[torch.Tensor]], width: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids [B,S], mask [B,S], values [B,S,D]) with slot k of prompt b filled by ``vectors[b][k]``.

    Built with out-of-place index_put, so ``values`` stays differentiable with respect to the vectors.
    """
    ids = torch.tensor([l.input_ids for l in layouts], dtype=torch.long)
    b_idx, p_idx, vecs = [], [], []
    for b, (lay, vs) in enumerate(zip(layouts, vectors)):
        if len(vs) != len(lay.slots):
            raise ValueError(f"prompt {lay.text!r} has {len(lay.slots)} slots, got {len(vs)} vectors")
        for positions, v in zip(lay.slots, vs):
            for p in positions:
                b_idx.append(b)
                p_idx.append(p)
                vecs.append(v)
    mask = torch.zeros(ids.shape, dtype=torch.bool)
    mask[b_idx, p_idx] = True
    stacked = torch.stack(vecs).float()
    values = torch.zeros(*ids.shape, width, dtype=stacked.dtype, device=stacked.device)
    values = values.index_put((torch.tensor(b_idx), torch.tensor(p_idx)), stacked)
    return ids, mask, values


@contextmanager
def injected(text_encoder, mask: torch.Tensor, values: torch.Tensor) -> Iterator[None]:
    """Within the block, the text encoder's input embeddings at ``mask`` are ``values`` (autograd intact)."""
    embedding = text_encoder.get_input_embeddings()

    def hook(module, args, out):
        m = mask.to(out.device)[..., None]
        return torch.where(m, values.to(device=out.device, dtype=out.dtype), out)

    handle = embedding.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def encode(text_encoder, layouts: Sequence[PromptLayout], vectors: Sequence[Sequence[torch.Tensor]]
           ) -> torch.Tensor:
    """``last_hidden_state`` [B,S,D] of the prompts with the mapped vectors injected (what the UNet attends to,
    exactly as ``StableDiffusionPipeline.encode_prompt`` computes it for ordinary prompts)."""
    width = int(text_encoder.config.hidden_size)
    ids, mask, values = slot_tensors(layouts, vectors, width)
    with injected(text_encoder, mask, values):
        out = text_encoder(input_ids=ids.to(text_encoder.device))
    return out[0]


def pooled(hidden: torch.Tensor, layouts: Sequence[PromptLayout], where: str) -> torch.Tensor:
    """Hidden state at the first mapped token (``token``: SD-1.5's legacy argmax pooling with the placeholder
    id 49408 > EOS lands there) or at EOS (``eos``: CLIP's intended pooling)."""
    pos = [l.slots[0][0] if where == "token" else l.eos for l in layouts]
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), torch.tensor(pos, device=hidden.device)]
