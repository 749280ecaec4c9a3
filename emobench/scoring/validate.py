"""What the scorer accepts from a metric plugin: one finite value per image, matched to the images by key.

A metric's output is checked before a single number of it is written: ``features`` must give one finite row
per image; a per-image metric's ``values`` must give, per column, either a tensor ``[N]`` in the items' order
or a mapping ``{image_id: value}`` (matched by key, so order cannot go wrong), one finite value per image.
A tensor is only trusted to follow the items if it does: once per metric and scoring, the scorer asks for the
values of the same images in reverse order and requires the reversed answer. A metric that fails any of this
raises ``MetricOutputError``; the scorer records it as failed (one line, a log) and scores the others.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

import torch

from emobench.api import Metric, ScoreItem
from emobench.errors import EmobenchError


class MetricOutputError(EmobenchError):
    """A metric returned something the scorer cannot trust (wrong count, order, type, or a non-finite value)."""


def check_features(metric: Metric, feats: Any, n: int) -> torch.Tensor:
    if not isinstance(feats, torch.Tensor) or feats.dim() < 1 or feats.shape[0] != n:
        shape = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats).__name__
        raise MetricOutputError(f"features() gave {shape} for {n} images",
                                "return one row per image, in the order of the images")
    if feats.is_floating_point() and not bool(torch.isfinite(feats).all()):
        raise MetricOutputError("features() gave non-finite values",
                                "return finite features for every image")
    return feats


def _column(metric: Metric, col: str, value: Any, items: Sequence[ScoreItem]) -> torch.Tensor:
    n = len(items)
    if isinstance(value, Mapping):   # keyed by image id: matched by key, never by position
        ids = [it.image_id for it in items]
        missing = sorted(set(ids) - set(value))
        extra = sorted(set(value) - set(ids))
        if missing or extra:
            raise MetricOutputError(f"column {col!r} has values for {len(value)} image ids, "
                                    f"{len(missing)} image(s) missing and {len(extra)} unknown id(s)",
                                    "give exactly one value per image id")
        try:
            out = torch.tensor([float(value[i]) for i in ids], dtype=torch.float64)
        except (TypeError, ValueError) as err:
            raise MetricOutputError(f"column {col!r} holds a value that is not a number "
                                    f"({err})", "give one float per image") from None
    elif isinstance(value, torch.Tensor):
        out = value.detach().reshape(-1) if value.dim() == 2 and 1 in value.shape else value.detach()
        if out.dim() != 1 or out.shape[0] != n:
            raise MetricOutputError(f"column {col!r} has shape {tuple(value.shape)} for "
                                    f"{n} images", "return one value per image, [N]")
    else:
        raise MetricOutputError(f"column {col!r} is a {type(value).__name__}",
                                "return a tensor [N] or a mapping {image_id: value}")
    if not bool(torch.isfinite(out.double()).all()):
        bad = int((~torch.isfinite(out.double())).sum())
        raise MetricOutputError(f"column {col!r} has {bad} non-finite value(s) of {n}",
                                "return a finite value for every image")
    return out


def per_image_values(metric: Metric, feats: torch.Tensor, items: Sequence[ScoreItem],
                     probe: bool = False) -> dict[str, torch.Tensor]:
    """``metric.values`` checked: ``{column: [N] finite values in the items' order}``. With ``probe``, the values
    of the same images in reverse order must be the reverse (position-bound answers are refused)."""
    cols = metric.values(feats, list(items))
    if not isinstance(cols, Mapping) or not cols:
        raise MetricOutputError(f"values() gave {type(cols).__name__}, not columns",
                                "return {column: values}, the metric's own column first")
    out = {str(c): _column(metric, str(c), v, items) for c, v in cols.items()}
    tensors = [c for c, v in cols.items() if isinstance(v, torch.Tensor)]
    if probe and tensors and len(items) >= 2 and len({it.image_id for it in items}) >= 2:
        rev = list(range(len(items)))[::-1]
        again = metric.values(feats[rev], [items[i] for i in rev])
        for c in tensors:
            back = _column(metric, str(c), again.get(c) if isinstance(again, Mapping) else None,
                           [items[i] for i in rev])
            if not torch.allclose(back.double(), out[str(c)][rev].double(), rtol=1e-5, atol=1e-6):
                raise MetricOutputError(f"column {c!r} does not follow the images: the same "
                                        "images in reverse order got values that are not the reverse",
                                        "compute each image's value from its own features and item")
    return out
