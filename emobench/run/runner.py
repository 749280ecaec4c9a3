"""The runner: resolve a ``RunConfig`` against the installed plugins and a zoo, generate every cell of the
plan with every method into the content-addressed store, then hand the run directory to scoring.

Everything that can be wrong with the user's input is checked before the first file is written. A method
that raises, or returns images of the wrong count, shape or range, is recorded as failed (with the reason)
in ``methods.json``; the other methods go on. Resuming regenerates only images not already stored.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench import registry
from emobench.run import artifacts, binding
from emobench.spec import tracks
from emobench.run import shard as sharding
from emobench.sampling import collect_truncations
from emobench.api import Cell, ImageRecord, check_output, config_to_dict
from emobench.run.methods import MethodSpec, check_plans, display_label, resolve_methods  # noqa: F401 (re-exported)
from emobench.spec.config import RunConfig
from emobench.errors import EmobenchError, Interrupted
from emobench.io.lock import run_lock
from emobench.spec.plan import Plan
from emobench.rundir.layout import LOGS
from emobench.io.files import atomic_write_text, write_json
from emobench.run.setup import keep_positions, never_started, prepare_run_dir, write_setup
from emobench.rundir.identity import is_run
from emobench.scoring import score_run
from emobench.run.store import ImageStore, image_key
from emobench.run.writer import BackgroundWriter
from emobench.io.images import to_hwc_uint8
from emobench.io.sweep import sweep
from emobench.zoo.base import state_changes
from emobench.zoo.load import load_zoo, zoo_scale


# ------------------------------------------------------------------------------------ resolution
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
    resolved = dataclasses.replace(cfg, methods=tuple(m.spec or m.label for m in methods), baseline=baseline,
                                   zoo=_zoo_spec(cfg.zoo))
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
    uses_dataset_statistics: bool = False                       # Method.uses_dataset_statistics (a footnote)
    external: bool = False                                      # Method.external (the report notes the row)
    provenance: dict[str, Any] | None = None                    # Method.provenance(): where its images came from


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
    if getattr(ms.method, "uses_dataset_statistics", False) and getattr(zoo, "dataset", None) is not None:
        artifact_key = f"{artifact_key or ''}|dataset:{zoo.dataset.content_hash}"   # its images depend on the data
    if getattr(ms.method, "external", False):   # a submission's images are bound to its files, not just its path
        artifact_key = f"{artifact_key or ''}|source:{(ms.method.provenance() or {}).get('digest')}"
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
                            control=bool(getattr(ms.method, "control", False)),
                            uses_dataset_statistics=bool(getattr(ms.method, "uses_dataset_statistics", False)),
                            external=bool(getattr(ms.method, "external", False)), provenance=ms.method.provenance())
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


def check(cfg: RunConfig, *, resume: Path | None = None, score: bool = True, rescore_judges: bool = False,
          sharded: bool = False) -> None:
    """Everything ``execute`` checks before its first write, writing nothing: what ``--launcher`` runs once
    before it starts the processes (each of which would otherwise fail alike)."""
    if sharded and not cfg.out and resume is None:
        raise EmobenchError("a sharded run needs an explicit run directory (each process would otherwise pick its "
                            "own timestamped folder)", "pass --out RUN_DIR (or --resume RUN_DIR)")
    if sharded and cfg.fit_seeds > 1:
        raise EmobenchError(f"--fit-seeds {cfg.fit_seeds} cannot be sharded yet",
                            "run it without --launcher, or with --fit-seeds 1")
    cfg, methods, zoo, run_dir = resolve(cfg, None, resume)
    binding.check_started(run_dir, zoo, started=is_run(run_dir) and not never_started(run_dir),
                          score=score and bool(cfg.metrics), rescore=rescore_judges)
    contents = tracks.resolve_contents(cfg, zoo)
    check_plans(methods, Plan.from_config(cfg, zoo.latent_shape(), contents), cfg, zoo, contents)


def execute(cfg: RunConfig, *, resume: Path | None = None, zoo=None, score: bool = True,
            progress: bool = True, rescore_judges: bool = False) -> RunResult:
    """Run ``cfg`` (resolved here) into its run directory; returns what happened per method.
    ``rescore_judges``: a started run whose judges changed is re-scored with the current ones (else refused)."""
    shard = sharding.init(cfg, resume)
    where: list[Path] = []   # the run folder once chosen: an interrupt names it (a timestamped --out is not guessable)
    try:
        return _run(cfg, resume, zoo, score, progress, rescore_judges, shard, where)
    except KeyboardInterrupt:
        if not where:
            raise
        raise Interrupted(f"everything already stored in {where[0]} is kept; resume with "
                          f"`emobench run --resume {where[0]}`") from None


def _run(cfg: RunConfig, resume: Path | None, zoo, score: bool, progress: bool, rescore_judges: bool, shard,
         where: list[Path]) -> RunResult:
    with contextlib.ExitStack() as held:
        with shard.main_first("the run folder"):  # rank 0 creates the run folder; the others join it
            cfg, methods, zoo, run_dir = resolve(cfg, zoo, resume)
            rebound = binding.check_started(run_dir, zoo, started=is_run(run_dir) and not never_started(run_dir),
                                            score=score and bool(cfg.metrics), rescore=rescore_judges)
            if shard.active and cfg.fit_seeds > 1:
                raise EmobenchError(f"--fit-seeds {cfg.fit_seeds} cannot be sharded yet",
                                    "run it without --launcher, or with --fit-seeds 1")
            contents = tracks.resolve_contents(cfg, zoo)
            plan = Plan.from_config(cfg, zoo.latent_shape(), contents)
            methods = check_plans(methods, plan, cfg, zoo, contents)
            # from here on files are written; everything above only checked
            if not shard.active:   # shards share one folder by design; a plain run holds the folder's lock
                held.enter_context(run_lock(run_dir))
            if shard.is_main:   # the --methods order is fixed here, before any method starts (a resume keeps it)
                order = [m.label for m in sorted(keep_positions(methods, run_dir), key=lambda m: m.position)]
                write_setup(run_dir, cfg, zoo, plan, contents, order=order)
                for folder in (run_dir, run_dir / "images"):
                    sweep(folder)   # temp files of killed processes (a live writer's are kept)
            methods = keep_positions(methods, run_dir)
        where.append(run_dir)   # from here on the folder holds the run
        result = _execute(cfg, methods, zoo, run_dir, plan, shard, score, progress)
    if result.scored:
        rebound.record()
    return result


def _execute(cfg: RunConfig, methods: list[MethodSpec], zoo, run_dir: Path, plan: Plan, shard,
             score: bool, progress: bool) -> RunResult:
    store = ImageStore(run_dir, cfg.image_format)
    outcomes: list[MethodOutcome] = []
    records: list[ImageRecord] = []
    keys: dict[str, dict[Cell, str]] = {}   # label → every plan cell's image key (the shard merge looks them up)
    for ms in methods:
        before = zoo.state()
        view = zoo.for_method()   # read-only: no method can change what the others are given
        if shard.active:  # rank 0 fits a learning method first; the other ranks then find it in the cache
            sharding.prefit(shard, ms, view, cfg, progress)
        outcome, recs = run_method(ms, view, plan, store, sharding.generation_config(cfg, shard), progress,
                                   cells=shard.select(plan.cells))
        keys[ms.label] = image_keys(ms, zoo, plan.cells, outcome.artifact_key)
        after = zoo.state()
        if before[-1] is None:   # the pipeline was loaded during this method: compare with its state at load time
            before = before[:-1] + (zoo.load_time_fingerprint() if after[-1] is not None else None,)
        if after != before:
            # weights edited in place (the view stops assignments, not in-place edits): the later methods get a
            # freshly loaded zoo, so no method's images depend on another's
            changed = ", ".join(state_changes(before, after))
            outcome.warning = f"modified the shared zoo ({changed}; plugin bug); the zoo was reloaded for the others"
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
    if not d["external"]:   # methods made here: methods.json as before
        d.pop("external"), d.pop("provenance")
    return d
