"""How much of an emotion's real content a method's images span, read by the zoo's content judges.

Each image's content is what the zoo's object and scene judges see (their argmax: at mini scale the object and
scene heads of the zoo's judge, at paper scale the ImageNet and Places365 classifiers Sem-C uses). Per emotion,
the generated images' content histogram is compared with that of the held-out real **test** images of the
emotion (the FID reference), per judge, and the two judges are averaged:

* ``content-coverage``: the share of the real content mass the generated images reach,
  ``Σ_c p_real(c) · 1[some generated image shows c]`` (1: every content real images of the emotion show is
  drawn at least once; a method that draws one prototype reaches only that prototype's share);
* ``content-jsd``: the Jensen–Shannon divergence (base 2, in [0, 1]) between the two histograms (0: the same
  content mix; it also sees a content drawn far more often than real images show it).

The ``all`` row is the mean over emotions. Bootstrap: the real histogram is fixed; a resample's generated
histogram counts its draws (for coverage, which contents it holds at all).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import torch

from emobench.api import Group, GroupStat, ScoreItem, ScoringContext, SetMetric, batched
from emobench.errors import EmobenchError

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

HEADS = ("object", "scene")


def content_labels(images: torch.Tensor, zoo: "Zoo", batch_size: int) -> torch.Tensor:
    """``[N, 2]``: the object judge's and the scene judge's argmax per image (label indices, as float)."""
    return torch.stack([batched(getattr(zoo.judges, h), images, batch_size).argmax(1) for h in HEADS], 1).float()


def one_hot(labels: torch.Tensor, size: int) -> torch.Tensor:
    """``[N]`` label indices → ``[N, size]`` float64 indicator rows."""
    return torch.nn.functional.one_hot(labels.long(), size).double()


def histograms(weights: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
    """``weights [B, N]`` over images with one-hot labels ``[N, C]`` → ``[B, C]`` probability rows."""
    counts = weights.double() @ onehot
    return counts / counts.sum(1, keepdim=True)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Jensen–Shannon divergence in bits between rows of ``p`` and ``q`` (broadcast), in [0, 1]."""
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> torch.Tensor:
        ratio = torch.where(a > 0, a / torch.where(m > 0, m, 1.0), 1.0)
        return (a * torch.log2(ratio)).sum(-1)
    return (kl(p) + kl(q)) / 2


class HeadsStat(GroupStat):
    """Mean over the content heads of a statistic of (resampled generated histogram, fixed target)."""

    def __init__(self, fake: torch.Tensor, targets: Sequence[torch.Tensor], sizes: Sequence[int], kind: str,
                 extra: dict):
        self.onehots = [one_hot(fake[:, i], s) for i, s in enumerate(sizes)]
        self.targets = [t.double() for t in targets]
        self.kind, self.n = kind, fake.shape[0]
        self.value_range = (0.0, 1.0)   # coverage, JSD in bits and total variation all lie in [0, 1]
        point = [float(v) for v in self._per_head(torch.ones(1, self.n, dtype=torch.float64))]
        self.extra = {**extra, **{f"{h}_{kind}": v for h, v in zip(HEADS, point)}}

    def _per_head(self, w: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for oh, target in zip(self.onehots, self.targets):
            if self.kind == "coverage":
                reached = (w.double() @ oh) > 0
                out.append((reached.double() * target).sum(1))
            elif self.kind == "jsd":
                out.append(js_divergence(histograms(w, oh), target[None]))
            else:   # "tv": total variation distance to the target distribution
                out.append((histograms(w, oh) - target[None]).abs().sum(1) / 2)
        return out

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        return torch.stack(self._per_head(weights), 1).mean(1)


class ContentCoverage(SetMetric):
    name = "content-coverage"
    label, decimals, order = "Content coverage", 3, 30
    requires = ("judges.object", "judges.scene", "dataset")
    needs_reference = True
    higher_is_better = True

    def display(self) -> dict[str, dict[str, Any]]:
        facts = super().display()
        facts[self.name].update(judges=list(HEADS), reference="held-out test images of the emotion")
        facts["content-jsd"] = {**facts[self.name], "label": "Content JSD", "higher_is_better": False,
                                "order": self.order + 1, "bars": False}
        return facts

    def feature_id(self) -> list:
        return ["content-labels"]   # shared with the distance to the world's content truth

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        return content_labels(images, zoo, self.batch_size)

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return self.group_stats(group, ctx, zoo)[self.name]

    def group_stats(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> dict[str, GroupStat]:
        sizes = [len(getattr(zoo.judges, h).labels) for h in HEADS]
        real = ctx.reference_features(group.emotion)
        if real.shape[0] == 0:
            raise EmobenchError(f"no held-out test images of {group.emotion!r}", "use a dataset with a test split")
        targets = [one_hot(real[:, i], s).mean(0) for i, s in enumerate(sizes)]
        extra = {"n_fake": group.n, "n_real": int(real.shape[0])}
        fake = group.features()
        return {self.name: HeadsStat(fake, targets, sizes, "coverage", extra),
                "content-jsd": HeadsStat(fake, targets, sizes, "jsd", extra)}
