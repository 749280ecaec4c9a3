"""``emobench plan export --out DIR``: the plan a run with the same flags would generate (cells, prompts, initial
latents, protocol) as plain files, for methods that generate outside emobench (docs/submit-images.md)."""
from __future__ import annotations

import argparse
from pathlib import Path

from emobench.cliargs import SEED

# `run` flags that do not change the plan or the protocol, so `plan export` does not take them
NOT_PLAN_FLAGS = ("--methods", "--baseline", "--batch-size", "--out", "--resume", "--refit", "--fit-seeds",
                  "--no-score", "--no-report", "--no-progress", "--launcher", "--num-processes",
                  "--rescore-with-current-judges", "--pilot", "--pilot-cells", "--pilot-steps", "--pilot-json")
PLAN_KEYS = ("metrics", "emotions", "n_per_emotion", "seed", "templates", "zoo", "track", "contents", "content_list",
             "image_format")


def add_parser(sub) -> None:
    p = sub.add_parser("plan", help="export a run's plan (cells, prompts, initial latents, protocol) as files")
    psub = p.add_subparsers(dest="plan_command", metavar="PLAN_COMMAND")
    psub.required = True
    e = psub.add_parser("export", help="write the plan of a run with these flags into a folder, for images made "
                                       "outside emobench (docs/submit-images.md)",
                        description="Write cells.csv, cells.jsonl, latents.safetensors, protocol.json, export.json "
                                    "and SUBMITTING.txt for the plan `emobench run` would make with the same flags "
                                    "(methods aside). Flags override --config FILE.toml, which overrides the defaults.")
    e.add_argument("--out", required=True, type=Path, help="new or empty folder for the export")
    e.add_argument("--from-run", dest="from_run", type=Path, metavar="RUN_DIR",
                   help="export the plan of an existing run (its config.json), like `run --resume`")
    e.add_argument("--config", type=Path, metavar="FILE.toml", help="run settings in TOML (keys as the flags)")
    e.add_argument("--metrics", help="comma list of metrics, as for run (only options change the protocol)")
    e.add_argument("--emotions", help="comma list (default: all eight)")
    e.add_argument("--n-per-emotion", dest="n_per_emotion", help="images per emotion (default 4); on the content "
                                                                 "track per emotion and content")
    e.add_argument("--seed", type=SEED, help="the plan's base seed: cell i of an emotion gets seed + i (default 0)")
    e.add_argument("--prompts", dest="templates", help="comma list of templates with {emotion} (and {content})")
    e.add_argument("--track", help="emotion (default) or content; see docs/protocols.md")
    e.add_argument("--contents", help="content track: comma list of contents (default: the zoo's content list)")
    e.add_argument("--content-list", dest="content_list", help="content track: a named content list")
    e.add_argument("--zoo", help="mini (default), a zoo folder, a diffusers SD folder or a paper TOML")
    e.add_argument("--image-format", dest="image_format", choices=["png", "webp", "jpeg"],
                   help="how the run that scores the submission stores images (part of the protocol; default png)")
    e.set_defaults(func=main_export)


def main_export(args: argparse.Namespace) -> int:
    from emobench.spec.config import layered
    from emobench.spec.export import write_export
    from emobench.zoo.load import load_zoo

    cfg = layered(args.from_run, args.config, {k: getattr(args, k) for k in PLAN_KEYS})
    cfg.methods, cfg.out, cfg.baseline = (), None, None   # not part of a plan
    spec = Path(cfg.zoo).expanduser()
    cfg.zoo = str(spec.resolve()) if spec.exists() else cfg.zoo   # as a run records it
    zoo = load_zoo(cfg.zoo, lazy=True)   # the pipeline's configs give the latent shape: no weights are loaded
    facts = write_export(args.out, cfg, zoo)
    print(f"plan export: {facts['n_cells']} cells, protocol {facts['protocol']} {facts['fingerprint']}, "
          f"plan {facts['plan_hash']} -> {args.out}")
    print(f"next: make <id>.png per row of {args.out / 'cells.csv'} (e.g. python examples/generate_from_plan.py "
          f"{args.out} --out IMAGES), then `emobench run --methods folder:NAME=IMAGES` with the same flags")
    return 0
