"""The coverage benchmark's pool: held-out images of the shipped zoo's world, scored by the real metric plugins.

Images are fresh draws of the zoo's own EmoSet-mini world (``emobench.world.sample_world`` with the zoo's world
configuration, which ``load_zoo`` checks against the zoo's recorded world key, and a draw seed of the zoo's
dataset seed + 1 000 003, so none is in the zoo's train, val or test split): ``per_emotion`` images of each
emotion. Per image, computed once with the zoo's networks and cached under ``$EMOBENCH_CACHE/coverage/``:
Emo-A's judge softmax (``emo-a`` plugin), the FID features (``fid``), CLIP image features (``sem-d``), the
object and scene, and per emotion the LPIPS distance of every pair (the zoo's perceptual network run once per
image through ``features``; a pair's distance is the squared Euclidean distance of the per-stage features
scaled by 1/√(h·w), i.e. ``compare``, checked against the module on sampled pairs). The FID reference is the
zoo's test split, as the scorer's.

Sources (``emobench.testing.coverage.Source``) build every statistic with the plugins' own code: Emo-A's
``values`` (a ``MeanStat``, as the scorer builds it), FID's ``make_stat``, Sem-D's and LPIPS's ``group_stat``
(LPIPS through its distance-matrix cache entry) and their ``pooled_stat``.
"""
from __future__ import annotations

import functools
import sys
import time

import numpy as np
import torch

from emobench.api import Group, ScoreItem, ScoringContext, stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.io.files import cache_root

POOL_SEED_OFFSET = 1_000_003


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def world_draws(zoo, per_emotion: int):
    from emobench.world import OBJECTS, SCENES, sample_world

    spec = (zoo.root / "zoo.json") if zoo.root is not None else None
    ds = getattr(zoo, "dataset", None)
    if ds is None or spec is None:
        raise EmobenchError("the coverage benchmark needs an EmoSet-mini zoo (its world draws the pool)",
                            "use the shipped mini zoo: --zoo mini")
    import json

    meta = json.loads(spec.read_text()).get("dataset") or {}
    if meta.get("kind") != "emoset-mini":
        raise EmobenchError("the zoo's dataset is not an EmoSet-mini world", "use the shipped mini zoo: --zoo mini")
    seed = int(meta["seed"]) + POOL_SEED_OFFSET
    n = int(per_emotion * 8 / 0.8)
    imgs, anns = sample_world(seed, n, "val")
    while min(sum(a["emotion"] == e for a in anns) for e in EMOTIONS) < per_emotion:
        n = int(n * 1.3)
        imgs, anns = sample_world(seed, n, "val")
    emo = np.array([EMOTIONS.index(a["emotion"]) for a in anns])
    keep = np.concatenate([np.where(emo == e)[0][:per_emotion] for e in range(8)])
    obj = np.array([OBJECTS.index(a["object"][0]) for a in anns])[keep]
    scene = np.array([SCENES.index(a["scene"]) for a in anns])[keep]
    return imgs[keep], emo[keep], obj, scene, seed


