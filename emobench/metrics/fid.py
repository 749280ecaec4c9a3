"""FID and KID against the dataset's held-out **test** images, per emotion and pooled.

Features come from the zoo's FID network (``zoo.judges.fid_features``: Inception-v3 pool features at paper
scale, the mini judge's penultimate layer at mini scale), once per image, shared by both metrics. Statistics
are float64. The point estimate follows torchmetrics exactly (``FrechetInceptionDistance`` mean/covariance and
``_compute_fid``; ``KernelInceptionDistance``'s cubic polynomial kernel and unbiased MMD² on the full sets —
torchmetrics' subsets of size n give the same number when ``subset_size`` equals both set sizes). The tests
check both against torchmetrics run on the same images with the same feature module.

For the bootstrap, FID is re-evaluated under resample weights without any D×D matrix square root:
with ``Σ_ref = L Lᵀ`` and ``Y = F L``, ``tr √(Σ_ref Σ_w)`` is the nuclear norm of the weighted centred ``Y``
divided by √(Σw − 1) — one small symmetric eigen-decomposition per resample.

Fixes relative to the official ``FID.py`` (docs/metrics.md): the reference is the held-out test split, not
every image of the folder (training images included); reference statistics are cached by dataset content
hash and feature-network hash, not by label; unreadable images are reported, never replaced by noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch

from emobench.api import Group, GroupStat, MeanOfStats, ScoreItem, ScoringContext, SetMetric, batched

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo


def mean_cov(f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torchmetrics' float64 mean and unbiased covariance (sum and cross-product form)."""
    f = f.double()
    n = f.shape[0]
    mu = f.sum(0) / n
    cov = (f.T @ f - n * torch.outer(mu, mu)) / (n - 1)
    return mu, cov


_REF_MEMO: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}


