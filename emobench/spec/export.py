"""``emobench plan export``: a run's plan as plain files, for methods that generate outside emobench (a closed
model behind an API, another framework, a cluster job). docs/submit-images.md describes the workflow.

The export holds what a run with the same flags would hand its methods: every cell with its file id
(``Cell.file_id``) and prompt (``cells.csv`` / ``cells.jsonl``), each cell's initial latent, the very tensor
``Plan.latent`` gives the built-in methods (``latents.safetensors``, keyed by file id), the protocol with its
fingerprint (``protocol.json``, identical to the run's), how the zoo samples (``export.json``: what a
diffusers script needs to reproduce ``sd`` byte for byte) and a short ``SUBMITTING.txt``.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from emobench import registry
from emobench.errors import EmobenchError
from emobench.io.files import atomic_write_csv, atomic_write_text, write_json
from emobench.io.sweep import owned_tmpdir
from emobench.spec import protocol, tracks
from emobench.spec.config import RunConfig
from emobench.spec.plan import Plan

EXPORT_FORMAT = "emobench-plan-export"
CELL_COLUMNS = ["id", "cell_id", "emotion", "template", "content", "seed", "prompt", "latent_sha256"]
ACCEPTED = (".png", ".jpg", ".jpeg", ".webp")   # what a folder submission may hold (baselines/submission)
MICRO_BATCH = 8   # emobench.sampling.sample's default: cells per pipeline call, padded (batch invariance)


def canonical_metrics(cfg: RunConfig) -> RunConfig:
    """Metric specs as a run records them (``clip-a:top_k=01`` → ``clip-a:top_k=1``): the protocol keeps
    those with options, so the export's fingerprint is the run's."""
    if cfg.metrics:
        reg = registry.metrics()
        cfg.metrics = tuple(sorted(dict.fromkeys(reg.create(spec)[0] for spec in cfg.metrics)))
    return cfg


def pipeline_folder(zoo) -> Path | None:
    """The zoo's diffusers pipeline folder on this machine (a zoo folder's ``pipeline/``, or a bare pipeline
    folder), for the reference generator; None when the zoo names none (a paper TOML: pass --pipeline)."""
    root = getattr(zoo, "root", None)
    if root is None:
        return None
    for cand in (Path(root) / "pipeline", Path(root)):
        if (cand / "model_index.json").is_file():
            return cand.resolve()
    return None


def cell_rows(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for c in plan.cells:
        latent = plan.latent(c)
        rows.append({"id": c.file_id, "cell_id": c.cell_id, "emotion": c.emotion, "template": c.template,
                     "content": c.content, "seed": c.seed, "prompt": c.prompt(),
                     "latent_sha256": hashlib.sha256(latent.numpy().tobytes()).hexdigest()})
    if len({r["id"] for r in rows}) != len(rows):   # 40 bits of sha256 per (emotion, seed): never in practice
        raise EmobenchError("two cells of the plan share a file id", "report this plan (its config) as a bug")
    return rows


def export_facts(cfg: RunConfig, zoo, plan: Plan, proto: protocol.Protocol) -> dict[str, Any]:
    s = zoo.sampling
    pipe = pipeline_folder(zoo)
    return {
        "format": EXPORT_FORMAT, "version": 1,
        "fingerprint": proto.fingerprint, "protocol": proto.name, "plan_hash": plan.plan_hash,
        "n_cells": len(plan.cells), "latent_shape": list(plan.latent_shape), "latent_dtype": "float32",
        "file_id": "<emotion>-[<content slug>-]<seed>-<first 10 hex of sha256(cell_id)> (docs/submit-images.md)",
        "accepted_formats": [e.lstrip(".") for e in ACCEPTED],
        "zoo": {"spec": cfg.zoo, "name": zoo.name, "scale": zoo.scale, "weights_hash": zoo.weights_hash,
                "pipeline": str(pipe) if pipe is not None else None},
        # what the built-in ``sd`` does (emobench.sampling.sample): the reference generator reproduces it
        "sampling": {"num_inference_steps": s.num_inference_steps, "guidance_scale": s.guidance_scale,
                     "height": s.height, "width": s.width, "autocast_dtype": s.autocast_dtype,
                     "channels_last": bool(s.channels_last), "scheduler": zoo.scheduler_name(),
                     "micro_batch": MICRO_BATCH, "pad": "zero latents and the empty prompt",
                     "step_noise": "one torch.Generator('cpu') per row seeded with the cell's seed; padding rows seeded 0",
                     "quantisation": "round(x*255) to uint8"},
        "config": cfg.hashed(),
    }


def submitting_text(facts: dict[str, Any]) -> str:
    return f"""emobench plan export — how to submit images for it
protocol {facts['protocol']} {facts['fingerprint']}, plan {facts['plan_hash']}, {facts['n_cells']} cells

1. Make one image per row of cells.csv (or cells.jsonl) from its `prompt`. If your sampler accepts initial
   latents (a diffusers-compatible pipeline), start each image from latents.safetensors[id]; the reference
   generator examples/generate_from_plan.py does exactly what the built-in `sd` does.
2. Name each image <id>.<ext> with the row's `id` (a safe file name); ext: png (best: lossless), jpg, jpeg or
   webp. One image per id, no other images in the folder. 8-bit RGB or grey; palette and opaque-alpha images
   are converted; CMYK, 16-bit and transparent images are refused. Another size is resized (Lanczos) to
   {facts['sampling']['height']}x{facts['sampling']['width']} unless the run passes strict_size=true.
3. Optionally add submission.json: {{"method": "...", "plan_latents": true|false, "protocol": "{facts['fingerprint']}",
   "notes": "..."}}; plan_latents=true declares you started from latents.safetensors (it cannot be verified).
4. Score it: emobench run --methods folder:NAME=DIR with the same flags as this export (config in export.json),
   or send the folder with its submission.json to whoever runs the benchmark.
Details: docs/submit-images.md
"""


def write_export(out: Path, cfg: RunConfig, zoo) -> dict[str, Any]:
    """Write the export of ``cfg``'s plan on ``zoo`` into ``out`` (new or empty); returns export.json's facts.
    Everything is written into a temp folder beside ``out`` and renamed into place: no half export."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise EmobenchError(f"--out {str(out)!r} exists and is not an empty folder",
                            "choose a new or empty folder for the export")
    cfg = canonical_metrics(cfg)
    contents = tracks.resolve_contents(cfg, zoo)
    plan = Plan.from_config(cfg, zoo.latent_shape(), contents)
    proto = protocol.from_run(cfg, zoo, contents)
    facts = export_facts(cfg, zoo, plan, proto)
    rows = cell_rows(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = owned_tmpdir(out.parent, "plan-export")
    try:
        atomic_write_csv(tmp / "cells.csv", CELL_COLUMNS, [{**r, "content": r["content"] or ""} for r in rows])
        atomic_write_text(tmp / "cells.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
        _write_latents(tmp / "latents.safetensors", plan, facts)
        protocol.write(tmp, proto)
        write_json(tmp / "export.json", facts)
        atomic_write_text(tmp / "SUBMITTING.txt", submitting_text(facts))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return facts


def _write_latents(path: Path, plan: Plan, facts: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors = {c.file_id: plan.latent(c).contiguous() for c in plan.cells}
    meta = {"format": "emobench-latents", "plan_hash": plan.plan_hash, "fingerprint": facts["fingerprint"],
            "latent_shape": ",".join(map(str, plan.latent_shape))}
    save_file(tensors, str(path), metadata=meta)
