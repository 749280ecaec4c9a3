"""``emobench run --pilot``: measure a few cells of every method on the real zoo, without writing a run.

What it measures (projected to the full config by ``emobench.run.pilot_model``):

* **setup**: resolving the config and loading the zoo lazily, then the generator's first load;
* **fits**: each learning method is fitted once in a scratch folder with ``FitContext.max_steps`` capping every
  training loop; ``progress`` reports each loop's full length, so the seconds per step (between the first and last
  tick: warm-up excluded) times the steps not run are added to the measured pilot fit. Artifacts already cached
  or shipped (``emobench.run.artifacts.find``) cost nothing. The artifact cache is never written;
* **generation**: ``per_emotion`` cells per emotion in the plan's order and batch size; images per second from
  the batches after the first (the first holds the warm-up), plus the method's ``load``;
* **scoring**: the configured metrics on two nested subsets of the pilot images (``per_emotion // 2`` and
  ``per_emotion`` per group) with cold caches, after the judges are loaded (timed on their own): a straight line
  in the number of scored images, which the full run's count is put into; then the report once.

Disk is bytes per image, artifact folder sizes and the score cache per scored image; memory is this process's
peak RSS and the accelerator's peak allocation (the full run has the same models and batch size).
"""
from __future__ import annotations

import dataclasses
import json
import math
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from emobench.api import EMOTIONS, Cell, FitContext, check_output
from emobench.errors import EmobenchError
from emobench.io.images import to_hwc_uint8
from emobench.rundir.layout import write_manifest
from emobench.run import artifacts, runner
from emobench.run.pilot_model import FitPilot, MethodPilot, PilotResult, ScoringPilot, StageTiming
from emobench.run.store import ImageStore, image_key
from emobench.run.writer import BackgroundWriter
from emobench.spec.config import RunConfig
from emobench.spec.plan import Plan
from emobench.spec import tracks

PER_EMOTION = 4   # cells per emotion and method (two nested scoring passes of 2 and 4 per group)
MAX_STEPS = 8     # training steps per loop in a pilot fit (seconds per step from the last 7)


def _now() -> tuple[float, float]:
    """(wall clock, this process's CPU time): every duration is measured on both."""
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    t1 = _now()
    return t1[0] - t0[0], t1[1] - t0[1]


def _startup() -> tuple[float, float]:
    """The process's life so far (interpreter start-up and imports, which a full run pays too)."""
    try:
        import psutil

        proc = psutil.Process()
        cpu = proc.cpu_times()
        return max(0.0, time.time() - proc.create_time()), cpu.user + cpu.system
    except Exception:   # noqa: BLE001 — no psutil, or no /proc: the start-up is simply not counted
        return 0.0, 0.0


class _Ticks:
    """``FitContext.progress`` that timestamps every (stage, done, total)."""

    def __init__(self) -> None:
        self.stages: dict[str, list[tuple[tuple[float, float], int, int]]] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.stages.setdefault(stage, []).append((_now(), int(done), int(total)))

    def timings(self) -> list[StageTiming]:
        out = []
        for stage, ticks in self.stages.items():
            (t0, d0, _), (t1, d1, total) = ticks[0], ticks[-1]
            step = tuple((b - a) / (d1 - d0) if d1 > d0 else math.nan for a, b in zip(t0, t1))
            out.append(StageTiming(stage, d1, total, step))  # type: ignore[arg-type]
        return out


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def _pilot_cells(plan: Plan, per_emotion: int) -> list[Cell]:
    """The first ``per_emotion`` cells of each emotion, in the plan's order (the order a run generates in)."""
    seen: dict[str, int] = {}
    out = []
    for c in plan.cells:
        if seen.get(c.emotion, 0) < per_emotion:
            seen[c.emotion] = seen.get(c.emotion, 0) + 1
            out.append(c)
    return out


