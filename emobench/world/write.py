"""Writing EmoSet-mini to disk in EmoSet-118K's own layout, and the once-per-config cache.

Layout (what the official EmoSet loader reads; split rows are ``[emotion, image_id, image, annotation]``
exactly as in EmoSet-118K's ``train.json``)::

    ROOT/image/<emotion>/<emotion>_<nnnnn>.png        lossless PNG, 32×32 RGB
    ROOT/annotation/<emotion>/<emotion>_<nnnnn>.json  emotion, brightness, colorfulness, scene, object, caption
    ROOT/{train,val,test}.json
    ROOT/info.json                                    label2idx/idx2label per attribute (EmoSet's info.json)
    ROOT/world.json                                   generator config, tables, Bayes rate, counts
"""
from __future__ import annotations

import io
import json
import os
import time
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from emobench.hashing import stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError
from emobench.io.files import cache_root
from emobench.io.sweep import owned_tmpdir, sweep
from emobench.world.sample import SPLITS, check_count, check_seed, chunk_sizes, render_chunk
from emobench.world.tables import (WorldConfig, bayes_accuracy, emotion_marginal, object_given_emotion, object_prior,
                                   object_table, scene_given_emotion, scene_prior, scene_table, world_stats)

MAX_EVAL_IMAGES = 200_000


def _encode_chunk(args: tuple[int, str, int, int, WorldConfig]) -> tuple[list[bytes], list[dict]]:
    images, anns = render_chunk(*args)
    pngs = []
    for im in images:
        buf = io.BytesIO()
        # compress_level 1: 32×32 PNGs barely shrink at higher levels, and encoding dominates write time
        Image.fromarray(im).save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
    return pngs, anns


def _write(path: str, data: bytes) -> None:
    # raw os calls: tens of thousands of tiny files, where pathlib/io overhead shows
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _dumps(obj) -> str:
    return json.dumps(obj, indent=1, sort_keys=False)


def _info(cfg: WorldConfig) -> dict:
    def vocab(names):
        names = list(names)
        return {"label2idx": {n: i for i, n in enumerate(names)}, "idx2label": {str(i): n for i, n in enumerate(names)}}
    levels = [str(round(0.1 * i, 1)) for i in range(11)]
    return {"emotion": vocab(EMOTIONS), "scene": vocab(cfg.scenes), "object": vocab(cfg.objects),
            "brightness": vocab(levels), "colorfulness": vocab(levels)}


def world_json(seed: int, n_train: int, n_val: int, n_test: int, cfg: WorldConfig) -> dict:
    return {
        "format": "emoset-mini", "version": cfg.version, "seed": seed, "image_size": 32,
        "n_train": n_train, "n_val": n_val, "n_test": n_test, "config": cfg.to_json(),
        # p(e | object), p(e | scene) and the marginals (as in version 2), plus the generative tables of
        # version 3: p(object | e), p(scene | e), rows in EMOTIONS order
        "tables": {"emotions": list(EMOTIONS),
                   "object": object_table(cfg).round(6).tolist(), "scene": scene_table(cfg).round(6).tolist(),
                   "object_prior": object_prior(cfg).round(6).tolist(),
                   "scene_prior": scene_prior(cfg).round(6).tolist(),
                   "object_given_emotion": object_given_emotion(cfg).round(6).tolist(),
                   "scene_given_emotion": scene_given_emotion(cfg).round(6).tolist()},
        "bayes_accuracy": round(bayes_accuracy(cfg), 6),
        "content_stats": {k: {f: (round(x, 6) if isinstance(x, float) else x) for f, x in st.to_json().items()
                              if not isinstance(x, dict)} for k, st in world_stats(cfg).items()},
        "emotion_marginal": emotion_marginal(cfg).round(6).tolist(),
    }


def check_sizes(seed: object, n_train: object, n_val: object, n_test: object) -> tuple[int, int, int, int]:
    return (check_seed(seed), check_count("n_train", n_train), check_count("n_val", n_val, MAX_EVAL_IMAGES),
            check_count("n_test", n_test, MAX_EVAL_IMAGES))


