"""The runner: resolve a ``RunConfig`` against the installed plugins and a zoo, generate every cell of the
plan with every method into the content-addressed store, then hand the run directory to scoring.

Everything that can be wrong with the user's input is checked before the first file is written. A method
that raises, or returns images of the wrong count, shape or range, is recorded as failed (with the reason)
in ``methods.json``; the other methods go on. Resuming regenerates only images not already stored.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench import artifacts, registry
from emobench import shard as sharding
from emobench.api import Cell, ImageRecord, Method, check_output, config_to_dict
from emobench.config import RunConfig, default_out
from emobench.envinfo import environment
from emobench.errors import EmobenchError, PluginError
from emobench.plan import Plan
from emobench.rundir import write_json
from emobench.scoring import score_run
from emobench.store import ImageStore, image_key
from emobench.zoo.load import load_zoo


# ------------------------------------------------------------------------------------ resolution
@dataclass
class MethodSpec:
    label: str
    plugin: str
    method: Method | None
    error: str | None = None   # the plugin failed to import: recorded as a failed method, the others run


def resolve_methods(specs: Sequence[str]) -> list[MethodSpec]:
    reg = registry.methods()
    # the default list leaves out controls (Method.control): they run only when named
    specs = list(specs) or [n for n in reg.available() if not getattr(reg.get(n), "control", False)]
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


def servable_metrics(parsed: list[tuple[str, Any]], zoo, explicit: bool) -> list[str]:
    """Named metrics must be servable by the zoo (else an error); defaulted ones the zoo cannot serve are skipped."""
    out: list[str] = []
    for label, metric in parsed:
        if explicit:
            zoo.require(*metric.requires)
        else:
            missing = [p for p in metric.requires if not zoo.has(p)]
            if missing:
                print(f"emobench: skipping metric {label!r}: zoo {zoo.name!r} has no {', '.join(missing)}",
                      file=sys.stderr)
                continue
        out.append(label)
    return sorted(dict.fromkeys(out))


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
    resolved.metrics = tuple(servable_metrics(parsed, zoo, explicit=bool(cfg.metrics)))
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
    trained_against: list[str] = field(default_factory=list)   # Method.trained_against (the report greys those judges)
    control: bool = False                                       # Method.control (the report shows it apart)


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


def _reason(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{where}"


# ----------------------------------------------------------------------------------- generation
def image_keys(ms: MethodSpec, zoo, cells: Sequence[Cell], artifact_key: str | None) -> dict[Cell, str]:
    """The content address of each cell's image with this method (``{}`` for a method that did not load)."""
    if ms.method is None:
        return {}
    return {c: image_key(ms.plugin, ms.method.config, zoo.weights_hash, c, artifact_key) for c in cells}


def run_method(ms: MethodSpec, zoo, plan: Plan, store: ImageStore, cfg: RunConfig,
               progress: bool = True, cells: Sequence[Cell] | None = None) -> tuple[MethodOutcome, list[ImageRecord]]:
    """Generate ``cells`` (default: the whole plan; a shard passes its own subset) with one method."""
    cells = list(plan.cells if cells is None else cells)
    records: dict[Cell, ImageRecord] = {}
    if ms.method is None:
        print(f"emobench: method {ms.label!r} failed: {ms.error}", file=sys.stderr)
        return MethodOutcome(ms.label, ms.plugin, status="failed", reason=ms.error), []
    outcome = MethodOutcome(ms.label, ms.plugin, config=config_to_dict(ms.method.config),
                            trained_against=list(getattr(ms.method, "trained_against", ())),
                            control=bool(getattr(ms.method, "control", False)))
    start = time.perf_counter()
    try:
        artifact = None
        if type(ms.method).learns:
            artifact = artifacts.ensure(ms.plugin, ms.method, zoo, cfg.emotions, refit=cfg.refit,
                                        progress=progress)
            outcome.artifact_key, outcome.artifact_source = artifact.key, artifact.source
        keys = image_keys(ms, zoo, cells, outcome.artifact_key)
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
                    images = check_output(result, len(requests), size)
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
        write_json(run_dir / "zoo.json", zoo.facts())
        write_json(run_dir / "plan.json", plan.to_json())
    store = ImageStore(run_dir)
    outcomes: list[MethodOutcome] = []
    records: list[ImageRecord] = []
    keys: dict[str, dict[Cell, str]] = {}   # label → every plan cell's image key (the shard merge looks them up)
    for ms in methods:
        before = zoo.pipeline_fingerprint()
        if shard.active:  # rank 0 fits a learning method first; the other ranks then find it in the cache
            sharding.prefit(shard, ms, zoo, cfg, progress)
        outcome, recs = run_method(ms, zoo, plan, store, sharding.generation_config(cfg, shard), progress,
                                   cells=shard.select(plan.cells))
        keys[ms.label] = image_keys(ms, zoo, plan.cells, outcome.artifact_key)
        if zoo.pipeline_fingerprint() != before:
            # keep later methods independent of this one: give them a freshly loaded zoo
            outcome.warning = "modified the shared zoo pipeline (plugin bug); the zoo was reloaded for the others"
            print(f"emobench: method {ms.label!r} {outcome.warning}", file=sys.stderr)
            zoo = load_zoo(cfg.zoo)
        outcomes.append(outcome)
        if outcome.status == "ok":
            records.extend(recs)
        write_json(run_dir / "methods.json", {o.label: _outcome_json(o) for o in outcomes})
    if shard.active:  # every rank reports; rank 0 merges and builds the manifest from the store
        merged = sharding.finish(shard, run_dir, outcomes, store, keys)
        if merged is None:
            return RunResult(run_dir, cfg, outcomes, records)
        outcomes, records = merged
        write_json(run_dir / "methods.json", {o.label: _outcome_json(o) for o in outcomes})
    store.write_manifest(records)
    result = RunResult(run_dir, cfg, outcomes, records)
    if score and records and cfg.metrics:
        score_run(run_dir, zoo, list(cfg.metrics), baseline=cfg.baseline)
        result.scored = True
    return result


def _outcome_json(o: MethodOutcome) -> dict[str, Any]:
    d = dataclasses.asdict(o)
    d.pop("label")
    return d
