"""The runner: resolve a ``RunConfig`` against the installed plugins and a zoo, generate every cell of the
plan with every method into the content-addressed store, then hand the run directory to scoring.

Everything that can be wrong with the user's input is checked before the first file is written. A method
that raises, or returns images of the wrong count, shape or range, is recorded as failed (with the reason)
in ``methods.json``; the other methods go on. Resuming regenerates only images not already stored.
"""
from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench import artifacts, registry
from emobench import shard as sharding
from emobench.api import Cell, GenerationRequest, GenerationResult, ImageRecord, Method, config_to_dict
from emobench.config import RunConfig, default_out
from emobench.envinfo import environment
from emobench.errors import EmobenchError, PluginError
from emobench.plan import Plan
from emobench.store import ImageStore, image_key, write_json


# --------------------------------------------------------------------------------------------- zoo
def load_zoo(spec: str):
    """The zoo named by ``--zoo`` (mini / zoo folder / diffusers SD folder / paper TOML)."""
    from emobench.zoo.load import load_zoo as _load

    return _load(spec)


def zoo_facts(zoo) -> dict[str, Any]:
    return {"name": zoo.name, "scale": zoo.scale, "sampling": dataclasses.asdict(zoo.sampling),
            "hashes": dict(sorted(zoo.hashes.items())), "weights_hash": zoo.weights_hash,
            "judges_hash": zoo.judges_hash, "latent_shape": list(zoo.latent_shape())}


# ------------------------------------------------------------------------------------ resolution
@dataclass
class MethodSpec:
    label: str
    plugin: str
    method: Method | None
    error: str | None = None   # the plugin failed to import: recorded as a failed method, the others run


def resolve_methods(specs: Sequence[str]) -> list[MethodSpec]:
    reg = registry.methods()
    specs = list(specs) or reg.available()
    if not specs:
        raise EmobenchError("no method plugins are installed", "reinstall emobench (bash scripts/setup.sh)")
    out: dict[str, MethodSpec] = {}
    for spec in specs:
        name, options = registry.parse_spec(spec)
        try:
            label, method = reg.create(spec)
        except PluginError as err:
            if name not in reg.broken():
                raise
            out[spec] = MethodSpec(spec, name, None, err.problem)
            continue
        out[label] = MethodSpec(label, name, method)
    return [out[k] for k in sorted(out)]  # sorted: the order methods run in never matters


def parse_metrics(specs: Sequence[str]) -> list[tuple[str, Any]]:
    """(label, metric) for the named metrics, or every installed one; needs no zoo, so it runs first."""
    reg = registry.metrics()
    return [reg.create(spec) for spec in (list(specs) or reg.available())]


def resolve_metrics(parsed: list[tuple[str, Any]], zoo, explicit: bool) -> list[str]:
    """Named metrics must be servable by the zoo (else an error); defaulted ones the zoo cannot serve are skipped."""
    out: list[str] = []
    for label, metric in parsed:
        if explicit:
            zoo.require(*metric.requires)
        else:
            missing = [p for p in metric.requires if _missing(zoo, p)]
            if missing:
                print(f"emobench: skipping metric {label!r}: zoo {zoo.name!r} has no {', '.join(missing)}",
                      file=sys.stderr)
                continue
        out.append(label)
    return sorted(dict.fromkeys(out))


def _missing(zoo, part: str) -> bool:
    obj = zoo
    for attr in part.split("."):
        obj = getattr(obj, attr, None)
    return obj is None


