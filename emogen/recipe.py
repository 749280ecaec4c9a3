"""Stage 2's data from the options: the training list, the attribute bank and the emotion confidence, each
emobench's own or the authors' imported files (``emogen.official``)."""
from __future__ import annotations

from typing import Any, Sequence

import torch

from emobench.errors import EmobenchError
from emogen.confidence import ConfidenceTable
from emogen.config import EmoGenConfig
from emogen.data import AttributeVocabulary, TrainItem, attribute_items, snake_case


def stage2_data(config: EmoGenConfig, dataset: Any, train: Sequence[Any], labels: torch.Tensor, n_emotions: int,
                generator: torch.Generator, need_attr: bool
                ) -> tuple[list[TrainItem], torch.Tensor, AttributeVocabulary, dict[str, Any]]:
    """(items, c per item, attribute bank, facts). With every option at its default this is exactly what
    ``Stage2Trainer.build`` computed before these options existed (same calls, same generator draws)."""
    official = None
    if config.uses_official():
        from emogen.official import OfficialFiles

        official = OfficialFiles(config.official_dir)
    # Matching our annotations against the authors' strings needs their spelling.
    names = "snake" if official is not None else config.attr_names
    facts: dict[str, Any] = {}
    if config.train_list == "official":
        items, facts = official_items(official, train, labels, config, generator)
    else:
        items = attribute_items(train, labels, n_emotions, config.attributes, config.balance, generator, need_attr,
                                rule=config.train_list, names="snake" if names == "snake" else "raw")
    if config.confidence == "official":
        coef = official.coefficients()
        conf = torch.tensor([_official_c(coef, it, config.confidence_threshold) for it in items])
    else:
        table = ConfidenceTable.from_items(items, n_emotions, config.confidence_smoothing)
        conf = table.weights(items, config.confidence_threshold)
    if config.attr_bank == "official":
        vocab = AttributeVocabulary.from_lists(*official.bank())   # 278 names, repeats kept (first index wins)
    else:
        vocab = AttributeVocabulary.from_dataset(dataset, "snake" if names == "snake" else "raw")
    return items, conf, vocab, facts


def _official_c(coef: dict[str, list[float]], item: TrainItem, threshold: float) -> float:
    """c = coef[a][e]; 0 when a has no coefficient or c is below the threshold (``main.py:857-862``)."""
    if item.attribute is None or item.attribute not in coef:
        return 0.0
    c = float(coef[item.attribute][item.emotion])
    return c if c >= threshold else 0.0


def official_items(official: Any, train: Sequence[Any], labels: torch.Tensor, config: EmoGenConfig,
                   generator: torch.Generator) -> tuple[list[TrainItem], dict[str, Any]]:
    """The authors' balanced lists (already oversampled by them), restricted to the images of our train split
    (matched by EmoSet id; the official lists also hold test images), in their order, then shuffled (seeded)."""
    where = {s.id: i for i, s in enumerate(train)}
    kinds = ("object", "scene") if config.attributes == "both" else (config.attributes,)
    lists = official.train_lists()
    items, total = [], 0
    for kind in kinds:
        for emotion, image_id, attribute in lists[kind]:
            total += 1
            i = where.get(image_id)
            if i is not None:
                items.append(TrainItem(i, int(labels[i]), kind, snake_case(attribute)))
    if not items:
        raise EmobenchError(f"none of the {total} images of the official training lists is in this dataset's "
                            "train split (matched by EmoSet image id)",
                            "use train_list=norepeat (the official rule on this dataset) or real EmoSet-118K")
    if not config.balance:   # the official lists are balanced by construction; balance=false keeps each once
        seen, unique = set(), []
        for it in items:
            if (it.kind, it.image) not in seen:
                seen.add((it.kind, it.image))
                unique.append(it)
        items = unique
    order = torch.randperm(len(items), generator=generator).tolist()
    return [items[i] for i in order], {"official_list_items": total, "official_list_kept": len(items)}

