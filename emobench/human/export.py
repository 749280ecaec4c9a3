"""``emobench human export RUN``: A/B tasks from one finished run, as a study folder.

The folder holds ``images/`` (copies under opaque ids), ``tasks.csv`` (what a crowdsourcing platform
takes: one row per task, image URLs in left/right columns), ``study.json`` (the private key: which method is
behind each side) and ``votes.sqlite`` (the empty vote store, tasks registered). It is written into a temp
folder and renamed, so a failed export leaves nothing behind.
"""
from __future__ import annotations

import csv
import hashlib
import io
import itertools
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emobench.api import ImageRecord
from emobench.errors import EmobenchError
from emobench.human.store import VoteStore
from emobench.human.tasks import (CONTROL_REAL, CONTROL_SHUFFLED, PAIR_QUESTIONS, QUESTIONS, SET_QUESTIONS,
                                  Study, Task, image_id, task_id)
from emobench.io.markers import STUDY_MARKER, foreign_names, read_marker, write_marker
from emobench.io.sweep import owned_tmpdir, sweep
from emobench.rundir.identity import adopt, is_run, run_id
from emobench.rundir.layout import read_manifest
from emobench.spec.protocol import read as read_protocol


@dataclass
class ExportOptions:
    seed: int = 0
    cells_per_emotion: int | None = None   # None: every cell the methods share
    set_size: int = 4                      # images per side of a diversity task
    repeats: int | None = None             # repeat checks; None: 10 % of the pair tasks, at least 2
    controls_per_emotion: int = 0          # real-vs-shuffled checks per emotion (needs the zoo's dataset); off by
                                           # default: real images stand out among generated ones at mini scale
    methods: Sequence[str] | None = None   # None: every method with images
    base_url: str = ""                     # prefix of the image URLs in tasks.csv (where they will be hosted)


@dataclass
class ControlImage:
    """A real held-out image: ``label`` is what the task asks about, ``true`` its real emotion."""

    source: str
    label: str
    true: str
    png: bytes


def _common_cells(records: Sequence[ImageRecord], methods: Sequence[str]) -> dict[str, dict[str, ImageRecord]]:
    """cell id -> method -> record, for cells every method has (same prompt template, seed, start noise)."""
    by_cell: dict[str, dict[str, ImageRecord]] = {}
    for r in records:
        if r.method in methods:
            by_cell.setdefault(r.cell.cell_id, {})[r.method] = r
    return {c: v for c, v in by_cell.items() if len(v) == len(methods)}


def control_images(run_dir: Path, emotions: Sequence[str], per_emotion: int, dataset, size: int, template: str,
                   seed: int, limit: int = 1) -> list[tuple[ControlImage, ControlImage]]:
    """(real image of e, label-shuffled image labelled e but truly of another emotion) pairs, taken from the
    same control rows the scorer makes (``real_entries`` / ``shuffled_entries``, the scorer's seed 0)."""
    from emobench.scoring.inputs import real_entries, shuffled_entries
    from emobench.io.images import png_bytes

    real = real_entries(dataset, emotions, per_emotion, size, template)
    true_of = {e.cell: e.item.emotion for e in real}
    shuffled = shuffled_entries(real, template, 0)
    rng = np.random.default_rng(seed)
    out = []
    for emotion in emotions:
        reals = [e for e in real if e.item.emotion == emotion]
        fakes = [e for e in shuffled if e.item.emotion == emotion and true_of[e.cell] != emotion]
        k = min(len(reals), len(fakes), limit)
        picks_r = rng.permutation(len(reals))[:k]
        picks_f = rng.permutation(len(fakes))[:k]
        for ir, jf in zip(picks_r, picks_f):
            r, f = reals[ir], fakes[jf]
            out.append((ControlImage(f"real:{r.cell}", emotion, emotion, png_bytes(r.loader())),
                        ControlImage(f"shuffled:{f.cell}", emotion, true_of[f.cell], png_bytes(f.loader()))))
    return out