def resolve(cfg: RunConfig, zoo=None, resume: Path | None = None) -> tuple[RunConfig, list[MethodSpec], Any, Path]:
    """Check every name, option and the run folder before anything is written; load the zoo if not given.

    With explicit metrics the resolved config (and so a resume's hash check) needs no zoo, so a mismatched
    ``--resume`` fails before the models load."""
    methods = resolve_methods(cfg.methods)
    labels = [m.label for m in methods]
    parsed = parse_metrics(cfg.metrics)
    baseline = cfg.baseline
    if baseline is None and "sd" in labels:
        baseline = "sd"
    if baseline is not None and baseline not in labels:
        raise EmobenchError(f"baseline {baseline!r} is not among the run's methods ({', '.join(labels)})",
                            "add it to --methods or pick one of them with --baseline")
    resolved = dataclasses.replace(cfg, methods=tuple(labels), baseline=baseline, zoo=_zoo_spec(cfg.zoo))
    run_dir = None
    if cfg.metrics:
        resolved.metrics = tuple(sorted(dict.fromkeys(label for label, _ in parsed)))
        run_dir = prepare_run_dir(resolved, resume)
    zoo = zoo if zoo is not None else load_zoo(cfg.zoo)
    resolved.metrics = tuple(resolve_metrics(parsed, zoo, explicit=bool(cfg.metrics)))
    if run_dir is None:
        run_dir = prepare_run_dir(resolved, resume)
    return resolved, methods, zoo, run_dir


def _zoo_spec(spec: str) -> str:
    p = Path(spec)
    return str(p.resolve()) if p.exists() else spec


def prepare_run_dir(cfg: RunConfig, resume: Path | None) -> Path:
    """Choose the run folder and check it may be written; touches nothing."""
    if resume is not None:
        stored = resume / "config.json"
        if not stored.is_file():
            raise EmobenchError(f"{str(resume)!r} is not an emobench run (no config.json)",
                                "pass a run directory written by `emobench run` to --resume")
        import json

        old = json.loads(stored.read_text()).get("config_hash")
        if old != cfg.config_hash:
            raise EmobenchError(f"the config differs from the one of {str(resume)!r} (hash {cfg.config_hash} vs {old})",
                                "resume with the same settings (or just --resume RUN_DIR), or start a new run with --out")
        return resume
    out = Path(cfg.out) if cfg.out else default_out(cfg)
    if (out / "config.json").is_file():
        return prepare_run_dir(cfg, out)  # same config: continue it; different: the error above
    if out.exists() and any(out.iterdir()):
        raise EmobenchError(f"--out {str(out)!r} exists and is not an emobench run directory",
                            "choose a new or empty folder for --out")
    return out


# --------------------------------------------------------------------------------------- outcomes
@dataclass
class MethodOutcome:
    label: str
    plugin: str
    status: str = "ok"                    # ok | failed
    reason: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    artifact_key: str | None = None
    artifact_source: str | None = None
    wall_s: float = 0.0
    n_images: int = 0
    n_generated: int = 0
    warning: str | None = None


