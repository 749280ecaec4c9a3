"""The mini zoo's model card: ``card.json`` (facts and figures), ``card.md`` (for people), ``samples.png``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from emobench.io.images import to_uint8
from emobench.zoo.check import BARS, CheckResult

OBSERVATIONS_FILE = "observations.md"   # written by a person after looking at samples.png; kept across rewrites


def save_grid(grid: torch.Tensor, path: Path, scale: int = 2) -> None:
    """[rows, cols, 3, H, W] in [0,1] → PNG with 2-px white gutters, each image upscaled ``scale``× (nearest)."""
    r, c, _, h, w = grid.shape
    g = 2
    canvas = torch.ones(3, r * (h * scale + g) + g, c * (w * scale + g) + g)
    for i in range(r):
        for j in range(c):
            img = grid[i, j].repeat_interleave(scale, 1).repeat_interleave(scale, 2)
            y, x = g + i * (h * scale + g), g + j * (w * scale + g)
            canvas[:, y:y + h * scale, x:x + w * scale] = img
    arr = to_uint8(canvas).permute(1, 2, 0).numpy()
    Image.fromarray(arr).save(path)


def _sizes(root: Path) -> dict[str, float]:
    out = {}
    # prefit/ (fitted method artefacts) is added to the shipped zoo after its build: list it, or the total looks unexplained
    for part in ("pipeline", "clip", "judges", "prefit"):
        if not (root / part).is_dir():
            continue
        out[part] = round(sum(p.stat().st_size for p in (root / part).rglob("*") if p.is_file()) / 1e6, 2)
    out["total"] = round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6, 2)
    return out


def write_card(root: Path, result: CheckResult, build: dict[str, Any], total_s: float) -> None:
    root = Path(root)
    if result.grid is not None:
        save_grid(result.grid, root / "samples.png")
    meta = json.loads((root / "zoo.json").read_text())
    old = json.loads((root / "card.json").read_text()) if (root / "card.json").is_file() else {}
    card = {
        "name": "emobench mini zoo", "build": build, "build_total_wall_s": round(total_s, 1),
        "dataset": meta.get("dataset"), "arch": meta.get("arch"), "storage_dtype": meta.get("storage_dtype"),
        "sampling": meta.get("sampling"), "sizes_mb": _sizes(root),
        "figures": result.to_json(), "bars": BARS, "samples_png_columns": result.grid_cols,
        # kept when the card is rewritten: `zoo stats --card` may have put EmoSet's figures beside the zoo's
        "content_stats": old.get("content_stats") or _own_content_stats(root),
    }
    (root / "card.json").write_text(json.dumps(card, indent=1))
    (root / "card.md").write_text(render_markdown(card, root))


def _own_content_stats(root: Path) -> dict[str, Any] | None:
    """The zoo's own content statistics (exact world tables for a mini zoo), or None where it records none."""
    from emobench.errors import EmobenchError
    from emobench.zoo.stats import stats_json, table_markdown, zoo_source

    try:
        sources = [zoo_source(root)]
    except EmobenchError:
        return None
    return {**stats_json(sources), "markdown": table_markdown(sources)}


def write_content_stats(root: Path, sources: list) -> Path:
    """Put a ``zoo stats`` table (``emobench.zoo.stats.StatsSource`` list) into the card; returns card.md."""
    from emobench.errors import EmobenchError
    from emobench.io.files import atomic_write_text
    from emobench.zoo.stats import stats_json, table_markdown

    root = Path(root)
    if not (root / "card.json").is_file():
        raise EmobenchError(f"{root} has no card.json", "pass a zoo folder built by `emobench zoo build`")
    card = json.loads((root / "card.json").read_text())
    card["content_stats"] = {**stats_json(sources), "markdown": table_markdown(sources)}
    atomic_write_text(root / "card.json", json.dumps(card, indent=1))
    return refresh_markdown(root)


