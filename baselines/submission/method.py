"""``folder`` and ``bundle``: images made outside emobench, scored like any method's (docs/submit-images.md).

* ``folder:NAME=DIR`` reads ``DIR/<cell id>.{png,jpg,jpeg,webp}`` (``Cell.file_id``); its row is ``NAME``. An
  optional ``DIR/submission.json`` declares ``plan_latents`` (true: every image started from the plan's
  ``latents.safetensors``), the ``protocol`` fingerprint it was made for (checked), and free notes.
* ``bundle:FILE.zip`` (or ``bundle:NAME=FILE.zip``) re-scores a bundle made by ``emobench bundle``: its
  protocol fingerprint must be the run's; its row is the bundled method's label unless NAME is given.

Both check the whole submission when the run shows them the plan (``check_plan``), before anything is written:
completeness (one image per cell), safety (symlinks, zip entries, sizes) and every image (``images.decode``);
``generate`` then reads each file again and refuses it if its sha256 changed since. ``provenance()`` goes to
methods.json: ``external`` methods' rows carry a note in every table, since the starting noise of images made
elsewhere cannot be verified; ``declares_plan_latents`` says what the submission claims.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench.api import GenerationRequest, GenerationResult, Method, PlanContext

from baselines.submission.images import RESAMPLE, BadImage, Decoded, decode
from baselines.submission.sources import (MAX_JSON_BYTES, BundleSource, Entry, FolderSource, SubmissionError,
                                          listing, match_plan, split_name)

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
DECLARATION = "submission.json"
BUNDLE_FORMAT = "emobench-bundle"


def check_name(name: str, who: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise ValueError(f"{who}: the row name {name!r} must be 1-64 letters, digits or . _ + - (starting with a "
                         "letter or digit)")


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve()) if path else path


@dataclass(frozen=True)
class FolderConfig:
    name: str                     # the row's label (``folder:NAME=DIR``)
    dir: str                      # the folder of images (made absolute: a resume finds it from anywhere)
    strict_size: bool = False     # refuse images of another size instead of resizing them (Lanczos)

    def __post_init__(self) -> None:
        check_name(self.name, "folder")
        object.__setattr__(self, "dir", _absolute(self.dir))

    @classmethod
    def from_spec(cls, options: dict[str, str]) -> dict[str, str]:
        """``folder:NAME=DIR[:strict_size=true]`` → ``name=NAME, dir=DIR``; the long form passes as it is."""
        if "" in options:
            raise ValueError(f"write folder:NAME=DIR (got the bare piece {options['']!r})")
        short = [k for k in options if k not in ("name", "dir", "strict_size")]
        if len(short) > 1:
            raise ValueError(f"folder takes one NAME=DIR, got {', '.join(short)}")
        if short:
            options["name"], options["dir"] = short[0], options.pop(short[0])
        if "name" not in options or "dir" not in options:
            raise ValueError("write folder:NAME=DIR (the row's name and the folder of <cell id>.png images)")
        return options


@dataclass(frozen=True)
class BundleConfig:
    path: str                     # the bundle zip (made absolute)
    name: str = ""                # the row's label; "": the bundled method's own
    strict_size: bool = False

    def __post_init__(self) -> None:
        if not self.path:
            raise ValueError("write bundle:FILE.zip or bundle:NAME=FILE.zip")
        if self.name:
            check_name(self.name, "bundle")
        object.__setattr__(self, "path", _absolute(self.path))

    @classmethod
    def from_spec(cls, options: dict[str, str]) -> dict[str, str]:
        """``bundle:FILE.zip`` → ``path=FILE.zip``; ``bundle:NAME=FILE.zip`` → ``name=NAME, path=FILE.zip``."""
        if "" in options:
            options["path"] = options.pop("")
        short = [k for k in options if k not in ("name", "path", "strict_size")]
        if len(short) > 1 or (short and "path" in options):
            raise ValueError(f"bundle takes one FILE.zip or NAME=FILE.zip, got {', '.join(short)}")
        if short:
            options["name"], options["path"] = short[0], options.pop(short[0])
        if "path" not in options:
            raise ValueError("write bundle:FILE.zip or bundle:NAME=FILE.zip")
        return options


class _Submission(Method):
    """What ``folder`` and ``bundle`` share: check everything against the plan, then hand back the files."""

    external = True
    source: FolderSource | BundleSource

    def __init__(self, config: Any = None):
        super().__init__(config)
        self._files: dict[str, tuple[str, str]] = {}     # file id → (name in the source, sha256)
        self._size: tuple[int, int] | None = None
        self._facts: dict[str, Any] = {}

    def load(self, zoo, artifact_dir: Path | None) -> None:
        """Nothing to load: the images are the submission's."""

    def provenance(self) -> dict[str, Any] | None:
        return dict(self._facts) or None

    def _read(self, name: str) -> bytes:
        return self.source.read(name)

    def _check_images(self, plan: PlanContext, found: dict[str, Entry]) -> dict[str, Any]:
        """Decode every image once under the policy: all bad files in one line, nothing written."""
        bad, converted, resized = [], {}, {}
        for cell in plan.cells:
            entry = found[cell.file_id]
            data = self._read(entry.name)
            try:
                d = decode(data, entry.name, plan.size, self.config.strict_size)
            except BadImage as err:
                bad.append(err)
                continue
            self._files[cell.file_id] = (entry.name, hashlib.sha256(data).hexdigest())
            if d.converted:
                converted[d.converted] = converted.get(d.converted, 0) + 1
            if d.resized_from:
                key = f"{d.resized_from[0]}x{d.resized_from[1]}"
                resized[key] = resized.get(key, 0) + 1
        if bad:
            more = f" (and {len(bad) - 1} more unusable images)" if len(bad) > 1 else ""
            raise SubmissionError(f"{self.where()}: {bad[0].problem}{more}",
                                  f"{bad[0].fix} (docs/submit-images.md: accepted images)")
        self._size = plan.size
        lines = "".join(f"{i}:{sha}\n" for i, (_, sha) in sorted(self._files.items()))
        return {"n_images": len(self._files), "digest": hashlib.sha256(lines.encode()).hexdigest(),
                "converted": converted, "resized": resized, "resize_filter": RESAMPLE,
                "strict_size": bool(self.config.strict_size)}

    def where(self) -> str:
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerationRequest]) -> GenerationResult:
        if self._size is None:
            raise SubmissionError(f"{self.where()} was not checked against the run's plan",
                                  "score it through `emobench run --methods ...` (it calls check_plan first)")
        images, extras = [], []
        for r in requests:
            name, sha = self._files[r.cell.file_id]
            data = self._read(name)
            if hashlib.sha256(data).hexdigest() != sha:
                raise SubmissionError(f"{self.where()}: {name} changed while the run read it",
                                      "leave the submission untouched during the run, then resume it")
            d: Decoded = decode(data, name, self._size, self.config.strict_size)
            images.append(torch.from_numpy(d.pixels).permute(2, 0, 1).float() / 255.0)
            extras.append({"submitted": name, "submitted_sha256": sha,
                           **({"converted": d.converted} if d.converted else {}),
                           **({"resized_from": list(d.resized_from)} if d.resized_from else {})})
        # the plan's prompt: an outside method is scored on the prompt it was given, whatever it did with it
        return GenerationResult(torch.stack(images), [r.cell.prompt() for r in requests], extras)


