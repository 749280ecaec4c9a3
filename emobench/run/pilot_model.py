"""What a pilot measured (``emobench.run.pilot``) and the full run it projects: time per method, per fit seed and
per shard count, device-hours, disk and peak memory. Pure arithmetic on the measurements, so it is tested
without a model.

Time model of the full run (one process): setup + the generator's first load + every fit not cached (each fit
seed costs the same: the pilot fit's seconds plus the steps it did not run times its seconds per step) + per
method and fit seed, ``load`` + cells / images-per-second + scoring (a straight line through the two scoring
passes, in scored images: generated ones plus the real control images) + the report. With ``N`` processes
(``--launcher``) rank 0 fits first while the others wait, every rank loads each method and generates its share
of cells, rank 0 scores and reports; device-hours count all ``N`` devices for the whole wall time.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

PROCESSES = (1, 2, 4, 8)
Secs = tuple[float, float]   # (wall seconds, CPU seconds of this process): every duration is measured on both
CLOCKS = {"wall": 0, "cpu": 1}


@dataclass(frozen=True)
class StageTiming:
    name: str
    steps_run: int
    total: int
    step_s: Secs           # seconds per step between the first and the last progress tick (nan: one tick)


@dataclass(frozen=True)
class FitPilot:
    seconds: Secs                      # the capped pilot fit (0: every fit seed is cached)
    stages: list[StageTiming]
    artifact_bytes: int
    cached_seeds: list[int] = field(default_factory=list)   # fit seeds found in the cache or the zoo's prefit

    def projected_s(self, i: int = 0) -> float:
        """One full fit on clock ``i``: the pilot fit plus the steps it did not run at its seconds per step."""
        rest = sum((s.total - s.steps_run) * s.step_s[i] for s in self.stages
                   if s.total > s.steps_run and math.isfinite(s.step_s[i]))
        return self.seconds[i] + rest


@dataclass(frozen=True)
class MethodPilot:
    label: str
    learns: bool
    fit: FitPilot | None
    load_s: Secs
    n_images: int
    gen_s: Secs              # seconds of the timed batches
    n_timed: int             # images in the timed batches
    bytes_per_image: float

    def img_per_s(self, i: int = 0) -> float:
        return self.n_timed / self.gen_s[i] if self.gen_s[i] > 0 else math.inf


@dataclass(frozen=True)
class ScoringPilot:
    images: list[int]        # scored images (generated + real controls) of each pass
    seconds: list[Secs]
    judges_load_s: Secs
    report_s: Secs
    cache_bytes_per_image: float
    run_bytes_per_image: float

    def line(self, i: int = 0) -> tuple[float, float]:
        """(intercept, seconds per scored image) on clock ``i`` through the passes (one pass: through 0)."""
        y = [t[i] for t in self.seconds]
        if len(self.images) >= 2 and self.images[-1] != self.images[0]:
            b = max(0.0, (y[-1] - y[0]) / (self.images[-1] - self.images[0]))
            return max(0.0, y[-1] - b * self.images[-1]), b
        return 0.0, y[-1] / max(1, self.images[-1])


@dataclass
class PilotResult:
    config: Any
    device: str
    setup_s: Secs            # the process's start-up and imports, resolving the config, loading the zoo lazily
    pipeline_load_s: Secs
    methods: list[MethodPilot]
    scoring: ScoringPilot
    n_cells: int             # plan cells per method (per fit)
    control_images: int      # real control images the full run scores
    pilot_cells: int
    peak_rss_bytes: int
    peak_gpu_bytes: int | None

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["config"] = self.config.hashed() if hasattr(self.config, "hashed") else str(self.config)
        return d


def project(r: PilotResult, processes: Sequence[int] = PROCESSES, clock: str = "wall") -> dict[str, Any]:
    """The full run's seconds (per method, per fit seed, per process count) on ``clock`` ("wall", or "cpu": this
    process's CPU time, which other processes' load barely changes), device-hours, bytes and memory."""
    i = CLOCKS[clock]
    k_fits = int(getattr(r.config, "fit_seeds", 1))
    methods, fits_s, scored = {}, 0.0, r.control_images
    for m in r.methods:
        seeds = k_fits if m.learns and k_fits > 1 else 1
        to_fit = 0 if m.fit is None else seeds - len(m.fit.cached_seeds)
        fit_seed = m.fit.projected_s(i) if m.fit is not None and to_fit > 0 else 0.0
        gen_seed = r.n_cells / m.img_per_s(i)
        methods[m.label] = {"learns": m.learns, "fit_seeds": seeds, "fits_to_run": to_fit, "fit_s_per_seed": fit_seed,
                            "load_s": m.load_s[i], "img_per_s": m.img_per_s(i), "generate_s_per_seed": gen_seed,
                            "total_s": fit_seed * to_fit + seeds * (m.load_s[i] + gen_seed),
                            "images": r.n_cells * seeds, "image_bytes": m.bytes_per_image * r.n_cells * seeds,
                            "artifact_bytes": (m.fit.artifact_bytes if m.fit else 0) * to_fit}
        fits_s += fit_seed * to_fit
        scored += r.n_cells * seeds
    a, b = r.scoring.line(i)
    score_s = r.scoring.judges_load_s[i] + a + b * scored
    fixed = r.setup_s[i] + r.pipeline_load_s[i] + fits_s + score_s + r.scoring.report_s[i]
    shards = {}
    for n in processes:
        gen = sum(v["fit_seeds"] * (v["load_s"] + math.ceil(r.n_cells / n) / v["img_per_s"]) for v in methods.values())
        wall = fixed + gen
        shards[str(n)] = {"wall_s": wall, "device_hours": n * wall / 3600}
    images = sum(v["image_bytes"] for v in methods.values())
    disk = {"images": images, "artifacts": sum(v["artifact_bytes"] for v in methods.values()),
            "score_cache": r.scoring.cache_bytes_per_image * scored, "run_files": r.scoring.run_bytes_per_image * scored}
    disk["total"] = sum(disk.values())
    return {"clock": clock, "methods": methods, "setup_s": r.setup_s[i] + r.pipeline_load_s[i], "fits_s": fits_s,
            "scoring_s": score_s, "scoring_line": {"intercept_s": a, "s_per_image": b, "images": scored},
            "report_s": r.scoring.report_s[i],
            "processes": shards, "disk_bytes": disk, "peak_rss_bytes": r.peak_rss_bytes,
            "peak_device_bytes": r.peak_gpu_bytes, "sharding_note": "" if k_fits == 1 else
            f"--fit-seeds {k_fits} cannot be sharded yet: only the 1-process row applies"}


def _t(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{s:.1f} s" if s < 120 else (f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.2f} h")


def _b(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def render(r: PilotResult, p: dict[str, Any], cpu: dict[str, Any] | None = None) -> str:
    cfg = r.config
    hours = "GPU-hours" if r.device.startswith("cuda") else "CPU-hours"
    lines = [f"emobench pilot on {r.device}: {r.pilot_cells} cells per method measured; nothing was written",
             f"projection for {len(r.methods)} method(s) × {r.n_cells} cells (n_per_emotion {cfg.n_per_emotion}, "
             f"{len(cfg.emotions)} emotions), fit seeds {cfg.fit_seeds}, batch {cfg.batch_size}, "
             f"images as {cfg.image_format}", "",
             f"{'method':<32} {'fit/seed':>10} {'img/s':>8} {'gen/seed':>10} {'seeds':>5} {'total':>10}"]
    for label, v in p["methods"].items():
        fit = _t(v["fit_s_per_seed"]) if v["fits_to_run"] else ("cached" if v["learns"] else "-")
        lines.append(f"{label[:32]:<32} {fit:>10} {v['img_per_s']:>8.2f} {_t(v['generate_s_per_seed']):>10} "
                     f"{v['fit_seeds']:>5} {_t(v['total_s']):>10}")
    line = p["scoring_line"]
    lines += ["", f"setup {_t(p['setup_s'])}; fits {_t(p['fits_s'])}; scoring {_t(p['scoring_s'])} "
                  f"({line['images']} images at {line['s_per_image'] * 1000:.0f} ms + {_t(line['intercept_s'])}); "
                  f"report {_t(p['report_s'])}", "",
              f"{'processes':>9} {'wall':>10} {hours:>10}"]
    for n, v in p["processes"].items():
        lines.append(f"{n:>9} {_t(v['wall_s']):>10} {v['device_hours']:>10.2f}")
    if p["sharding_note"]:
        lines.append(p["sharding_note"])
    if cpu is not None:
        lines.append(f"CPU time of one process (hardly moved by other processes' load): "
                     f"{_t(cpu['processes']['1']['wall_s'])}")
    d = p["disk_bytes"]
    lines += ["", f"disk: {_b(d['total'])} (images {_b(d['images'])}, fitted artifacts {_b(d['artifacts'])}, "
                  f"score cache {_b(d['score_cache'])}, run files {_b(d['run_files'])})",
              f"peak memory: {_b(p['peak_rss_bytes'])} RSS" + (f", {_b(p['peak_device_bytes'])} on the device"
                                                              if p["peak_device_bytes"] else "")]
    return "\n".join(lines)