def reference_stats(real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(μ_ref, tr Σ_ref, L with Σ_ref = L Lᵀ) of a reference feature set, computed once per distinct set.

    The D×D eigen-decomposition dominated paper-scale scoring (the same reference for every method and
    emotion). Keyed by the sha256 of the features' bytes, kept in memory and in
    ``$EMOBENCH_CACHE/fid-reference/`` as float64 safetensors: a hit returns the very tensors a fresh
    computation gives, so FID values stay bit-identical."""
    from emobench.io.files import atomic_save_tensors, cache_root, sha256_bytes

    r = real.detach().double().contiguous().cpu()
    key = sha256_bytes(str(tuple(r.shape)).encode() + r.numpy().tobytes())
    path = cache_root() / "fid-reference" / f"{key}.safetensors"
    # the memo fronts one cache folder: a process (or test) with its own $EMOBENCH_CACHE never sees stats
    # computed under another's thread settings, so every process reading one folder gets the same bits
    memo = str(path)
    if memo in _REF_MEMO:
        return _REF_MEMO[memo]
    stats = None
    if path.is_file():
        try:
            from safetensors.torch import load_file

            t = load_file(str(path))
            stats = (t["mu"], t["trace"], t["factor"])
        except Exception:  # noqa: BLE001 — a damaged cache entry is recomputed
            stats = None
    if stats is None:
        mu_r, cov_r = mean_cov(real)
        evals, evecs = torch.linalg.eigh((cov_r + cov_r.T) / 2)
        stats = (mu_r, torch.trace(cov_r), evecs * evals.clamp_min(0).sqrt())
        try:
            atomic_save_tensors({"mu": stats[0].contiguous(), "trace": stats[1].contiguous(),
                                 "factor": stats[2].contiguous()}, path)
        except OSError:
            pass   # a read-only cache only costs the recomputation
    if len(_REF_MEMO) > 64:
        _REF_MEMO.clear()
    _REF_MEMO[memo] = stats
    return stats


class FidStat(GroupStat):
    def __init__(self, fake: torch.Tensor, real: torch.Tensor, min_trusted_n: int | None):
        self.f = fake.double()
        self.n, d = self.f.shape
        m = real.shape[0]
        # a covariance needs two images: with one reference image (a small split's emotion) FID is undefined,
        # so the group reads NaN with the reason instead of failing the metric for every group
        self.undefined = m < 2
        if self.undefined:
            real = torch.zeros(2, d, dtype=torch.float64)
        self.mu_r, self.tr_r, factor = reference_stats(real)
        self.y = self.f @ factor                                     # F L with Σ_ref = L Lᵀ
        self.sq = (self.f ** 2).sum(1)
        self.use_rows = self.n <= d                                  # eigen-problem on the smaller side
        self.gram = self.y @ self.y.T if self.use_rows else None
        limit = d if min_trusted_n is None else min_trusted_n
        self.extra = {"n_fake": self.n, "n_real": m, "feature_dim": d}
        self.warning = (f"FID undefined: the reference has {m} image(s) here (a covariance needs 2)" if self.undefined
                        else f"FID unreliable at n_fake={self.n}, n_real={m} < {limit} (covariance rank-deficient, "
                        "strongly biased at small n): compare KID" if min(self.n, m) < limit else "")

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        if self.undefined:
            return torch.full((weights.shape[0],), float("nan"), dtype=torch.float64)
        k = min(self.n, self.y.shape[1])
        chunk = max(1, int(2e7 // (k * k + self.n)))                 # bounds memory at paper scale
        return torch.cat([self._evaluate(weights[i:i + chunk].double()) for i in range(0, weights.shape[0], chunk)])

    def _evaluate(self, w: torch.Tensor) -> torch.Tensor:
        sw = w.sum(1)
        mu = (w @ self.f) / sw[:, None]
        a = ((mu - self.mu_r) ** 2).sum(1)
        tr_w = (w @ self.sq - sw * (mu ** 2).sum(1)) / (sw - 1)       # Σ w_i ‖f_i − μ‖² / (Σw − 1)
        my = (w @ self.y) / sw[:, None]                              # weighted mean of Y
        if self.use_rows:   # Z Zᵀ with Z = √w (Y − m): n × n, built from the fixed Y Yᵀ
            ym = my @ self.y.T                                       # [B, n]: y_i · m
            g = self.gram[None] - ym[:, :, None] - ym[:, None, :] + (my ** 2).sum(1)[:, None, None]
            s = w.sqrt()
            g = g * s[:, :, None] * s[:, None, :]
        else:               # Zᵀ Z = Yᵀ diag(w) Y − Σw m mᵀ: D × D
            g = torch.einsum("bn,nd,ne->bde", w, self.y, self.y) - sw[:, None, None] * my[:, :, None] * my[:, None, :]
        c = torch.linalg.eigvalsh(g).clamp_min(0).sqrt().sum(1) / (sw - 1).sqrt()
        out = a + tr_w + self.tr_r - 2 * c
        return torch.where(sw > 1, out, torch.full_like(out, float("nan")))


def fid_reference_value(fake: torch.Tensor, real: torch.Tensor) -> float:
    """torchmetrics' own formula on (real, fake) features — the check the tests use."""
    from torchmetrics.image.fid import _compute_fid

    mu_r, cov_r = mean_cov(real)
    mu_f, cov_f = mean_cov(fake)
    return float(_compute_fid(mu_r, cov_r, mu_f, cov_f))


class KidStat(GroupStat):
    """Unbiased MMD² with torchmetrics' polynomial kernel ``(γ xᵀy + coef)^degree``, γ = 1/D by default."""


    def __init__(self, fake: torch.Tensor, real: torch.Tensor, degree: int, gamma: float | None, coef: float):
        f, r = fake.double(), real.double()
        self.n, d = f.shape
        g = 1.0 / d if gamma is None else gamma
        kern = lambda x, y: (x @ y.T * g + coef) ** degree  # noqa: E731
        self.k_ff = kern(f, f)
        self.k_ff_diag = torch.diagonal(self.k_ff).clone()
        self.k_fr_rows = kern(f, r).sum(1)            # Σ_j k(f_i, r_j)
        m = r.shape[0]
        k_rr = kern(r, r)
        # unbiased MMD² needs two reference images; with one the group reads NaN with the reason
        self.rr_term = (k_rr.sum() - torch.trace(k_rr)) / (m * (m - 1)) if m > 1 else torch.tensor(float("nan"))
        self.m = m
        self.extra = {"n_fake": self.n, "n_real": m, "feature_dim": d}
        self.warning = f"KID undefined: the reference has {m} image(s) here (unbiased MMD² needs 2)" if m < 2 else ""

    def evaluate(self, weights: torch.Tensor) -> torch.Tensor:
        w = weights.double()
        sw = w.sum(1)
        ff = (((w @ self.k_ff) * w).sum(1) - w @ self.k_ff_diag) / (sw * (sw - 1))
        fr = (w @ self.k_fr_rows) / (sw * self.m)
        out = ff + self.rr_term - 2 * fr
        return torch.where(sw > 1, out, torch.full_like(out, float("nan")))


@dataclass(frozen=True)
class FidConfig:
    min_trusted_n: int | None = None   # below this many images FID is flagged; None: the feature dimension


@dataclass(frozen=True)
class KidConfig:
    degree: int = 3
    gamma: float | None = None
    coef: float = 1.0


class _FeatureDistance(SetMetric):
    requires = ("judges.fid_features", "dataset")
    needs_reference = True
    higher_is_better = False

    def feature_id(self) -> list:
        return ["fid-features"]   # shared by fid and kid

    def scale_note(self, zoo: "Zoo") -> str | None:
        # FID/KID on another network's features are on another scale: the feature network says so
        feats = getattr(zoo.judges, "fid_features", None) if zoo.judges is not None else None
        note = getattr(feats, "scale_note", None)
        return f"{self.label}: {note}" if note else None

    def features(self, images: torch.Tensor, items: Sequence[ScoreItem], zoo: "Zoo") -> torch.Tensor:
        return batched(zoo.judges.fid_features, images, self.batch_size)

    def make_stat(self, fake: torch.Tensor, real: torch.Tensor) -> GroupStat:
        raise NotImplementedError

    def group_stat(self, group: Group, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return self.make_stat(group.features(), ctx.reference_features(group.emotion))

    def pooled_stat(self, groups, stats, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        # All emotions pooled against all reference images (the official "aggregated" FID).
        fake = torch.cat([g.features() for g in groups])
        return self.make_stat(fake, ctx.reference_features("all"))


class FID(_FeatureDistance):
    name = "fid"
    label, decimals, headline, order = "FID", 2, True, 0
    Config = FidConfig

    def make_stat(self, fake, real):
        return FidStat(fake, real, self.config.min_trusted_n)


class KID(_FeatureDistance):
    name = "kid"
    label, decimals, headline, order = "KID", 4, True, 1
    Config = KidConfig

    def make_stat(self, fake, real):
        return KidStat(fake, real, self.config.degree, self.config.gamma, self.config.coef)


class IntraFID(FID):
    """Class-conditional FID: the Fréchet distance of each emotion's images to that emotion's real images (the
    per-emotion rows, the same numbers as ``fid``'s), pooled as their **mean** (intra-FID) instead of the one
    distance of all images to all real images. A method that draws a good image of the wrong emotion's kind
    is not hidden by the pool; at small n per emotion each term carries FID's small-n bias (docs/metrics.md)."""

    name = "fid-intra"
    label, headline, order = "Intra-FID", False, 2

    def display(self) -> dict:
        facts = super().display()
        facts[self.name]["same_per_emotion_as"] = "fid"   # per-emotion rows duplicate fid's: one test, not two
        return facts

    def pooled_stat(self, groups, stats, ctx: ScoringContext, zoo: "Zoo") -> GroupStat:
        return MeanOfStats(stats)