def build_pool(zoo, per_emotion: int = 3000) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file, save_file

    from emobench import registry

    key = stable_hash([zoo.judges_hash, zoo.hashes.get("clip"), getattr(zoo.dataset, "content_hash", None),
                       per_emotion, POOL_SEED_OFFSET, "v1"], n=24)
    path = cache_root() / "coverage" / f"pool-{key}.safetensors"
    if path.is_file():
        return load_file(str(path))
    t0 = time.perf_counter()
    imgs, emo, obj, scene, seed = world_draws(zoo, per_emotion)
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255
    items = [ScoreItem(emotion=EMOTIONS[e], prompt="an image of " + EMOTIONS[e], image_id=str(i)) for i, e in enumerate(emo)]
    reg = registry.metrics()
    out = {"emotion": torch.from_numpy(emo), "object": torch.from_numpy(obj), "scene": torch.from_numpy(scene),
           "world_seed": torch.tensor([seed])}
    for name, key_ in (("emo-a", "judge"), ("fid", "fid"), ("sem-d", "clip")):
        m = reg.create(name)[1]
        m.prepare(zoo)
        out[key_] = m.features(x, items, zoo).float()
        _log(f"pool: {name} features {tuple(out[key_].shape)} ({time.perf_counter() - t0:.0f} s)")
    out["emo-a"] = reg.create("emo-a")[1].values(out["judge"], items)["emo-a"].double()
    fid = reg.create("fid")[1]
    refs = [fid.features(zoo.dataset.load_images(zoo.dataset.by_emotion("test", e), size=int(zoo.sampling.height)),
                         [], zoo) for e in EMOTIONS]
    out["ref"] = torch.cat(refs).float()
    out["ref_emotion"] = torch.cat([torch.full((len(r),), i) for i, r in enumerate(refs)])
    net = zoo.judges.lpips
    for e in range(8):
        xe = x[torch.from_numpy(emo == e)]
        with torch.no_grad():
            f = [torch.cat(z) for z in zip(*[net.features(xe[s:s + 256]) for s in range(0, len(xe), 256)])]
            flat = torch.cat([fi.flatten(1) / (fi.shape[2] * fi.shape[3]) ** 0.5 for fi in f], 1)
            sq = (flat * flat).sum(1)
            d = (sq[:, None] + sq[None] - 2 * flat @ flat.T).clamp_min(0)
            d.fill_diagonal_(0)
            i = torch.arange(0, len(xe) - 1, max(1, len(xe) // 50))
            err = (d[i, i + 1] - net(xe[i], xe[i + 1])).abs().max().item()
        if err > 1e-3:
            raise EmobenchError(f"LPIPS distance matrix differs from the zoo's module by {err:.2g}", "report a bug")
        out[f"lpips/{e}"] = d.float()
        _log(f"pool: LPIPS matrix of {EMOTIONS[e]} ({time.perf_counter() - t0:.0f} s; max diff to the module {err:.1e})")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in out.items()}, str(path))
    return out


class _Ctx(ScoringContext):
    def __init__(self, ref: dict[str, torch.Tensor]):
        super().__init__(lambda emotion: ref[emotion])


class PoolSources:
    """The four statistics of the benchmark on one pool (``pool``: ``build_pool``'s tensors)."""

    def __init__(self, zoo, pool: dict[str, torch.Tensor]):
        from emobench import registry

        self.zoo, self.pool = zoo, pool
        emo = pool["emotion"].numpy()
        self.idx = [np.where(emo == e)[0] for e in range(8)]
        reg = registry.metrics()
        self.fid, self.semd, self.lpips = (reg.create(n)[1] for n in ("fid", "sem-d", "lpips"))
        ref = pool["ref"].double()
        re = pool["ref_emotion"].numpy()
        self.ctx = _Ctx({**{EMOTIONS[e]: ref[torch.from_numpy(re == e)] for e in range(8)}, "all": ref})
        self.correct = pool["emo-a"].numpy()
        self.fidf = pool["fid"].double()
        self.clip = pool["clip"].double()

    def emotion_values(self, e: int, what: str) -> np.ndarray:
        return {"correct": self.correct, "object": self.pool["object"].numpy(),
                "scene": self.pool["scene"].numpy()}[what][self.idx[e]]

    def sources(self) -> dict[str, object]:
        return {"Emo-A": EmoA(self), "FID": Fid(self), "LPIPS": Pairwise(self, "LPIPS"), "Sem-D": Pairwise(self, "Sem-D")}


class EmoA:
    name = "Emo-A"

    def __init__(self, p: PoolSources):
        self.p = p
        self.y = [p.correct[i] for i in p.idx]

    def pooled(self, sel):
        from emobench.api import MeanStat

        return MeanStat(torch.from_numpy(np.concatenate([y[s] for y, s in zip(self.y, sel)])))

    def single(self, e, s):
        from emobench.api import MeanStat

        return MeanStat(torch.from_numpy(self.y[e][s]))

    def truth(self, probs):
        return float(np.mean([p @ y for p, y in zip(probs, self.y)]))

    def truth_single(self, e, p):
        return float(p @ self.y[e])

    def truth_many(self, fits, stratum):
        ems = range(8) if stratum is None else [stratum]
        return np.mean([np.stack([f[e] for f in fits]) @ self.y[e] for e in ems], axis=0)


class Fid:
    name = "FID"

    def __init__(self, p: PoolSources):
        self.p = p
        self.f = [p.fidf[torch.from_numpy(i)] for i in p.idx]

    def _group(self, e, s):
        feats = self.f[e][torch.from_numpy(s)]
        return Group("sim", EMOTIONS[e], [None] * len(s), features=lambda: feats, images=lambda: None)

    def pooled(self, sel):
        groups = [self._group(e, s) for e, s in enumerate(sel)]
        return self.p.fid.pooled_stat(groups, [], self.p.ctx, self.p.zoo)

    def single(self, e, s):
        return self.p.fid.group_stat(self._group(e, s), self.p.ctx, self.p.zoo)

    def truth(self, probs):
        return None

    def truth_single(self, e, p):
        return None