def _fit(ms: runner.MethodSpec, zoo, cfg: RunConfig, scratch: Path, max_steps: int) -> tuple[FitPilot, Path | None]:
    seeds = list(range(cfg.fit_seeds)) if cfg.fit_seeds > 1 else [artifacts.FIT_SEED]
    cached = [s for s in seeds if artifacts.find(ms.plugin, ms.method, zoo, cfg.emotions, s) is not None]
    if len(cached) == len(seeds):
        found = artifacts.find(ms.plugin, ms.method, zoo, cfg.emotions, seeds[0])
        return FitPilot((0.0, 0.0), [], _dir_bytes(found.path), cached), found.path
    ticks = _Ticks()
    folder = scratch / "fits" / ms.plugin
    ctx = FitContext(zoo=zoo, dataset=zoo.dataset, emotions=tuple(e for e in EMOTIONS if e in cfg.emotions),
                     artifact_dir=folder, seed=0, progress=ticks, max_steps=max_steps)
    folder.mkdir(parents=True)
    start = _now()
    ms.method.fit(ctx)
    return FitPilot(_since(start), ticks.timings(), _dir_bytes(folder), cached), folder


def _generate(ms: runner.MethodSpec, zoo, plan: Plan, cells: Sequence[Cell], cfg: RunConfig, store: ImageStore,
              artifact_dir: Path | None) -> tuple[MethodPilot, list]:
    start = _now()
    ms.method.load(zoo, artifact_dir)
    load_s = _since(start)
    size = (zoo.sampling.height, zoo.sampling.width)
    writer = BackgroundWriter(store)
    times: list[tuple[int, tuple[float, float]]] = []
    for batch in plan.batches(list(cells), cfg.batch_size):
        t0 = _now()
        requests = plan.requests(batch)
        with torch.inference_mode():
            result = ms.method.generate(requests)
        pixels = to_hwc_uint8(check_output(result, len(requests), size))
        for i, cell in enumerate(batch):
            key = image_key(ms.plugin, ms.method.config, zoo.weights_hash, cell, "pilot")
            writer.submit(cell, key, pixels[i], method=ms.label, cell=cell, prompt=str(result.prompts[i]))
        if zoo.device.type == "cuda":
            torch.cuda.synchronize()
        times.append((len(batch), _since(t0)))
    written, error = writer.close()
    if error is not None:
        raise error
    timed = times[1:] or times   # the first batch holds the warm-up
    records = [written[c] for c in cells]
    size_b = sum((store.run_dir / r.path).stat().st_size for r in records) / max(1, len(records))
    gen = (sum(t[0] for _, t in timed), sum(t[1] for _, t in timed))
    return MethodPilot(ms.label, bool(type(ms.method).learns), None, load_s, len(records), gen,
                       sum(n for n, _ in timed), size_b), records


def _load_judges(zoo) -> tuple[float, float]:
    """Load every scoring network now, so the scoring passes time scoring alone."""
    start = _now()
    judges = getattr(zoo, "judges", None)
    if judges is not None:
        for name in ("emotion", "object", "scene", "fid_features", "lpips"):
            getattr(judges, name, None)
    if zoo.clip is not None:
        getattr(zoo.clip, "model", None)
    return _since(start)


def _score_pass(records: list, per_group: int, cfg: RunConfig, zoo, plan: Plan, contents, images: Path,
                scratch: Path, name: str, report) -> tuple[int, tuple, int, int, tuple]:
    """Score the first ``per_group`` images of every (method, emotion) in a scratch run folder with a cold cache;
    returns (images scored incl. real controls, seconds, cache bytes, run-folder bytes, report seconds)."""
    from emobench.run.setup import write_setup
    from emobench.scoring import score_run

    run_dir, cache = scratch / name, scratch / f"cache-{name}"
    kept, seen = [], {}
    for r in records:
        k = (r.method, r.emotion)
        if seen.get(k, 0) < per_group:
            seen[k] = seen.get(k, 0) + 1
            kept.append(r)
    write_setup(run_dir, cfg, zoo, plan, contents)
    (run_dir / "images").symlink_to(images, target_is_directory=True)
    write_manifest(run_dir, kept)
    (run_dir / "methods.json").write_text(json.dumps({m: {"status": "ok"} for m in sorted({r.method for r in kept})}))
    start = _now()
    score_run(run_dir, zoo, list(cfg.metrics), baseline=cfg.baseline, cache_dir=cache, progress=False)
    seconds = _since(start)
    report_s = (0.0, 0.0)
    if report is not None:   # the face passes the report builder (the run engine sits below the report)
        start = _now()
        report(run_dir)
        report_s = _since(start)
    controls = _control_images(zoo, cfg.emotions, per_group) if zoo.dataset is not None else 0
    run_bytes = _dir_bytes(run_dir) - _dir_bytes(run_dir / "images")
    return len(kept) + controls, seconds, _dir_bytes(cache), max(0, run_bytes), report_s