def build_study(run_dir: Path, opts: ExportOptions,
                controls: Sequence[tuple[ControlImage, ControlImage]] = ()) -> tuple[Study, dict[str, bytes]]:
    """The tasks and the image bytes under their opaque ids (nothing written)."""
    records = read_manifest(run_dir)
    methods = sorted({r.method for r in records})
    if opts.methods:
        unknown = [m for m in opts.methods if m not in methods]
        if unknown:
            raise EmobenchError(f"method(s) {', '.join(unknown)} have no images in {run_dir}",
                                f"pick from: {', '.join(methods) or '(none)'}")
        methods = sorted(set(opts.methods))
    if len(methods) < 2:
        raise EmobenchError(f"{run_dir} has images of {len(methods)} method(s); an A/B study needs two or more",
                            "export a run made with several --methods")
    cells = _common_cells(records, methods)
    if not cells:
        raise EmobenchError(f"the methods of {run_dir} share no cell", "export a finished run (all methods done)")
    rng = np.random.default_rng(opts.seed)
    rid = run_id(run_dir)
    fingerprint = getattr(read_protocol(run_dir), "fingerprint", None)
    tid = (lambda *parts: task_id(opts.seed, rid, *parts)) if rid else (lambda *parts: task_id(opts.seed, *parts))
    emotions = sorted({c.split("|")[0] for c in cells})
    chosen: dict[str, list[str]] = {}
    for e in emotions:
        ids = sorted(c for c in cells if c.split("|")[0] == e)
        ids = [ids[i] for i in rng.permutation(len(ids))]
        chosen[e] = sorted(ids[: opts.cells_per_emotion] if opts.cells_per_emotion else ids)

    images: dict[str, bytes] = {}

    def add_record(r: ImageRecord) -> str:
        data = (run_dir / r.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != r.sha256:
            raise EmobenchError(f"image {r.path} of {r.method} does not match its sha256 in the manifest",
                                f"re-run `emobench run --resume {run_dir}` to regenerate it")
        iid = image_id(opts.seed, r.key)
        images[iid] = data
        return iid

    def side() -> str:
        return "AB" if rng.random() < 0.5 else "BA"

    tasks: list[Task] = []
    pairs = list(itertools.combinations(methods, 2))
    for e in emotions:
        for ma, mb in pairs:
            for c in chosen[e]:
                ra, rb = cells[c][ma], cells[c][mb]
                tasks.append(Task(tid("pair", ma, mb, c), "pair", e, list(PAIR_QUESTIONS),
                                  [add_record(ra)], [add_record(rb)], ma, mb, [ra.key], [rb.key], [c], side()))
            set_cells = chosen[e][: opts.set_size]
            if len(set_cells) >= 2:
                ra = [cells[c][ma] for c in set_cells]
                rb = [cells[c][mb] for c in set_cells]
                tasks.append(Task(tid("set", ma, mb, e), "set", e, list(SET_QUESTIONS),
                                  [add_record(r) for r in ra], [add_record(r) for r in rb], ma, mb,
                                  [r.key for r in ra], [r.key for r in rb], list(set_cells), side()))
    measured = [t for t in tasks if t.kind == "pair"]
    n_rep = opts.repeats if opts.repeats is not None else max(2, round(0.1 * len(measured)))
    for i in sorted(rng.permutation(len(measured))[: min(n_rep, len(measured))]):
        t = measured[int(i)]
        tasks.append(Task(tid("repeat", t.task_id), "repeat", t.emotion, list(t.questions),
                          list(t.a), list(t.b), t.method_a, t.method_b, list(t.keys_a), list(t.keys_b),
                          list(t.cells), "BA" if t.export_order == "AB" else "AB", of=t.task_id))
    for real, fake in controls:
        ia, ib = image_id(opts.seed, real.source), image_id(opts.seed, fake.source)
        images[ia], images[ib] = real.png, fake.png
        # the same questions as a pair task, so a control looks like any other task (only "emotion" is graded)
        tasks.append(Task(tid("control", real.source, fake.source), "control", real.label,
                          list(PAIR_QUESTIONS), [ia], [ib], CONTROL_REAL, CONTROL_SHUFFLED, [real.source],
                          [fake.source], [], side()))
    study = Study(run_dir=str(Path(run_dir).resolve()), seed=opts.seed, tasks=tasks,
                  images={iid: f"{iid}.png" for iid in sorted(images)}, run_id=rid, protocol=fingerprint)
    return study, images


def tasks_csv(study: Study, base_url: str = "") -> str:
    """One row per task, sides in the export order; no method names and no task kind (blind)."""
    k = max(len(t.a) for t in study.tasks)
    nq = max(len(t.questions) for t in study.tasks)
    header = (["task_id", "emotion", "n_images", "question_ids"] + [f"question_{i + 1}" for i in range(nq)]
              + [f"left_image_{i + 1}" for i in range(k)] + [f"right_image_{i + 1}" for i in range(k)]
              + ["study_id"])
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    url = (base_url.rstrip("/") + "/") if base_url else "images/"
    for t in sorted(study.tasks, key=lambda t: t.task_id):   # sorted by opaque id: kinds are mixed
        left, right = (t.a, t.b) if t.export_order == "AB" else (t.b, t.a)
        qs = [t.question_text(q) for q in t.questions] + [""] * (nq - len(t.questions))
        w.writerow([t.task_id, t.emotion, len(t.a), ";".join(t.questions)] + qs
                   + [url + study.images[i] for i in left] + [""] * (k - len(left))
                   + [url + study.images[i] for i in right] + [""] * (k - len(right)) + [study.run_id or ""])
    return buf.getvalue()


def check_study_dest(out: Path) -> None:
    """``human export --out``: a new or empty folder only; never one holding a study or anyone's files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise EmobenchError(f"study folder {str(out)!r} is a file, not a folder", "pass a new or empty folder to --out")
    if (out / "study.json").exists() or read_marker(out, STUDY_MARKER) is not None:
        raise EmobenchError(f"{out} already holds a study (and maybe votes)",
                            "pass --out to a new folder, or delete the old study first")
    foreign = foreign_names(out)
    if foreign:
        raise EmobenchError(f"study folder {str(out)!r} holds files emobench did not write ({', '.join(foreign[:3])}"
                            f"{' and more' if len(foreign) > 3 else ''})", "pass a new or empty folder to --out")


def write_study(study: Study, images: dict[str, bytes], out: Path, base_url: str = "") -> Path:
    out = Path(out)
    check_study_dest(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sweep(out.parent)   # a killed export's temp folder (never a live one's, never anything else)
    tmp = owned_tmpdir(out.parent, out.name)
    try:
        (tmp / "images").mkdir(parents=True)
        for iid, data in images.items():
            (tmp / "images" / study.images[iid]).write_bytes(data)
        (tmp / "tasks.csv").write_text(tasks_csv(study, base_url))
        (tmp / "study.json").write_text(study.to_json())
        VoteStore.create(tmp / "votes.sqlite", study)
        write_marker(tmp, STUDY_MARKER, run_id=study.run_id, protocol=study.protocol)
        if out.exists():
            out.rmdir()   # only an empty folder is replaced (a non-empty one raises: nothing is lost)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def export_run(run_dir: str | Path, out: str | Path | None = None, opts: ExportOptions = ExportOptions(), *,
               dataset: Any = None, size: int | None = None) -> Study:
    """Build and write the study of ``run_dir``. ``dataset``/``size``: where the real-vs-shuffled checks come
    from (the zoo's dataset at its sampling size); without a dataset the study has repeat checks only."""
    run_dir = Path(run_dir)
    if not (run_dir / "manifest.jsonl").is_file():
        raise EmobenchError(f"{run_dir} is not a finished run (no manifest.jsonl)",
                            "pass the folder `emobench run` wrote, once the run is done")
    check_study_dest(Path(out) if out else run_dir / "human")   # before any work: never anyone's folder
    if is_run(run_dir):
        adopt(run_dir)   # a run of an earlier version gets its marker: its id binds the study's votes
    controls: list[tuple[ControlImage, ControlImage]] = []
    if dataset is not None and opts.controls_per_emotion > 0:
        records = read_manifest(run_dir)
        emotions = sorted({r.emotion for r in records})
        per_emotion = max(sum(1 for r in records if r.emotion == e and r.method == records[0].method)
                          for e in emotions)
        template = records[0].template
        controls = control_images(run_dir, emotions, per_emotion, dataset, int(size or 64), template, opts.seed,
                                  opts.controls_per_emotion)
    study, images = build_study(run_dir, opts, controls)
    write_study(study, images, Path(out) if out else run_dir / "human", opts.base_url)
    return study


__all__ = ["ExportOptions", "export_run", "build_study", "write_study", "tasks_csv", "QUESTIONS"]
