"""The runner: resolve a ``RunConfig`` against the installed plugins and a zoo, generate every cell of the
plan with every method into the content-addressed store, then hand the run directory to scoring.

Everything that can be wrong with the user's input is checked before the first file is written. A method
that raises, or returns images of the wrong count, shape or range, is recorded as failed (with the reason)
in ``methods.json``; the other methods go on. Resuming regenerates only images not already stored.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench import registry
from emobench.run import artifacts
from emobench.spec import tracks
from emobench.run import shard as sharding
from emobench.sampling import collect_truncations
from emobench.api import Cell, ImageRecord, Method, check_output, config_to_dict
from emobench.spec.config import RunConfig, default_out
from emobench.errors import EmobenchError, PluginError
from emobench.io.lock import run_lock
from emobench.spec.plan import Plan
from emobench.rundir.layout import LOGS
from emobench.io.files import atomic_write_text, write_json
from emobench.run.setup import never_started, write_setup
from emobench.scoring import score_run
from emobench.run.store import ImageStore, image_key
from emobench.run.writer import BackgroundWriter
from emobench.io.images import to_hwc_uint8
from emobench.io.sweep import sweep
from emobench.zoo.load import load_zoo, zoo_scale


# ------------------------------------------------------------------------------------ resolution
@dataclass
class MethodSpec:
    label: str
    plugin: str
    method: Method | None
    error: str | None = None   # the plugin failed to import: recorded as a failed method, the others run
    position: int = 0          # place in the configured method list: the order of the report's tables
    display_name: str = ""     # what reports print (``display_label``)


def display_label(label: str, plugin_display: str | None) -> str:
    """``"emogen:mapper=fc"`` with display name ``EmoGen`` → ``"EmoGen (mapper=fc)"``; no display name: the label."""
    _, _, options = label.partition(":")
    if not plugin_display:
        return label
    return f"{plugin_display} ({options.replace(':', ', ')})" if options else plugin_display


def resolve_methods(specs: Sequence[str], scale: str | None = None) -> list[MethodSpec]:
    reg = registry.methods()
    # the default list leaves out controls (Method.control): they run only when named
    specs = list(specs) or [n for n in reg.available() if not getattr(reg.get(n), "control", False)]
    if not specs:
        raise EmobenchError("no method plugins are installed", "reinstall emobench (bash scripts/setup.sh)")
    out: dict[str, MethodSpec] = {}
    for position, spec in enumerate(specs):
        name, options = registry.parse_spec(spec)
        try:
            label, method = reg.create(spec, scale)   # the zoo scale's defaults (paper budgets) fill unset options
        except PluginError as err:
            if name not in reg.broken():
                raise
            out[spec] = MethodSpec(spec, name, None, err.problem, position, spec)
            continue
        out[label] = MethodSpec(label, name, method, None, out[label].position if label in out else position,
                                display_label(label, getattr(type(method), "display_name", None)))
    return [out[k] for k in sorted(out)]  # sorted: the order methods run in never matters


def keep_positions(methods: list[MethodSpec], run_dir: Path) -> list[MethodSpec]:
    """A resume keeps the method order the run was started with (methods.json ``position``): the stored
    config lists methods sorted, because their order changes no result, only the order of the report's rows."""
    try:
        stored = json.loads((run_dir / "methods.json").read_text())
    except (OSError, ValueError):
        return methods
    pos = {label: info.get("position") for label, info in stored.items() if isinstance(info, dict)}
    return [dataclasses.replace(m, position=pos[m.label]) if isinstance(pos.get(m.label), int) else m
            for m in methods]


def parse_metrics(specs: Sequence[str]) -> list[tuple[str, Any]]:
    """(label, metric) for the named metrics, or every installed one; needs no zoo, so it runs first."""
    reg = registry.metrics()
    return [reg.create(spec) for spec in (list(specs) or reg.available())]