class Pairwise:
    """Sem-D (CLIP features, the plugin's MSE distance) or LPIPS (the pool's distance matrix, through the
    plugin's cache entry)."""

    def __init__(self, p: PoolSources, name: str):
        self.p, self.name = p, name
        self.metric = p.lpips if name == "LPIPS" else p.semd
        if name == "LPIPS":
            self.d = [p.pool[f"lpips/{e}"] for e in range(8)]
        else:
            self.f = [p.clip[torch.from_numpy(i)] for i in p.idx]
            self.sq = [(f * f).sum(1).numpy() for f in self.f]

    @functools.lru_cache(maxsize=64)
    def _mask(self, n: int, emotion: str):
        from emobench.metrics.pairs import pair_mask

        return pair_mask(n, self.metric.config.max_pairs, self.metric.config.seed, emotion)

    def single(self, e, s):
        emotion = EMOTIONS[e]
        if self.name == "LPIPS":
            sub = self.d[e][np.ix_(s, s)]
            entry = {"dist": sub, "mask": self._mask(len(s), emotion)}
            g = Group("sim", emotion, [ScoreItem(emotion, "", str(i)) for i in s], features=lambda: None,
                      images=lambda: None, cache_get=lambda key: entry)
        else:
            feats = self.f[e][torch.from_numpy(s)]
            g = Group("sim", emotion, [None] * len(s), features=lambda: feats, images=lambda: None)
        return self.metric.group_stat(g, self.p.ctx, self.p.zoo)

    def pooled(self, sel):
        stats = [self.single(e, s) for e, s in enumerate(sel)]
        return self.metric.pooled_stat([], stats, self.p.ctx, self.p.zoo)

    def truth_single(self, e, p):
        if self.name == "LPIPS":
            return float(p @ (self.d[e].numpy() @ p))
        f = self.f[e].numpy()
        m = p @ f   # E d(X, Y) for the plugin's MSE distance: 2 (E|x|² − |E x|²) / D
        return float(2 * (p @ self.sq[e] - m @ m) / f.shape[1])

    def truth(self, probs):
        return float(np.mean([self.truth_single(e, p) for e, p in enumerate(probs)]))

    def truth_many(self, fits, stratum):
        """Population values of many distributions at once (one matrix product per emotion)."""
        ems = range(8) if stratum is None else [stratum]
        vals = []
        for e in ems:
            p = np.stack([f[e] for f in fits])
            if self.name == "LPIPS":
                vals.append(np.einsum("fi,fi->f", p @ self.d[e].numpy(), p))
            else:
                f = self.f[e].numpy()
                m = p @ f
                vals.append(2 * (p @ self.sq[e] - (m * m).sum(1)) / f.shape[1])
        return np.mean(vals, axis=0)


def leaderboard_world(src: PoolSources, base_tilt: float = 2.0, learner_tilt: float = 3.0,
                      learner_emotion: float = 2.0, seed: int = 7):
    """A generated-like world: the baseline and the learner prefer fixed contents (so their FID sits off the
    reference, as generated images' does), the learner also images its judge gets right (higher Emo-A); fits
    tilt along every object, scene and the judge's correctness."""
    from emobench.testing.coverage import World

    rng = np.random.default_rng(seed)
    n_obj, n_scene = int(src.pool["object"].max()) + 1, int(src.pool["scene"].max()) + 1
    g_base, g_learn = rng.standard_normal(n_obj), rng.standard_normal(n_obj)
    base, learner, axes = [], [], []
    for e in range(8):
        obj, scene, y = (src.emotion_values(e, w) for w in ("object", "scene", "correct"))
        b = np.exp(base_tilt * g_base[obj])
        lw = np.exp(learner_tilt * g_learn[obj] + learner_emotion * (y - y.mean()))
        base.append(b / b.sum())
        learner.append(lw / lw.sum())
        axes.append(np.concatenate([np.eye(n_obj)[obj].T, np.eye(n_scene)[scene].T, y[None]]))
    return World(base, learner, axes)


def load(zoo_spec: str = "mini", per_emotion: int = 3000) -> PoolSources:
    from emobench.zoo.load import load_zoo

    zoo = load_zoo(zoo_spec)
    return PoolSources(zoo, build_pool(zoo, per_emotion))


__all__ = ["build_pool", "PoolSources", "leaderboard_world", "load"]
