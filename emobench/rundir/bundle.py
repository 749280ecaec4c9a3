"""``emobench bundle RUN --method NAME --out FILE.zip``: one method's images of a run, with the plan, the protocol
and the provenance, in one zip that ``--methods bundle:FILE.zip`` re-scores anywhere (docs/submit-images.md).

Layout (version 1; read by the ``bundle`` method plugin, which never extracts it to disk)::

    bundle.json              format, version, method (its label in the run), display name, protocol fingerprint,
                             plan hash, declares_plan_latents, images {file id: sha256}, provenance
    protocol.json, plan.json the run's own files
    provenance/              methods.json (the method's entry), config.json, zoo.json, env.json of the run
    images/<file id>.png     the run's stored images, byte for byte (so a re-score reads the very same pixels),
                             with the extension the store gave them

The zip is deterministic (sorted entries, fixed dates): the same run gives the same bundle bytes.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from emobench.api import Cell, ImageRecord
from emobench.errors import EmobenchError
from emobench.io.files import atomic_write, sha256_file
from emobench.rundir.layout import read_manifest, read_methods
from emobench.spec.protocol import PROTOCOL_FILE

BUNDLE_FORMAT = "emobench-bundle"
PROVENANCE_FILES = ("config.json", "zoo.json", "env.json")
_DATE = (1980, 1, 1, 0, 0, 0)   # the zip epoch: no clock time in the bytes


def _json(run: Path, name: str) -> dict[str, Any]:
    try:
        data = json.loads((run / name).read_text())
    except (OSError, ValueError) as err:
        raise EmobenchError(f"{run / name} cannot be read ({err})",
                            "pass a complete run directory written by `emobench run`") from None
    if not isinstance(data, dict):
        raise EmobenchError(f"{run / name} is not a JSON object", "pass a run directory written by `emobench run`")
    return data


def method_images(run: Path, method: str) -> tuple[dict[str, Any], dict[str, ImageRecord]]:
    """The method's methods.json entry and its one stored image per plan cell (by file id), checked."""
    methods = read_methods(run)
    if method not in methods:
        raise EmobenchError(f"run {run} has no method {method!r}", f"its methods: {', '.join(methods) or 'none'}")
    info = methods[method]
    if info.get("status", "ok") != "ok":
        raise EmobenchError(f"method {method!r} of {run} failed ({info.get('reason')})",
                            "resume the run until it succeeds, then bundle it")
    plan = _json(run, "plan.json")
    cells = [Cell(c["emotion"], c["template"], int(c["seed"]), c.get("content")) for c in plan.get("cells", [])]
    records = [r for r in read_manifest(run) if r.method == method]
    if any(r.fit_seed is not None for r in records):
        raise EmobenchError(f"method {method!r} of {run} was fitted several times (--fit-seeds)",
                            "a bundle holds one image per cell: bundle a run made with --fit-seeds 1")
    by_cell = {r.cell: r for r in records}
    missing = [c.file_id for c in cells if c not in by_cell]
    if missing or len(records) != len(cells):
        raise EmobenchError(f"run {run} holds {len(records)} images of {method!r} for a plan of {len(cells)} cells",
                            "resume the run (`emobench run --resume RUN`) so every cell has its image")
    out = {}
    for c in cells:
        rec = by_cell[c]
        if sha256_file(run / rec.path) != rec.sha256:
            raise EmobenchError(f"{run / rec.path} does not match its sha256 in the manifest",
                                "the run's images were altered; resume the run to regenerate them")
        out[c.file_id] = rec
    return info, out


def write_bundle(run: str | Path, method: str, out: str | Path) -> dict[str, Any]:
    """Write the bundle of ``method`` in ``run`` to ``out`` (a new .zip); returns its bundle.json."""
    run, out = Path(run), Path(out)
    if not (run / "config.json").is_file():
        raise EmobenchError(f"{str(run)!r} is not an emobench run (no config.json)", "pass a run directory")
    if out.suffix.lower() != ".zip":
        raise EmobenchError(f"--out {str(out)!r} does not end in .zip", "name the bundle FILE.zip")
    if out.exists():
        raise EmobenchError(f"--out {str(out)!r} exists", "choose a new file name (nothing is overwritten)")
    info, images = method_images(run, method)
    proto = _json(run, PROTOCOL_FILE)
    plan = _json(run, "plan.json")
    external = bool(info.get("external"))
    # an emobench method was handed the plan's latents; a submission says what it declared
    declares = bool((info.get("provenance") or {}).get("declares_plan_latents")) if external else True
    meta = {"format": BUNDLE_FORMAT, "version": 1, "method": method, "display_name": info.get("display_name") or method,
            "fingerprint": proto.get("fingerprint"), "protocol": proto.get("name"), "plan_hash": plan.get("plan_hash"),
            "n_images": len(images), "declares_plan_latents": declares,
            "images": {i: r.sha256 for i, r in sorted(images.items())},
            "provenance": {"plugin": info.get("plugin"), "config": info.get("config"), "external": external,
                           "artifact_key": info.get("artifact_key"), "source_run": run.resolve().name,
                           "config_hash": _json(run, "config.json").get("config_hash")}}
    files: list[tuple[str, bytes, int]] = [("bundle.json", _dump(meta), zipfile.ZIP_DEFLATED),
                                           (PROTOCOL_FILE, _dump(proto), zipfile.ZIP_DEFLATED),
                                           ("plan.json", _dump(plan), zipfile.ZIP_DEFLATED),
                                           ("provenance/methods.json", _dump({method: info}), zipfile.ZIP_DEFLATED)]
    files += [(f"provenance/{n}", _dump(_json(run, n)), zipfile.ZIP_DEFLATED) for n in PROVENANCE_FILES
              if (run / n).is_file()]
    # the stored files as they are (their own extension: a store may keep another format than PNG), read one at a
    # time while writing
    pngs = {f"images/{i}{Path(r.path).suffix.lower() or '.png'}": run / r.path for i, r in images.items()}

    def write(tmp: Path) -> None:
        entries = [(n, d, how) for n, d, how in files] + [(n, None, zipfile.ZIP_STORED) for n in pngs]
        with zipfile.ZipFile(tmp, "w") as zf:
            for name, data, how in sorted(entries, key=lambda e: e[0]):
                zi = zipfile.ZipInfo(name, date_time=_DATE)
                zi.external_attr = 0o644 << 16
                zi.compress_type = how
                zf.writestr(zi, data if data is not None else pngs[name].read_bytes())

    atomic_write(out, write)
    return meta


def _dump(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode()