class FolderMethod(_Submission):
    name = "folder"
    Config = FolderConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.source = FolderSource(self.config.dir)

    def run_label(self) -> str | None:
        return self.config.name

    def where(self) -> str:
        return f"submission folder {self.config.dir}"

    def check_plan(self, plan: PlanContext) -> None:
        entries, skipped = self.source.entries()
        found = match_plan(entries, [c.file_id for c in plan.cells], self.where(), skipped)
        declared = self._declaration(plan)
        facts = self._check_images(plan, found)
        self._facts = {"source": "folder", "path": self.config.dir,
                       "declares_plan_latents": declared.get("plan_latents") is True, "declared": declared, **facts}

    def _declaration(self, plan: PlanContext) -> dict[str, Any]:
        raw = self.source.read_json(DECLARATION)
        if raw is None:
            return {}
        try:
            data = json.loads(raw) if len(raw) <= MAX_JSON_BYTES else None
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise SubmissionError(f"{self.where()}: {DECLARATION} is not a JSON object (or over 16 MiB)",
                                  'write {"method": "...", "plan_latents": true, "protocol": "<fingerprint>"}')
        if "plan_latents" in data and not isinstance(data["plan_latents"], bool):
            raise SubmissionError(f"{self.where()}: {DECLARATION}'s plan_latents is {data['plan_latents']!r}",
                                  "write true (the images started from latents.safetensors) or false")
        fp = plan.protocol.get("fingerprint")
        if data.get("protocol") not in (None, fp):
            raise SubmissionError(f"{self.where()}: {DECLARATION} says the images were made for protocol "
                                  f"{data['protocol']!r}, this run's is {fp!r}",
                                  "run with the flags of the plan export the images were made from "
                                  "(its export.json), or export this run's plan and generate again")
        return data


