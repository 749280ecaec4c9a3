#!/usr/bin/env python
"""Reference generator for an emobench plan export: plain diffusers, no emobench import.

    emobench plan export --out plan/ --emotions awe,fear --n-per-emotion 4      # on the benchmark's side
    python examples/generate_from_plan.py plan/ --out images/                   # anywhere with diffusers
    python examples/generate_from_plan.py plan/ --out images/ --shard 2/4       # or one of 4 cluster jobs
    emobench run --methods sd,folder:mine=images/ --emotions awe,fear --n-per-emotion 4

It writes ``images/<id>.png`` for every row of ``plan/cells.jsonl``, each image started from
``plan/latents.safetensors[id]``, and ``images/submission.json`` declaring ``plan_latents: true``.
Run as it is, on the zoo's own pipeline, its images are byte-identical to the built-in ``sd``'s on the same
device and library versions (tested on CPU), because it does what ``emobench.sampling.sample`` does:

* the zoo's pipeline folder (``--pipeline``, default: the one export.json names), loaded in float32; the
  scheduler's own ``clip_sample`` is put back (``StableDiffusionPipeline.__init__`` forces it off for old SD
  configs), and the UNet gets the channels-last layout when export.json says so (it changes the kernels);
* calls of exactly ``micro_batch`` (8) rows, the last padded with zero latents and the empty prompt: CPU and GPU
  kernels pick their blocking by batch size, so another call size moves pixels by rounding;
* one CPU ``torch.Generator`` per row for the step noise, seeded with the cell's seed (padding rows: 0);
* the zoo's steps, guidance and size, and ``round(x * 255)`` to uint8.

Change any of these (your own pipeline, ``--micro-batch``, another sampler) and the images are yours, made from
the same prompts and starting noise. The emobench mini zoo's pipeline folder names two classes of emobench
(diffusers never imports a module a folder names): its lossless pixel-shuffle autoencoder is rebuilt here
(``pixel_shuffle_autoencoder``) and its latent-seeded DDPM scheduler loaded as diffusers' ``DDPMScheduler``,
which it equals whenever step-noise generators are passed. Tested with diffusers 0.42 and transformers 5.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file


def pixel_shuffle_autoencoder(config: dict):
    """The emobench mini zoo's autoencoder, rebuilt: it diffuses in pixel space folded by ``pixel_unshuffle``
    (3x32x32 <-> 48x8x8), so decoding is ``pixel_shuffle`` (no weights). Only what the pipeline calls."""
    import torch.nn.functional as F
    from diffusers import ConfigMixin, ModelMixin
    from diffusers.configuration_utils import register_to_config

    class PixelShuffleAutoencoder(ModelMixin, ConfigMixin):
        @register_to_config
        def __init__(self, factor: int = 2, block_out_channels: tuple = (12, 12), scaling_factor: float = 1.0,
                     shift_factor: float | None = None, force_upcast: bool = False):
            super().__init__()
            self.register_buffer("dtype_anchor", torch.zeros(1))

        def decode(self, z, return_dict: bool = True, generator=None):
            return (F.pixel_shuffle(z, self.config.factor),)

    keys = ("factor", "block_out_channels", "scaling_factor", "shift_factor", "force_upcast")
    return PixelShuffleAutoencoder(**{k: config[k] for k in keys if k in config})


def load_pipeline(folder: Path, sampling: dict, device: str):
    """The pipeline of ``folder``, assembled part by part from the classes its model_index.json names (diffusers
    and transformers ones; the emobench mini zoo's two own classes as described above), in float32."""
    import diffusers
    import transformers

    index = json.loads((folder / "model_index.json").read_text())
    parts = {}
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        library, cls = index[part]
        if library in ("diffusers", "transformers"):
            obj = getattr(diffusers if library == "diffusers" else transformers, cls)
            kwargs = {"use_safetensors": True} if part in ("unet", "vae", "text_encoder") else {}
            parts[part] = obj.from_pretrained(folder, subfolder=part, local_files_only=True, **kwargs)
        elif cls == "PixelShuffleVAE":
            parts[part] = pixel_shuffle_autoencoder(json.loads((folder / part / "config.json").read_text()))
        elif cls == "LatentSeededDDPMScheduler":
            parts[part] = diffusers.DDPMScheduler.from_pretrained(folder, subfolder=part)
        else:
            sys.exit(f"{folder}/{part} holds a {library}.{cls}: load that pipeline yourself")
    for part in ("unet", "vae", "text_encoder"):
        parts[part] = parts[part].to(torch.float32).eval()
    with warnings.catch_warnings():   # its constructor warns while forcing clip_sample off; put back below
        warnings.simplefilter("ignore")
        pipe = diffusers.StableDiffusionPipeline(**parts, safety_checker=None, feature_extractor=None,
                                                 requires_safety_checker=False)
    own = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    if "clip_sample" in pipe.scheduler.config and pipe.scheduler.config.clip_sample != bool(own.get("clip_sample")):
        pipe.scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config, clip_sample=bool(own["clip_sample"]))
    if sampling.get("channels_last"):
        pipe.unet.to(memory_format=torch.channels_last)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def generate(pipe, rows: list[dict], latents: dict[str, torch.Tensor], sampling: dict, micro_batch: int,
             device: str, out: Path) -> None:
    dtype = sampling.get("autocast_dtype")
    for start in range(0, len(rows), micro_batch):
        chunk = rows[start:start + micro_batch]
        pad = micro_batch - len(chunk)
        lat = torch.stack([latents[r["id"]] for r in chunk])
        lat = torch.cat([lat, lat.new_zeros((pad, *lat.shape[1:]))])
        seeds = [int(r["seed"]) for r in chunk] + [0] * pad
        cast = (torch.autocast(device_type=torch.device(device).type, dtype=getattr(torch, dtype)) if dtype
                else contextlib.nullcontext())
        with torch.inference_mode(), cast:
            images = pipe(prompt=[r["prompt"] for r in chunk] + [""] * pad,
                          latents=lat.to(device=device, dtype=pipe.unet.dtype),
                          generator=[torch.Generator("cpu").manual_seed(s) for s in seeds],
                          num_inference_steps=int(sampling["num_inference_steps"]),
                          guidance_scale=float(sampling["guidance_scale"]),
                          height=int(sampling["height"]), width=int(sampling["width"]), output_type="pt").images
        pixels = (images[:len(chunk)].float().cpu().clamp(0, 1) * 255).round().to(torch.uint8)
        for r, img in zip(chunk, pixels):
            Image.fromarray(img.permute(1, 2, 0).numpy().astype(np.uint8)).save(out / f"{r['id']}.png")
        print(f"{min(start + micro_batch, len(rows))}/{len(rows)} images", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path, help="a folder written by `emobench plan export`")
    ap.add_argument("--out", type=Path, required=True, help="folder for <id>.png (created)")
    ap.add_argument("--pipeline", type=Path, help="a diffusers StableDiffusionPipeline folder (default: export.json's)")
    ap.add_argument("--device", default="cpu", help="torch device (default cpu)")
    ap.add_argument("--micro-batch", type=int, help="rows per pipeline call (default: export.json's, 8)")
    ap.add_argument("--shard", default="1/1", metavar="K/N",
                    help="generate rows K, K+N, K+2N, ... only (K in 1..N): N jobs fill one folder (default 1/1)")
    args = ap.parse_args(argv)
    try:
        k, n = (int(x) for x in args.shard.split("/"))
        assert 1 <= k <= n
    except (ValueError, AssertionError):
        ap.error(f"--shard {args.shard!r} is not K/N with 1 <= K <= N")
    facts = json.loads((args.export / "export.json").read_text())
    sampling = facts["sampling"]
    folder = args.pipeline or (Path(facts["zoo"]["pipeline"]) if facts["zoo"].get("pipeline") else None)
    if folder is None:
        ap.error("export.json names no pipeline folder: pass --pipeline")
    micro_batch = args.micro_batch or int(sampling["micro_batch"])
    if micro_batch < 1:
        ap.error("--micro-batch must be at least 1")
    rows = [json.loads(line) for line in (args.export / "cells.jsonl").read_text().splitlines() if line.strip()]
    rows = rows[k - 1::n]   # a row's image depends on neither its call neighbours nor the shard (padded calls)
    latents = load_file(str(args.export / "latents.safetensors"))
    args.out.mkdir(parents=True, exist_ok=True)
    generate(load_pipeline(folder, sampling, args.device), rows, latents, sampling, micro_batch, args.device, args.out)
    same = micro_batch == int(sampling["micro_batch"]) and args.pipeline is None
    (args.out / "submission.json").write_text(json.dumps({
        "method": "reference generator (examples/generate_from_plan.py)", "plan_latents": True,
        "protocol": facts["fingerprint"], "plan_hash": facts["plan_hash"], "micro_batch": micro_batch,
        "notes": "the zoo's own pipeline and sd's sampling" if same else f"pipeline {folder}"}, indent=2) + "\n")
    print(f"{len(rows)} images (shard {k}/{n}) in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
