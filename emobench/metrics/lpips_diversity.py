"""LPIPS diversity: mean perceptual distance between image pairs within an emotion (higher = more diverse).

Uses the zoo's perceptual network (``zoo.judges.lpips``: ``(x, y)`` float images in [0,1] → ``[N]``
distances; at paper scale AlexNet-LPIPS v0.1, which must receive [0,1] input with ``normalize=True`` — the
official script fed [0,1] without it). Pairs are within one emotion only, all pairs when affordable, else a
seeded sample; the distance matrix of a group is cached by the group's image ids. Pooled: the mean of the
per-emotion values, as the paper.

A perceptual module that also offers ``features(x) -> list[Tensor]`` and ``compare(fx, fy) -> [N]`` (with
``compare(features(x), features(y)) == module(x, y)``) is run once per image rather than twice per pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from emobench.api import stable_hash
from emobench.api import Group, GroupStat, PairwiseMeanStat, ScoringContext, SetMetric
from emobench.metrics.pairs import pair_mask

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


@dataclass(frozen=True)
class LpipsConfig:
    max_pairs: int = 2_000    # per emotion; LPIPS costs a network forward per pair
    seed: int = 0
    batch_size: int = 64


class LpipsDiversity(SetMetric):
    name = "lpips"
    label, decimals, headline, order = "LPIPS", 3, True, 2
    Config = LpipsConfig
    requires = ("judges.lpips",)
    higher_is_better = True
    uses_features = False

    def scale_note(self, zoo: "Zoo") -> str | None:
        # the zoo's perceptual network knows whether its distances are on the published LPIPS scale
        return getattr(getattr(zoo.judges, "lpips", None), "scale_note", None) if zoo.judges is not None else None

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        mask = pair_mask(group.n, self.config.max_pairs, self.config.seed, group.emotion)
        key = stable_hash([[it.image_id for it in group.items], self.config.max_pairs, self.config.seed,
                           group.emotion], n=32)
        cached = group.cache_get(key)
        if cached is not None:
            return PairwiseMeanStat(cached["dist"], cached["mask"].bool())
        dist = self.distance_matrix(group.images(), mask, zoo)
        group.cache_put(key, {"dist": dist, "mask": mask.to(torch.uint8)})
        return PairwiseMeanStat(dist, mask)

    def distance_matrix(self, images: torch.Tensor, mask: torch.Tensor, zoo: "Zoo") -> torch.Tensor:
        net = zoo.judges.lpips
        i, j = torch.nonzero(torch.triu(mask, 1), as_tuple=True)
        d = torch.zeros(images.shape[0], images.shape[0], dtype=torch.float64)
        bs = self.config.batch_size
        # Optional fast path: a module that can split LPIPS into per-image features and a comparison runs
        # its network once per image instead of twice per pair (n forwards instead of n(n−1)).
        split = callable(getattr(net, "features", None)) and callable(getattr(net, "compare", None))
        with torch.no_grad():
            if split:
                parts = [net.features(images[s:s + bs]) for s in range(0, images.shape[0], bs)]
                feats = [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]
            for s in range(0, i.numel(), bs):
                a, b = i[s:s + bs], j[s:s + bs]
                if split:
                    out = net.compare([f[a] for f in feats], [f[b] for f in feats])
                else:
                    out = net(images[a], images[b])
                d[a, b] = out.double().reshape(-1)
        return d + d.T