class BundleMethod(_Submission):
    name = "bundle"
    Config = BundleConfig

    def __init__(self, config: Any = None):
        super().__init__(config)
        self.source = BundleSource(self.config.path)
        self.meta = self._meta()

    def where(self) -> str:
        return f"bundle {Path(self.config.path).name}"

    def run_label(self) -> str | None:
        label = self.config.name or str(self.meta.get("method") or "")
        if not NAME_RE.fullmatch(label):
            raise SubmissionError(f"{self.where()} holds method {label!r}, which is no row name of its own",
                                  f"name its row: bundle:NAME={self.config.path}")
        return label

    def _json(self, name: str) -> dict[str, Any]:
        if name not in self.source.infos:
            raise SubmissionError(f"{self.where()} has no {name}", "re-make it with `emobench bundle`")
        try:
            data = json.loads(self.source.read(name, MAX_JSON_BYTES))
        except (ValueError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            raise SubmissionError(f"{self.where()}: {name} is not a JSON object", "re-make it with `emobench bundle`")
        return data

    def _meta(self) -> dict[str, Any]:
        meta = self._json("bundle.json")
        if meta.get("format") != BUNDLE_FORMAT or meta.get("version") != 1 or not isinstance(meta.get("images"), dict):
            raise SubmissionError(f"{self.where()} is not an emobench bundle (version 1)",
                                  "make it with `emobench bundle RUN --method NAME --out FILE.zip`")
        return meta

    def check_plan(self, plan: PlanContext) -> None:
        mine, theirs = self._json("protocol.json"), json.loads(json.dumps(dict(plan.protocol)))   # tuples → lists
        if mine.get("fingerprint") != theirs.get("fingerprint"):
            diff = [k for k in sorted(set(mine) | set(theirs)) if k not in ("fingerprint", "name", "format", "version")
                    and mine.get(k) != theirs.get(k)]
            shown = [f"{k} ({mine.get(k)} vs {theirs.get(k)})" if k in ("n_per_group", "seed", "scale", "steps",
                     "guidance", "track", "sampler", "resolution") else k for k in diff]
            raise SubmissionError(f"{self.where()} was made under protocol {mine.get('name')} {mine.get('fingerprint')}, "
                                  f"this run's is {theirs.get('name')} {theirs.get('fingerprint')} "
                                  f"(differs in {listing(shown) or 'its recorded fields'})",
                                  "re-score it with the bundle's settings (its protocol.json: zoo, emotions, "
                                  "--n-per-emotion, --seed, --prompts, track)")
        sums: dict[str, str] = self.meta["images"]
        entries, skipped = [], []
        for name in self.source.names():
            if name.startswith("images/"):
                parts = split_name(name[len("images/"):])
                (entries.append(Entry(parts[0], name)) if parts else skipped.append(name))
        found = match_plan(entries, [c.file_id for c in plan.cells], self.where(), skipped)
        facts = self._check_images(plan, found)
        wrong = [n for i, (n, sha) in sorted(self._files.items()) if sums.get(i) != sha]
        if wrong:
            raise SubmissionError(f"{self.where()}: {len(wrong)} image(s) differ from its bundle.json sha256 "
                                  f"({listing(wrong)})", "the bundle was altered; re-make it with `emobench bundle`")
        origin = self.meta.get("provenance") if isinstance(self.meta.get("provenance"), dict) else {}
        self._facts = {"source": "bundle", "path": self.config.path, "bundle_method": self.meta.get("method"),
                       "bundle_sha256": _file_sha256(Path(self.config.path)),
                       "declares_plan_latents": self.meta.get("declares_plan_latents") is True, "origin": origin,
                       **facts}


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