@dataclass
class RunResult:
    run_dir: Path
    config: RunConfig
    outcomes: list[MethodOutcome]
    records: list[ImageRecord]
    scored: bool = False

    @property
    def failed(self) -> list[MethodOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


class BadOutput(Exception):
    """A method returned something that is not ``len(requests)`` valid images."""


def check_output(result: Any, requests: Sequence[GenerationRequest], size: tuple[int, int]) -> torch.Tensor:
    if not isinstance(result, GenerationResult):
        raise BadOutput(f"generate() returned {type(result).__name__}, not GenerationResult")
    imgs, n = result.images, len(requests)
    if not isinstance(imgs, torch.Tensor):
        raise BadOutput(f"images is {type(imgs).__name__}, not a tensor")
    if imgs.ndim != 4 or imgs.shape[0] != n or imgs.shape[1] != 3 or tuple(imgs.shape[2:]) != size:
        raise BadOutput(f"images have shape {tuple(imgs.shape)}, expected ({n}, 3, {size[0]}, {size[1]})")
    if not imgs.is_floating_point():
        raise BadOutput(f"images have dtype {imgs.dtype}, expected float in [0, 1]")
    imgs = imgs.detach().float().cpu()
    if not torch.isfinite(imgs).all():
        raise BadOutput("images contain NaN or inf")
    lo, hi = imgs.min().item(), imgs.max().item()
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise BadOutput(f"image values span [{lo:.3g}, {hi:.3g}], expected [0, 1]")
    if len(result.prompts) != n:
        raise BadOutput(f"{len(result.prompts)} prompts returned for {n} images")
    return imgs.clamp(0, 1)


def _reason(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{where}"


# ----------------------------------------------------------------------------------- generation
def run_method(ms: MethodSpec, zoo, plan: Plan, store: ImageStore, cfg: RunConfig,
               progress: bool = True, cells: Sequence[Cell] | None = None) -> tuple[MethodOutcome, list[ImageRecord]]:
    """Generate ``cells`` (default: the whole plan; a shard passes its own subset) with one method."""
    cells = list(plan.cells if cells is None else cells)
    records: dict[Cell, ImageRecord] = {}
    if ms.method is None:
        print(f"emobench: method {ms.label!r} failed: {ms.error}", file=sys.stderr)
        return MethodOutcome(ms.label, ms.plugin, status="failed", reason=ms.error), []
    outcome = MethodOutcome(ms.label, ms.plugin, config=config_to_dict(ms.method.config))
    start = time.perf_counter()
    try:
        artifact = None
        if type(ms.method).learns:
            artifact = artifacts.ensure(ms.plugin, ms.method, zoo, cfg.emotions, refit=cfg.refit,
                                        progress=progress)
            outcome.artifact_key, outcome.artifact_source = artifact.key, artifact.source
        keys = {c: image_key(ms.plugin, ms.method.config, zoo.weights_hash, c, outcome.artifact_key) for c in cells}
        for cell, key in keys.items():
            rec = store.lookup(key)
            if rec is not None:
                records[cell] = dataclasses.replace(rec, method=ms.label)
        todo = [c for c in cells if c not in records]
        if todo:
            ms.method.load(zoo, artifact.path if artifact else None)
            size = (zoo.sampling.height, zoo.sampling.width)
            bar = _bar(ms.label, len(cells), len(records), progress)
            try:
                for batch in plan.batches(todo, cfg.batch_size):
                    requests = plan.requests(batch)
                    with torch.inference_mode():
                        result = ms.method.generate(requests)
                    images = check_output(result, requests, size)
                    extras = list(result.extras) + [{}] * (len(batch) - len(result.extras))
                    for i, cell in enumerate(batch):
                        records[cell] = store.put(keys[cell], images[i], method=ms.label, cell=cell,
                                                  prompt=str(result.prompts[i]), extras=extras[i] or None)
                    outcome.n_generated += len(batch)
                    bar.update(len(batch))
            finally:
                bar.close()
    except EmobenchError as err:
        outcome.status, outcome.reason = "failed", str(err)
    except Exception as err:  # noqa: BLE001 — a plugin's failure is its own; the other methods go on
        outcome.status, outcome.reason = "failed", _reason(err)
    outcome.wall_s = round(time.perf_counter() - start, 3)
    outcome.n_images = len(records)
    if outcome.status != "ok":
        print(f"emobench: method {ms.label!r} failed: {outcome.reason}", file=sys.stderr)
    return outcome, list(records.values())


def pipeline_fingerprint(pipe) -> int:
    """Cheap identity of the shared pipeline's state: parameters (storage, in-place version counter, shape),
    train/eval mode, attention processors, tokenizer size and scheduler. A method that changes any of them
    (a LoRA left loaded, a token added, weights edited in place) would make later methods' images depend on
    the order methods run in."""
    parts: list[Any] = []
    for name in ("unet", "vae", "text_encoder"):
        module = getattr(pipe, name, None)
        if module is None:
            continue
        parts.append((name, type(module).__name__, module.training,
                      tuple((n, p.data_ptr(), p._version, tuple(p.shape), str(p.dtype), str(p.device))
                            for n, p in module.named_parameters())))
    unet = getattr(pipe, "unet", None)
    if unet is not None and hasattr(unet, "attn_processors"):
        parts.append(tuple(sorted((k, type(v).__name__) for k, v in unet.attn_processors.items())))
    tok = getattr(pipe, "tokenizer", None)
    parts.append(len(tok) if tok is not None else None)
    sched = getattr(pipe, "scheduler", None)
    parts.append((id(sched), type(sched).__name__, json_dumps(dict(getattr(sched, "config", {}) or {}))))
    return hash(tuple(parts))


def json_dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


def _bar(label: str, total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=label, unit="img", disable=not enabled, leave=True)


def execute(cfg: RunConfig, *, resume: Path | None = None, zoo=None, score: bool = True,
            progress: bool = True) -> RunResult:
    """Run ``cfg`` (resolved here) into its run directory; returns what happened per method."""
    shard = sharding.init(cfg, resume)
    with shard.main_first("the run folder"):  # rank 0 creates the run folder; the others join it
        cfg, methods, zoo, run_dir = resolve(cfg, zoo, resume)
        plan = Plan.from_config(cfg, zoo.latent_shape())
        # from here on files are written; everything above only checked
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", {**cfg.hashed(), "config_hash": cfg.config_hash})
        write_json(run_dir / "env.json", environment(zoo.device))
        write_json(run_dir / "zoo.json", zoo_facts(zoo))
        write_json(run_dir / "plan.json", plan.to_json())
    store = ImageStore(run_dir)
    outcomes: list[MethodOutcome] = []
    records: list[ImageRecord] = []
    for ms in methods:
        before = pipeline_fingerprint(zoo.pipeline)
        if shard.active:  # rank 0 fits a learning method first; the other ranks then find it in the cache
            sharding.prefit(shard, ms, zoo, cfg, progress)
        outcome, recs = run_method(ms, zoo, plan, store, sharding.generation_config(cfg, shard), progress,
                                   cells=shard.select(plan.cells, plan.cells))
        if pipeline_fingerprint(zoo.pipeline) != before:
            # keep later methods independent of this one: give them a freshly loaded zoo
            outcome.warning = "modified the shared zoo pipeline (plugin bug); the zoo was reloaded for the others"
            print(f"emobench: method {ms.label!r} {outcome.warning}", file=sys.stderr)
            zoo = load_zoo(cfg.zoo)
        outcomes.append(outcome)
        if outcome.status == "ok":
            records.extend(recs)
        write_json(run_dir / "methods.json", {o.label: _outcome_json(o) for o in outcomes})
    if shard.active:  # every rank reports; rank 0 merges and builds the manifest from the store
        merged = sharding.finish(shard, run_dir, plan, methods, outcomes, zoo, store)
        if merged is None:
            return RunResult(run_dir, cfg, outcomes, records)
        outcomes, records = merged
        write_json(run_dir / "methods.json", {o.label: _outcome_json(o) for o in outcomes})
    store.write_manifest(records)
    result = RunResult(run_dir, cfg, outcomes, records)
    if score and records and cfg.metrics:
        result.scored = score_run(run_dir, zoo, list(cfg.metrics), cfg.baseline)
    return result


def _outcome_json(o: MethodOutcome) -> dict[str, Any]:
    d = dataclasses.asdict(o)
    d.pop("label")
    return d


def score_run(run_dir: Path, zoo, metric_names: list[str], baseline: str | None) -> bool:
    try:
        from emobench.scoring import score_run as _score
    except ModuleNotFoundError as err:
        if err.name != "emobench.scoring":
            raise
        print("emobench: scoring is not available in this checkout yet (no emobench.scoring); images are stored",
              file=sys.stderr)
        return False
    _score(run_dir, zoo, metric_names, baseline=baseline)
    return True


def emo_a_table(run_dir: Path, metric: str = "emo-a", methods: Sequence[str] = ()) -> str | None:
    """Emo-A per emotion (rows) × method (columns) from ``summary.csv``, as text; None if not scored."""
    path = run_dir / "summary.csv"
    if not path.is_file():
        return None
    import pandas as pd

    df = pd.read_csv(path)
    df = df[df["metric"] == metric]
    if df.empty:
        return None
    table = df.pivot_table(index="emotion", columns="method", values="value", aggfunc="first")
    order = [e for e in (*[e for e in df["emotion"].unique() if e != "all"], "all") if e in table.index]
    cols = [m for m in methods if m in table.columns] + [c for c in table.columns if c not in methods]
    return table.loc[order, cols].to_string(float_format=lambda v: f"{v:.3f}")