def _control_images(zoo, emotions: Sequence[str], per_emotion: int) -> int:
    """Real held-out images a run of ``per_emotion`` images per emotion scores as its control rows."""
    return sum(min(per_emotion, len(zoo.dataset.by_emotion("test", e))) for e in emotions)


def measure(cfg: RunConfig, per_emotion: int = PER_EMOTION, max_steps: int = MAX_STEPS,
            log=print, report: Callable[[Path], Any] | None = None) -> PilotResult:
    """Run the pilot of ``cfg`` in a scratch folder (removed afterwards) and return what it measured;
    ``report(run_dir)``, when given, is timed once on the larger scoring pass (``emobench run`` passes the
    report builder)."""
    scratch = Path(tempfile.mkdtemp(prefix="emobench-pilot-"))
    try:
        startup, start = _startup(), _now()
        cfg, methods, zoo, _ = runner.resolve(dataclasses.replace(cfg, out=str(scratch / "unused")))
        contents = tracks.resolve_contents(cfg, zoo)
        plan = Plan.from_config(cfg, zoo.latent_shape(), contents)
        setup_s = tuple(a + b for a, b in zip(startup, _since(start)))
        start = _now()
        getattr(zoo, "pipeline")   # the generator's first load: once per run, whichever method comes first
        pipeline_s = _since(start)
        per_emotion = max(1, min([per_emotion] + [sum(c.emotion == e for c in plan.cells) for e in cfg.emotions]))
        cells = _pilot_cells(plan, per_emotion)
        store = ImageStore(scratch / "store", cfg.image_format)
        results, records = [], []
        for ms in methods:
            if ms.method is None:
                raise EmobenchError(f"method {ms.label!r} cannot be loaded: {ms.error}",
                                           "fix or uninstall the plugin before piloting")
            fit, artifact_dir = (None, None)
            if type(ms.method).learns:
                log(f"emobench pilot: fitting {ms.label} ({max_steps} steps per loop)")
                fit, artifact_dir = _fit(ms, zoo, cfg, scratch, max_steps)
            log(f"emobench pilot: generating {len(cells)} cells with {ms.label}")
            mp, recs = _generate(ms, zoo, plan, cells, cfg, store, artifact_dir)
            results.append(dataclasses.replace(mp, fit=fit))
            records += recs
        judges_s = _load_judges(zoo)
        # two nested passes (half and all); below 4 per group one pass (set metrics need 2 images a group)
        passes = [per_emotion // 2, per_emotion] if per_emotion >= 4 else [per_emotion]
        measured = []
        for k in passes:
            log(f"emobench pilot: scoring {k} image(s) per group")
            measured.append(_score_pass(records, k, cfg, zoo, plan, contents, store.images_dir, scratch, f"score{k}",
                                        report=report if k == passes[-1] else None))
        peak_gpu = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
        scoring = ScoringPilot([m[0] for m in measured], [m[1] for m in measured], judges_s, measured[-1][4],
                               measured[-1][2] / max(1, measured[-1][0]), measured[-1][3] / max(1, measured[-1][0]))
        control_full = _control_images(zoo, cfg.emotions, cfg.n_per_emotion) if zoo.dataset is not None else 0
        return PilotResult(config=cfg, device=str(zoo.device), setup_s=setup_s, pipeline_load_s=pipeline_s,
                           methods=results, scoring=scoring, n_cells=len(plan.cells), control_images=control_full,
                           pilot_cells=len(cells), peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                           * 1024, peak_gpu_bytes=peak_gpu)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def write_json(result: PilotResult, projection: dict[str, Any], path: Path) -> None:
    from emobench.io.files import write_json as write

    write(path, {"format": "emobench-pilot", "version": 1, "measured": result.to_json(), "projection": projection})
