"""k-NN manifold statistics of a generated set against a real one: precision, recall (Kynkäänniemi et al.,
NeurIPS 2019), density and coverage (Naeem et al., ICML 2020), re-evaluable under cell weights.

The real manifold is the union of balls around each real feature with radius its distance to its k-th nearest
real neighbour; the generated manifold likewise. With ``D[j, i]`` the distance of real j to generated i:

* precision: share of generated images inside the real manifold;
* recall: share of real images inside the generated manifold;
* density: mean over generated images of (number of real balls that contain it) / k (1 for a set drawn like
  the real one, above 1 when images crowd the dense centre of the real distribution);
* coverage: share of real images whose ball contains at least one generated image.

Comparisons are strict (``<``), radii include the point itself as its 0-th neighbour, exactly as the ``prdc``
package (its ``compute_prdc``, which the tests compare against). Distances are Euclidean, in float64, without
the matrix-product shortcut (a near tie should not flip with the batch layout).

Weights: any multiset of the generated images (the scorer's jackknife gives a left-out cell weight 0). Precision and density are means over generated
images (a weighted mean). Recall and coverage depend on *which* images were drawn: the generated manifold of a
resample is built from its distinct drawn images (a repeated draw is not its own neighbour at distance 0, which
would shrink every ball to a point), and a real image is covered when any drawn image falls in its ball. The
real reference is fixed, as for FID.
"""
from __future__ import annotations

import math

from dataclasses import dataclass

import torch

from emobench.api import GroupStat
from emobench.errors import EmobenchError

COLUMNS = ("precision", "recall", "density", "coverage")


def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[len(a), len(b)]`` in float64, computed without the ‖a‖²+‖b‖²−2ab shortcut."""
    return torch.cdist(a.double(), b.double(), compute_mode="donot_use_mm_for_euclid_dist")


def knn_radii(d_self: torch.Tensor, k: int) -> torch.Tensor:
    """Distance of each point to its k-th nearest neighbour within its own set (``d_self`` with a zero diagonal:
    the point itself is neighbour 0, as ``prdc.compute_nearest_neighbour_distances``)."""
    return torch.kthvalue(d_self, k + 1, dim=1).values


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """The four statistics on the full sets (the textbook definitions; equal to ``prdc.compute_prdc``)."""
    r_radii = knn_radii(distances(real, real), k)
    f_radii = knn_radii(distances(fake, fake), k)
    d = distances(real, fake)                                   # [M, N]
    inside_real = d < r_radii[:, None]                          # fake i in real j's ball
    return {"precision": float(inside_real.any(0).double().mean()),
            "recall": float((d < f_radii[None, :]).any(1).double().mean()),
            "density": float(inside_real.sum(0).double().mean() / k),
            "coverage": float((d.min(1).values < r_radii).double().mean())}


@dataclass
class KnnManifolds:
    """What every resample of one (generated set, real reference) pair needs, computed once."""

    k: int
    d_rf: torch.Tensor        # [M, N] real-to-generated distances
    d_ff: torch.Tensor        # [N, N] generated-to-generated, +inf on the diagonal (a point is not its neighbour)
    in_real: torch.Tensor     # [M, N] float: generated i inside real j's ball

    @classmethod
    def build(cls, real: torch.Tensor, fake: torch.Tensor, k: int) -> "KnnManifolds":
        m, n = real.shape[0], fake.shape[0]
        if m <= k:
            raise EmobenchError(f"the real reference has {m} image(s), k-NN statistics with k = {k} need more than k",
                                "use a dataset with more held-out test images per emotion, or a smaller k (k=...)")
        if n <= k:
            raise EmobenchError(f"{n} generated image(s), k-NN statistics with k = {k} need more than k",
                                "generate more images per emotion, or use a smaller k (k=...)")
        d_rf = distances(real, fake)
        r_radii = knn_radii(distances(real, real), k)
        d_ff = distances(fake, fake)
        d_ff.fill_diagonal_(float("inf"))
        return cls(k, d_rf, d_ff, (d_rf < r_radii[:, None]).double())

    @property
    def n(self) -> int:
        return self.d_ff.shape[0]

    def precision(self, w: torch.Tensor) -> torch.Tensor:
        return (w @ self.in_real.amax(0)) / w.sum(1)

    def density(self, w: torch.Tensor) -> torch.Tensor:
        return (w @ self.in_real.sum(0)) / (w.sum(1) * self.k)

    def coverage(self, w: torch.Tensor) -> torch.Tensor:
        drawn = (w > 0).double()
        return ((drawn @ self.in_real.T) > 0).double().mean(1)

    def recall(self, w: torch.Tensor) -> torch.Tensor:
        """Per resample: the generated manifold of its distinct drawn images; nan with k or fewer of them."""
        m = self.d_rf.shape[0]
        chunk = max(1, int(2e7 // (self.n * (self.n + m))))        # bounds memory at paper scale
        out = []
        for start in range(0, w.shape[0], chunk):
            drawn = w[start:start + chunk] > 0                                        # [b, N]
            d = self.d_ff[None].expand(drawn.shape[0], -1, -1).masked_fill(~drawn[:, None, :], float("inf"))
            radii = torch.kthvalue(d, self.k, dim=2).values                           # k-th other drawn image
            radii = radii.masked_fill(~drawn, -1.0)                                   # an undrawn image has no ball
            hit = (self.d_rf[None] < radii[:, None, :]).any(2).double().mean(1)       # [b]
            out.append(torch.where(drawn.sum(1) > self.k, hit, torch.full_like(hit, float("nan"))))
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)


class KnnStat(GroupStat):
    """One of the four statistics of a shared ``KnnManifolds``."""

    def __init__(self, manifolds: KnnManifolds, column: str, extra: dict):
        self.manifolds, self.column = manifolds, column
        self.n = manifolds.n
        self.extra = dict(extra)
        self.value_range = (0.0, math.inf) if column == "density" else (0.0, 1.0)   # density can pass 1

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        return getattr(self.manifolds, self.column)(weights.double())