def servable_metrics(parsed: list[tuple[str, Any]], zoo, explicit: bool, track: str = "emotion") -> list[str]:
    """Named metrics must be servable by the zoo and the track (else an error); defaulted ones that cannot
    be served are skipped (content metrics on a track without content, silently: they do not apply)."""
    out: list[str] = []
    has_content = tracks.get_track(track).uses_content
    for label, metric in parsed:
        if getattr(metric, "needs_content", False) and not has_content:
            if explicit:
                raise EmobenchError(f"metric {label!r} scores content, and track {track!r} has none",
                                    "pass --track content, or drop the metric")
            continue
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
    methods = resolve_methods(cfg.methods, zoo_scale(cfg.zoo))
    labels = [m.label for m in methods]
    parsed = parse_metrics(cfg.metrics)
    baseline = cfg.baseline
    if baseline is None:   # the first configured method whose plugin declares itself the plain baseline
        baseline = next((m.label for m in methods if m.method is not None and type(m.method).is_baseline), None)
    if baseline is not None and baseline not in labels:
        raise EmobenchError(f"baseline {baseline!r} is not among the run's methods ({', '.join(labels)})",
                            "add it to --methods or pick one of them with --baseline")
    resolved = dataclasses.replace(cfg, methods=tuple(labels), baseline=baseline, zoo=_zoo_spec(cfg.zoo))
    run_dir = None
    if cfg.metrics:
        resolved.metrics = tuple(sorted(dict.fromkeys(label for label, _ in parsed)))
        run_dir = prepare_run_dir(resolved, resume)
    zoo = zoo if zoo is not None else load_zoo(cfg.zoo, lazy=True)   # generator loaded only if a method generates
    resolved.metrics = tuple(servable_metrics(parsed, zoo, explicit=bool(cfg.metrics), track=cfg.track))
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
    if out.exists() and not out.is_dir():
        raise EmobenchError(f"--out {str(out)!r} is a file, not a folder", "choose a new or empty folder for --out")
    if never_started(out):
        return out  # only the setup files of a run that stopped before its first image: start it afresh
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
    position: int | None = None           # place in the configured list (report order); None: unknown
    display_name: str | None = None
    fits: list[dict[str, Any]] | None = None   # one entry per fit when the run fits a method more than once
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