def write_emoset_mini(out_dir: str | Path, seed: int = 0, n_train: int = 20000, n_val: int = 2000,
                      n_test: int = 2000, config: WorldConfig | None = None, workers: int = 1) -> Path:
    """Write EmoSet-mini into ``out_dir`` (must be absent or empty). Same arguments → byte-identical files."""
    seed, n_train, n_val, n_test = check_sizes(seed, n_train, n_val, n_test)
    workers = check_count("workers", workers, 64)
    cfg = config or WorldConfig()
    root = Path(out_dir)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise EmobenchError(f"output folder {root} exists and is not empty",
                            "pass a new or empty folder (EmoSet-mini never overwrites files)")
    for sub in ("image", "annotation"):
        for e in EMOTIONS:
            (root / sub / e).mkdir(parents=True, exist_ok=True)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    jobs = [(seed, split, k, size, cfg) for split in SPLITS for k, size in enumerate(chunk_sizes(sizes[split]))]
    width = max(5, len(str(n_train + n_val + n_test)))
    counters = {e: 0 for e in EMOTIONS}  # EmoSet numbers images per emotion across all splits
    rows: dict[str, list[list[str]]] = {s: [] for s in SPLITS}
    counts = {s: {e: 0 for e in EMOTIONS} for s in SPLITS}

    def consume(job, result) -> None:
        split = job[1]
        for png, ann in zip(*result):
            e = ann["emotion"]
            counters[e] += 1
            image_id = f"{e}_{counters[e]:0{width}d}"
            img_rel, ann_rel = f"image/{e}/{image_id}.png", f"annotation/{e}/{image_id}.json"
            _write(f"{root}/{img_rel}", png)
            _write(f"{root}/{ann_rel}", json.dumps({"image_id": image_id, **ann}).encode())
            rows[split].append([e, image_id, img_rel, ann_rel])
            counts[split][e] += 1

    if workers > 1:
        # workers die with this process: a kill -9 of the build must not leave them running for good
        with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
            for job, result in zip(jobs, pool.map(_encode_chunk, jobs)):  # map keeps job order
                consume(job, result)
    else:
        for job in jobs:
            consume(job, _encode_chunk(job))
    for split in SPLITS:
        (root / f"{split}.json").write_text(json.dumps(rows[split]))
    (root / "info.json").write_text(_dumps(_info(cfg)))
    (root / "world.json").write_text(_dumps({**world_json(seed, n_train, n_val, n_test, cfg), "counts": counts}))
    return root


def die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when ``parent`` dies, however it dies (SIGKILL included).

    Linux: ``PR_SET_PDEATHSIG`` has the kernel send SIGKILL at the parent's death; everywhere, a daemon
    thread also checks once a second that the parent is still this process's parent and exits otherwise
    (a worker blocked on its task queue would otherwise wait for the dead parent for ever)."""
    import threading

    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)   # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:   # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="emobench-parent-watch", daemon=True).start()


def world_key(seed: int, n_train: int, n_val: int, n_test: int, cfg: WorldConfig) -> str:
    return stable_hash({"world": cfg.to_json(), "seed": seed, "n": [n_train, n_val, n_test]})


def ensure_emoset_mini(seed: int = 0, n_train: int = 20000, n_val: int = 2000, n_test: int = 2000,
                       config: WorldConfig | None = None, cache_dir: str | Path | None = None,
                       workers: int = 2) -> Path:
    """``$EMOBENCH_CACHE/emoset-mini/<key>/``, written once (temp folder + rename) and reused after."""
    seed, n_train, n_val, n_test = check_sizes(seed, n_train, n_val, n_test)
    cfg = config or WorldConfig()
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    final = base / "emoset-mini" / world_key(seed, n_train, n_val, n_test, cfg)
    if (final / "world.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep(final.parent)   # temp folders of builds that were killed (a live build's is kept)
    tmp = owned_tmpdir(final.parent, final.name)
    try:
        write_emoset_mini(tmp, seed, n_train, n_val, n_test, cfg, workers=workers)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "world.json").is_file():  # not a concurrent writer that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def images_array(root: Path, rows: list[list[str]]) -> np.ndarray:
    """uint8 [N,32,32,3] of the given split rows (test helper; the loader is ``emobench.data.emoset``)."""
    return np.stack([np.asarray(Image.open(root / r[-2]).convert("RGB")) for r in rows])
