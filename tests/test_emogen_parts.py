"""EmoGen's parts on hand-made fixtures: prompt layouts and the embedding injection, the attribute loss, the
emotion confidence, the loss combination, the training lists, the emotion space and the config."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
import torch
from transformers import CLIPTextConfig, CLIPTextModel

from emobench.errors import EmobenchError
from emobench.zoo.tokenizer import clip_tokenizer
from emogen import losses, prompts
from emogen.confidence import ConfidenceTable
from emogen.config import EmoGenConfig
from emogen.data import AttributeVocabulary, TrainItem, attribute_items
from emogen.emotion_space import EmotionSpace
from emogen.mapper import build_mapper, n_parameters


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    return clip_tokenizer(16, cache_dir=tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def text_encoder():
    torch.manual_seed(0)
    cfg = CLIPTextConfig(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, eos_token_id=49407,
                         bos_token_id=49406, pad_token_id=49407)
    return CLIPTextModel(cfg).eval()


# ---------------------------------------------------------------------------------------------- prompts


def test_bare_layout_is_the_official_training_prompt(tok):
    lay = prompts.layout(tok, prompts.template_parts("{emotion}", 1), ["fear"])
    assert lay.input_ids[0] == tok.bos_token_id and lay.input_ids[2] == tok.eos_token_id
    assert lay.slots == ((1,),) and lay.eos == 2 and len(lay.input_ids) == 16
    assert lay.text == "<fear>"


def test_transfer_layout_tokenises_like_the_whole_prompt(tok):
    lay = prompts.layout(tok, prompts.template_parts("a {emotion} street at night", 1), ["awe"])
    whole = tok("a cat street at night", padding="max_length", max_length=16).input_ids   # "cat" is one token
    slot = lay.slots[0][0]
    assert slot == 2
    assert [i for p, i in enumerate(lay.input_ids) if p != slot] == [i for p, i in enumerate(whole) if p != slot]
    assert lay.text == "a <awe> street at night"


def test_fusion_layout_has_two_adjacent_slots(tok):
    lay = prompts.layout(tok, prompts.template_parts("{emotion} bag", 2), ["amusement", "fear"])
    assert lay.slots == ((1,), (2,)) and lay.text == "<amusement> <fear> bag"


def test_eos_layout_fills_eos_and_padding(tok):
    lay = prompts.eos_layout(tok, "{emotion}", "amusement")
    ids = tok("<amusement>").input_ids          # "<", "amusement", ">" as plain tokens (paper-era behaviour)
    assert lay.input_ids[: len(ids)] == tuple(ids)
    assert lay.slots == (tuple(range(len(ids) - 1, 16)),) and lay.eos == len(ids) - 1


def test_template_without_placeholder_is_refused():
    with pytest.raises(EmobenchError, match="emotion"):
        prompts.template_parts("a bag", 1)


def test_injection_equals_an_embedding_row_and_keeps_gradients(tok, text_encoder):
    lay = prompts.layout(tok, prompts.template_parts("{emotion} bag", 1), ["fear"])
    v = torch.randn(32, requires_grad=True)
    hidden = prompts.encode(text_encoder, [lay], [[v]])
    # reference: the same vector written into the embedding table row of the slot's id (the official hack)
    ref_model = CLIPTextModel(text_encoder.config).eval()
    ref_model.load_state_dict(text_encoder.state_dict())
    ids = list(lay.input_ids)
    ids[1] = 400                              # a row no other position uses
    with torch.no_grad():
        ref_model.get_input_embeddings().weight[400] = v.detach()
    ref = ref_model(input_ids=torch.tensor([ids]))[0]
    assert torch.allclose(hidden, ref, atol=1e-6)
    hidden.sum().backward()
    assert v.grad is not None and v.grad.abs().sum() > 0
    # the hook is gone afterwards: a plain forward no longer sees v
    plain = text_encoder(input_ids=torch.tensor([lay.input_ids]))[0]
    assert not torch.allclose(plain, hidden.detach())


def test_pooled_position(tok, text_encoder):
    lay = prompts.layout(tok, prompts.template_parts("{emotion} bag", 1), ["fear"])
    hidden = torch.arange(16 * 3, dtype=torch.float32).view(1, 16, 3)
    assert torch.equal(prompts.pooled(hidden, [lay], "token"), hidden[:, 1])
    assert torch.equal(prompts.pooled(hidden, [lay], "eos"), hidden[:, lay.eos])


# ---------------------------------------------------------------------------------------------- losses


def test_attribute_loss_by_hand():
    bank = torch.eye(4)                       # four orthonormal attribute features
    s = torch.stack([bank[2] * 3.0, bank[0]])  # cos = 1 with its own attribute, 0 with the others
    got = losses.attribute_loss(s, bank, torch.tensor([2, -1]))
    expected = -math.log(math.e / (math.e + 3))
    assert got[0].item() == pytest.approx(expected, abs=1e-6)
    assert got[1].item() == 0.0               # attribute not in the bank: L_attr = 0 (official)
    sharp = losses.attribute_loss(s[:1], bank, torch.tensor([2]), temperature=0.1)
    assert sharp.item() == pytest.approx(-math.log(math.exp(10) / (math.exp(10) + 3)), abs=1e-5)


def test_combine_follows_the_formula():
    l_ldm, l_attr, c = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]), torch.tensor([0.25, 0.0])
    faithful = losses.combine(l_ldm, l_attr, c, 0.5, True)
    assert faithful.item() == pytest.approx(((0.75 * 1 + 0.5 * 0.25 * 3) + (1 * 2 + 0)) / 2)
    no_conf = losses.combine(l_ldm, l_attr, c, 0.5, False)
    assert no_conf.item() == pytest.approx(((1 + 0.5 * 3) + (2 + 0.5 * 4)) / 2)
    no_attr = losses.combine(l_ldm, l_attr, c, 0.0, True)
    assert no_attr.item() == pytest.approx(1.5)
    emo = losses.combine(l_ldm, None, c, 0.5, True, torch.tensor([2.0, 2.0]), 0.1)
    assert emo.item() == pytest.approx(1.5 + 0.2)


def _items() -> list[TrainItem]:
    # attribute "spider": 3× fear (6), 1× amusement (0); "beach": 2× amusement
    return ([TrainItem(i, 6, "object", "spider") for i in range(3)] + [TrainItem(3, 0, "object", "spider")]
            + [TrainItem(4, 0, "scene", "beach"), TrainItem(5, 0, "scene", "beach")])


def test_confidence_is_smoothed_label_frequency():
    table = ConfidenceTable.from_items(_items(), 8, smoothing=1.0)
    assert table.lookup("object", "spider", 6) == pytest.approx((3 + 1) / (4 + 8))
    assert table.lookup("object", "spider", 0) == pytest.approx((1 + 1) / (4 + 8))
    assert table.lookup("scene", "beach", 0) == pytest.approx((2 + 1) / (2 + 8))
    assert table.lookup("scene", "spider", 6) == 0.0           # per kind: no object/scene merge
    assert table.lookup("object", None, 6) == 0.0
    assert table.lookup("object", "spider", 0, threshold=0.2) == 0.0   # below the threshold
    raw = ConfidenceTable.from_items(_items(), 8, smoothing=0.0)
    assert raw.lookup("object", "spider", 6) == pytest.approx(0.75)
    w = table.weights(_items())
    assert w[0].item() == pytest.approx(4 / 12) and w[3].item() == pytest.approx(2 / 12)
    assert torch.allclose(table.probs.sum(1), torch.ones(len(table.keys)))


@dataclass(frozen=True)
class _S:
    id: str
    emotion: str
    objects: tuple[str, ...]
    scene: str | None


def test_attribute_lists_are_balanced_per_property():
    samples = [_S("a", "fear", ("spider", "skull"), "graveyard"), _S("b", "fear", ("snake",), None),
               _S("c", "amusement", ("cake",), "beach")]
    labels = torch.tensor([6, 6, 0])
    items = attribute_items(samples, labels, 8, "both", True, torch.Generator().manual_seed(0), True)
    objects = [it for it in items if it.kind == "object"]
    scenes = [it for it in items if it.kind == "scene"]
    assert sorted(it.attribute for it in objects) == ["cake", "cake", "snake", "spider"]  # first object only
    assert sorted(it.attribute for it in scenes) == ["beach", "graveyard"]
    unbalanced = attribute_items(samples, labels, 8, "scene", False, torch.Generator().manual_seed(0), True)
    assert len(unbalanced) == 2


def test_no_annotations_needs_attr_weight_zero():
    samples = [_S("a", "fear", (), None), _S("b", "awe", (), None)]
    labels = torch.tensor([6, 1])
    with pytest.raises(EmobenchError, match="attr_weight=0"):
        attribute_items(samples, labels, 8, "both", True, torch.Generator().manual_seed(0), True)
    items = attribute_items(samples, labels, 8, "both", True, torch.Generator().manual_seed(0), False)
    assert sorted(it.image for it in items) == [0, 1] and all(it.attribute is None for it in items)


def test_vocabulary_keeps_first_occurrence():
    class D:
        objects = ["castle", "tower"]
        scenes = ["beach", "tower"]

    vocab = AttributeVocabulary.from_dataset(D())
    assert vocab.index("tower") == 1 and vocab.index("beach") == 2 and vocab.index("nope") == -1
    assert AttributeVocabulary(("city_street",), ("scene",)).texts("words") == ["city street"]


# ---------------------------------------------------------------------------------------------- space, mapper


def test_emotion_space_statistics_and_seeded_sampling():
    g = torch.Generator().manual_seed(0)
    vecs = torch.cat([torch.randn(50, 4, generator=g) + 5, torch.randn(50, 4, generator=g) * 2])
    labels = torch.tensor([0] * 50 + [1] * 50)
    space = EmotionSpace.fit(["amusement", "awe"], vecs, labels)
    assert torch.allclose(space.mean[0], vecs[:50].mean(0), atol=1e-5)
    assert torch.allclose(space.std[1], vecs[50:].std(0, unbiased=True), atol=1e-5)
    a = space.sample("awe", torch.Generator().manual_seed(7))
    b = space.sample("awe", torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    full = EmotionSpace.fit(["amusement", "awe"], vecs, labels, covariance="full")
    cov = full.scale_tril[0] @ full.scale_tril[0].T
    assert torch.allclose(cov, torch.cov(vecs[:50].T), atol=1e-3)
    with pytest.raises(EmobenchError, match="fear"):
        space.sample("fear", torch.Generator())


def test_mapper_shapes_match_the_paper():
    assert n_parameters(build_mapper("mlp", 768, 768, 1024, 2)) == 1_574_656   # the official MLP-2
    assert n_parameters(build_mapper("fc", 768, 768, 1024)) == 768 * 768 + 768
    assert len(build_mapper("mlp", 8, 8, 16, 4)) == 7


# ---------------------------------------------------------------------------------------------- config


def test_config_parses_strings_and_validates():
    cfg = EmoGenConfig(attr_weight="0", confidence="false", mapper="fc", guidance_scale="none")
    assert cfg.attr_weight == 0.0 and cfg.confidence is False and cfg.guidance_scale is None
    assert EmoGenConfig(fuse="amusement+fear").fusion == ("amusement", "fear")
    with pytest.raises(EmobenchError, match="happiness"):
        EmoGenConfig(fuse="amusement+happiness").fusion
    with pytest.raises(EmobenchError, match="one emotion"):
        EmoGenConfig(fuse="fear").fusion
    with pytest.raises(EmobenchError, match="mapper"):
        EmoGenConfig(mapper="transformer")
    with pytest.raises(EmobenchError, match="confidence"):
        EmoGenConfig(confidence="maybe")
    assert "fuse" not in EmoGenConfig().training_dict()
    # a TOML int for a float field is the same config (and artifact key) as the float
    assert isinstance(EmoGenConfig(attr_weight=0).attr_weight, float)
    assert EmoGenConfig(attr_weight=0).training_dict() == EmoGenConfig(attr_weight="0.0").training_dict()
    assert EmoGenConfig(guidance_scale=5).guidance_scale == 5.0 and EmoGenConfig(inference_steps="none").inference_steps is None
    with pytest.raises(EmobenchError, match="steps='many' is not a valid int"):
        EmoGenConfig(steps="many")