def write_failure_log(run_dir: Path, label: str, err: BaseException) -> Path | None:
    """``RUN/logs/<method>.log``: the failure's full traceback, for a bug report (the one-line reason points here)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_.:=+," else "_" for ch in label)
    path = Path(run_dir) / LOGS / f"{safe}.log"
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        atomic_write_text(path, f"emobench: method {label!r} failed\n{text}")
    except OSError:
        return None   # a full disk must not hide the method's own error
    return path


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
    records: dict[tuple[Cell, int | None], ImageRecord] = {}
    if ms.method is None:
        print(f"emobench: method {ms.label!r} failed: {ms.error}", file=sys.stderr)
        return MethodOutcome(ms.label, ms.plugin, status="failed", reason=ms.error, position=ms.position,
                             display_name=ms.display_name), []
    outcome = MethodOutcome(ms.label, ms.plugin, config=config_to_dict(ms.method.config), position=ms.position,
                            display_name=ms.display_name,
                            trained_against=list(getattr(ms.method, "trained_against", ())),
                            control=bool(getattr(ms.method, "control", False)))
    start = time.perf_counter()
    # A learning method is fitted cfg.fit_seeds times (fit seeds 0..K-1); every fit generates every cell.
    # With one fit the records carry no fit_seed, so a one-fit manifest (and every image key) is as before.
    learns = type(ms.method).learns
    fits: list[int | None] = list(range(cfg.fit_seeds)) if learns and cfg.fit_seeds > 1 else [None]
    try:
        for fit in fits:
            _generate_fit(ms, zoo, plan, store, cfg, progress, cells, fit, outcome, records)
    except EmobenchError as err:
        outcome.status, outcome.reason = "failed", str(err)
        log = write_failure_log(store.run_dir, ms.label, err)
    except Exception as err:  # noqa: BLE001 — a plugin's failure is its own; the other methods go on
        outcome.status, outcome.reason = "failed", _reason(err)
        log = write_failure_log(store.run_dir, ms.label, err)
    outcome.wall_s = round(time.perf_counter() - start, 3)
    outcome.n_images = len(records)
    if outcome.status != "ok":
        where = f"; full traceback in {log}" if log else ""
        print(f"emobench: method {ms.label!r} failed: {outcome.reason}{where}", file=sys.stderr)
    return outcome, list(records.values())


def _generate_fit(ms: MethodSpec, zoo, plan: Plan, store: ImageStore, cfg: RunConfig, progress: bool,
                  cells: Sequence[Cell], fit: int | None, outcome: MethodOutcome,
                  records: dict[tuple[Cell, int | None], ImageRecord]) -> None:
    """Generate ``cells`` with one fit of ``ms`` (``fit`` None: the method's only fit, or it does not learn)."""
    artifact = None
    if type(ms.method).learns:
        artifact = artifacts.ensure(ms.plugin, ms.method, zoo, cfg.emotions, refit=cfg.refit, progress=progress,
                                    seed=artifacts.FIT_SEED if fit is None else fit)
        if fit is not None:
            outcome.fits = (outcome.fits or []) + [{"fit_seed": fit, "artifact_key": artifact.key,
                                                    "artifact_source": artifact.source}]
        if fit is None or fit == 0:
            outcome.artifact_key, outcome.artifact_source = artifact.key, artifact.source
    keys = image_keys(ms, zoo, cells, artifact.key if artifact else None)
    for cell, key in keys.items():
        rec = store.lookup(key)
        if rec is not None:
            records[(cell, fit)] = dataclasses.replace(rec, method=ms.label, fit_seed=fit)
    todo = [c for c in cells if (c, fit) not in records]
    if not todo:
        return
    ms.method.load(zoo, artifact.path if artifact else None)
    size = (zoo.sampling.height, zoo.sampling.width)
    label = ms.label if fit is None else f"{ms.label} (fit {fit})"
    bar = _bar(label, len(cells), len(cells) - len(todo), progress)
    writer = BackgroundWriter(store)   # encoding, hashing and writing run beside the sampler, never inside it
    with collect_truncations() as cut:   # cut prompts: one warning for the method, not per call
        try:
            for batch in plan.batches(todo, cfg.batch_size):
                requests = plan.requests(batch)
                with torch.inference_mode():
                    result = ms.method.generate(requests)
                pixels = to_hwc_uint8(check_output(result, len(requests), size))   # one copy to the host
                extras = list(result.extras) + [{}] * (len(batch) - len(result.extras))
                for i, cell in enumerate(batch):
                    writer.submit((cell, fit), keys[cell], pixels[i], method=ms.label, cell=cell,
                                  prompt=str(result.prompts[i]), extras=extras[i] or None, fit_seed=fit)
                outcome.n_generated += len(batch)
                bar.update(len(batch))
        finally:
            bar.close()
            written, error = writer.close()   # every image generated so far is stored, even after an error
            records.update(written)
    if error is not None:
        raise error
    if cut.cut:
        note = cut.message(ms.label)
        print(f"emobench: warning: {note}", file=sys.stderr)
        outcome.warning = "; ".join(w for w in (outcome.warning, note) if w)


def _bar(label: str, total: int, initial: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=label, unit="img", disable=not enabled, leave=True)


def execute(cfg: RunConfig, *, resume: Path | None = None, zoo=None, score: bool = True,
            progress: bool = True) -> RunResult:
    """Run ``cfg`` (resolved here) into its run directory; returns what happened per method."""
    shard = sharding.init(cfg, resume)
    with contextlib.ExitStack() as held:
        with shard.main_first("the run folder"):  # rank 0 creates the run folder; the others join it
            cfg, methods, zoo, run_dir = resolve(cfg, zoo, resume)
            if resume is not None:
                methods = keep_positions(methods, run_dir)
            if shard.active and cfg.fit_seeds > 1:
                raise EmobenchError(f"--fit-seeds {cfg.fit_seeds} cannot be sharded yet",
                                    "run it without --launcher, or with --fit-seeds 1")
            contents = tracks.resolve_contents(cfg, zoo)
            plan = Plan.from_config(cfg, zoo.latent_shape(), contents)
            # from here on files are written; everything above only checked
            if not shard.active:   # shards share one folder by design; a plain run holds the folder's lock
                held.enter_context(run_lock(run_dir))
            if shard.is_main:
                write_setup(run_dir, cfg, zoo, plan, contents)
                for folder in (run_dir, run_dir / "images"):
                    sweep(folder)   # temp files of killed processes (a live writer's are kept)
        return _execute(cfg, methods, zoo, run_dir, plan, shard, score, progress)


def _execute(cfg: RunConfig, methods: list[MethodSpec], zoo, run_dir: Path, plan: Plan, shard,
             score: bool, progress: bool) -> RunResult:
    store = ImageStore(run_dir, cfg.image_format)
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
        if before is None:   # the pipeline was loaded during this method: compare with its state at load time
            before = getattr(zoo, "loaded_fingerprint", None)
        if zoo.pipeline_fingerprint() != before:
            # keep later methods independent of this one: give them a freshly loaded zoo
            outcome.warning = "modified the shared zoo pipeline (plugin bug); the zoo was reloaded for the others"
            print(f"emobench: method {ms.label!r} {outcome.warning}", file=sys.stderr)
            zoo = load_zoo(cfg.zoo, lazy=True)
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
        score_run(run_dir, zoo, list(cfg.metrics), baseline=cfg.baseline, progress=progress)
        result.scored = True
    return result


def _outcome_json(o: MethodOutcome) -> dict[str, Any]:
    d = dataclasses.asdict(o)
    d.pop("label")
    if d["fits"] is None:   # one fit: methods.json as before
        d.pop("fits")
    return d
