"""Plugins that misbehave towards the others (no tests here): a method that swaps the zoo's shared sampling
defaults, and per-image metrics that return the wrong number of values, values in the wrong order, NaN, or
values keyed by image id (the right way to be order-proof). Registered through ``EMOBENCH_PLUGINS``."""
from __future__ import annotations

import dataclasses

import torch

from emobench.api import PerImageMetric

from support.core_plugins import PLUGINS as CORE

PLUGINS = ",".join([CORE,
                    "method:swapper=support.isolation_plugins:SwapsGuidance",
                    "metric:brightness=support.isolation_plugins:Brightness",
                    "metric:short-metric=support.isolation_plugins:ShortMetric",
                    "metric:sorted-metric=support.isolation_plugins:SortedMetric",
                    "metric:nan-metric=support.isolation_plugins:NaNMetric",
                    "metric:keyed-metric=support.isolation_plugins:KeyedMetric"])

from support.core_plugins import NoiseMethod  # noqa: E402


class SwapsGuidance(NoiseMethod):
    """Written from the docs alone: raises the guidance default for itself by replacing ``zoo.sampling``."""

    name = "swapper"

    def load(self, zoo, artifact_dir):
        zoo.sampling = dataclasses.replace(zoo.sampling, guidance_scale=zoo.sampling.guidance_scale + 3)
        super().load(zoo, artifact_dir)


class Brightness(PerImageMetric):
    """Mean brightness of each image: an honest per-image metric."""

    name = "brightness"

    def features(self, images, items, zoo):
        return images.mean(dim=(1, 2, 3)).unsqueeze(1)

    def values(self, feats, items):
        return {self.name: feats[:, 0]}


class ShortMetric(Brightness):
    name = "short-metric"

    def values(self, feats, items):
        return {self.name: feats[:-1, 0]}


class SortedMetric(Brightness):
    """The right values, sorted: every count and range check passes, the order is wrong."""

    name = "sorted-metric"

    def values(self, feats, items):
        return {self.name: torch.sort(feats[:, 0]).values}


class NaNMetric(Brightness):
    name = "nan-metric"

    def values(self, feats, items):
        out = feats[:, 0].clone()
        out[0] = float("nan")
        return {self.name: out}


class KeyedMetric(Brightness):
    """Values keyed by image id, in reverse order: matched by key, so order does not matter."""

    name = "keyed-metric"

    def values(self, feats, items):
        return {self.name: {it.image_id: float(v) for it, v in reversed(list(zip(items, feats[:, 0])))}}