def _fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def render_markdown(card: dict[str, Any], root: Path) -> str:
    f = card["figures"]
    b = card["build"]
    stages = b.get("stages", [])
    lines = [
        "# emobench mini zoo — model card", "",
        "A miniature, offline stand-in for Stable Diffusion 1.5 + CLIP + judges, trained from scratch on CPU on "
        "EmoSet-mini by `emobench zoo build mini`. Not a model of real images.", "",
        "## Data",
        f"EmoSet-mini, seed {card['dataset']['seed']}, {card['dataset']['n_train']} train / "
        f"{card['dataset']['n_val']} val / {card['dataset']['n_test']} test images (32×32), drawn by "
        f"`emobench.world` (world key `{card['dataset'].get('world_key', '')[:16]}`).", "",
        "## Architectures and training",
        "| part | class | parameters | steps | batch | wall s | s/step | loss first → last |",
        "|---|---|---|---|---|---|---|---|",
    ]
    classes = {"clip": "transformers CLIPModel (ViT + text tower, real CLIP BPE, 16 positions)",
               "unet": f"diffusers UNet2DConditionModel on the {_latent(b)} pixel-unshuffle latent",
               "judges": "JudgeNet CNN, object/scene/emotion heads"}
    for s in stages:
        lines.append(f"| {s['name']} | {classes.get(s['name'], '')} | {s['params']:,} | {s['steps']} | "
                     f"{s['extra'].get('batch', '')} | {s['wall_s']:.0f} | {s['s_per_step']:.2f} | "
                     f"{s['first_loss']:.3f} → {s['last_loss']:.3f} |")
    m = b.get("machine", {})
    lines += [
        "", "The autoencoder is `emobench.zoo.pixel_vae.PixelShuffleVAE`: a lossless pixel-unshuffle "
        f"(f={_arch(b).get('vae_factor', 2)}), no weights. The diffusion text encoder is the frozen CLIP text tower. Scheduler: "
        "`emobench.zoo.schedulers.LatentSeededDDPMScheduler` (ancestral DDPM, each image's step noise seeded "
        "by its own start latent), linear betas "
        f"1e-4…0.02, {_arch(b).get('prediction_type', 'epsilon')}, `clip_sample=True`.", "",
        f"Build wall time: **{card['build_total_wall_s'] / 60:.1f} min** in total (training "
        f"{b.get('train_wall_s', 0) / 60:.1f} min, the rest saving and this check), torch threads "
        f"{m.get('torch_threads')}, CPU `{m.get('cpu')}`, torch {m.get('torch')}. Per-step times include whatever "
        "else ran on the machine during the build.",
        f"Stored as {card['storage_dtype']} safetensors: " + ", ".join(f"{k} {v} MB" for k, v in card['sizes_mb'].items()) + ".",
        "", "## Quality figures (`emobench zoo check`)",
        "| figure | value | bar | met |", "|---|---|---|---|",
    ]
    for k, bar in BARS.items():
        lines.append(f"| {k} | {_fmt(f.get(k))} | {bar} | {'yes' if f['bars'].get(k) else '**no**'} |")
    extra_keys = ["world_objects", "world_scenes", "world_h_object_given_emotion_bits", "real_emotion_acc",
                  "real_emotion_p_target", "gen_both_acc", "gen_emotion_prompt_p_target", "object_judge_acc_blur",
                  "object_judge_acc_noise", "object_judge_acc_speckle", "scene_judge_acc_blur", "scene_judge_acc_noise",
                  "scene_judge_acc_speckle", "n_real", "n_gen_content"]
    lines += ["", "Other figures: " + ", ".join(f"{k} {_fmt(f.get(k))}" for k in extra_keys if k in f) + "."]
    lines += ["", "Per object (generated, judged): " + ", ".join(
        f"{o} {v['object']:.2f}/{v['scene']:.2f}" for o, v in f.get("per_object", {}).items()) + " (object/scene)."]
    if per := f.get("gen_emotion_prompt_per_emotion"):
        lines += ["", "Emo-A of \"an image of {emotion}\" per emotion: "
                  + ", ".join(f"{e} {v:.2f}" for e, v in per.items()) + "."]
    if card.get("content_stats"):   # rendered by emobench.zoo.stats (`emobench zoo stats --card`)
        lines += ["", "## How much of the emotion the content carries (`emobench zoo stats`)",
                  *card["content_stats"]["markdown"]]
    if "validity" in card:   # lines rendered by emobench.zoo.validity when it wrote the figures
        lines += ["", "## Validity against the paper setting (`emobench zoo validity`)", *card["validity"]["markdown"]]
    lines += ["", "## samples.png",
              "Rows: the objects in judge label order; columns: " + ", ".join(card.get("samples_png_columns", []))
              + " (per row the scenes differ; see `emobench.zoo.check.content_prompts`)."]
    obs = root / OBSERVATIONS_FILE
    if obs.is_file():
        lines += ["", obs.read_text().strip()]
    else:
        lines += ["", "_Not yet described: look at samples.png and write what you see into "
                      f"{OBSERVATIONS_FILE}, then call `emobench.zoo.card.refresh_markdown(DIR)`._"]
    return "\n".join(lines) + "\n"


def refresh_markdown(root: Path) -> Path:
    """Re-render ``card.md`` from ``card.json`` (e.g. after writing ``observations.md``) without re-checking."""
    root = Path(root)
    card = json.loads((root / "card.json").read_text())
    (root / "card.md").write_text(render_markdown(card, root))
    return root / "card.md"


def _arch(build: dict[str, Any]) -> dict[str, Any]:
    return dict(build.get("config", {}).get("arch", {}))


def _latent(build: dict[str, Any]) -> str:
    a = _arch(build)
    f, size = int(a.get("vae_factor", 2)), int(a.get("image_size", 32))
    return f"{3 * f * f}×{size // f}×{size // f}"
