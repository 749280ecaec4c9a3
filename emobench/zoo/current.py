"""The weight hashes a zoo has *now*, without loading a network: what ``emobench report`` compares with the
hashes a run recorded (``zoo.json``, ``protocol.json``). Same hashes as ``load_zoo`` computes (component →
sha256 over its files); ``None`` when the zoo is not here (a report is made on another machine) or is
described by a paper ``.toml`` (its loader hashes what it reads while loading)."""
from __future__ import annotations

from pathlib import Path

from emobench.zoo.hashing import folder_hash


def current_hashes(spec: str) -> dict[str, str] | None:
    from emobench.zoo.load import SHIPPED_MINI, component_hashes

    root = SHIPPED_MINI if spec == "mini" else Path(spec).expanduser()
    try:
        if spec != "mini" and root.suffix == ".toml":
            return None
        if (root / "model_index.json").is_file():   # a bare diffusers folder: the pipeline only
            return {f"pipeline.{k}": v for k, v in component_hashes(root).items()}
        if not (root / "zoo.json").is_file():
            return None
        import json

        components = json.loads((root / "zoo.json").read_text()).get("components", {})
        pipe = root / components.get("pipeline", {}).get("path", "pipeline")
        hashes = {f"pipeline.{k}": v for k, v in component_hashes(pipe).items()}
        for name in ("clip", "judges"):
            folder = root / components.get(name, {}).get("path", name)
            if folder.is_dir():
                hashes[name] = folder_hash(folder)
        return hashes
    except (OSError, ValueError, AttributeError):
        return None
