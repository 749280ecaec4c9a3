"""The protocol of a run: every detail that decides what its numbers mean, hashed into a short fingerprint.

Emo-A of one method is 76% under EmoGen's protocol and 45% under EmoCtrl's: a number is comparable only
with numbers of the same protocol. A ``Protocol`` names the track, templates, content list, emotions, images
per cell group, base seed, the judges (each with the sha256 of its weights), the generator's sampler, steps,
guidance and resolution, and the stored image format. ``fingerprint`` is ``stable_hash`` of all of it (12
hex digits). A run stores it as ``protocol.json``; every ``summary.csv`` row and every leaderboard carries
the fingerprint; ``emobench report`` puts runs in one table only when their fingerprints match
(docs/protocols.md).

Reference (paper-reported) numbers have a protocol too, but only as a description (``ReferenceProtocol``):
their judges' weights and seeds are not published, so no computed run ever shares their fingerprint, and
``matches_paper`` says which paper's protocol a run follows in everything a reader can check.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from emobench.hashing import stable_hash
from emobench.io.formats import image_format as storage_format

PROTOCOL_FILE = "protocol.json"
IMAGE_FORMAT = "png-uint8-round"   # emobench.io.images.to_uint8: round(x*255), lossless PNG; metrics read the PNGs back
# (--image-format webp / jpeg record "webp-lossless-uint8-round" / "jpeg-q95-444-uint8-round": emobench.io.images)


@dataclass(frozen=True)
class Protocol:
    track: str
    templates: tuple[str, ...]
    contents: tuple[str, ...]          # () on the emotion track
    emotions: tuple[str, ...]
    n_per_group: int                   # images per emotion (emotion track) or per (emotion, content) (content track)
    seed: int                          # the plan's base seed
    scale: str                         # zoo scale: mini | paper | custom
    judges: tuple[tuple[str, str], ...]   # (zoo component, sha256 of its weights): every scoring network
    sampler: str                       # the zoo pipeline's scheduler class
    steps: int
    guidance: float
    resolution: tuple[int, int]        # (height, width)
    image_format: str = IMAGE_FORMAT
    metric_options: tuple[str, ...] = ()   # metric specs with options ("clip-a:top_k=1"): they change a column

    @property
    def name(self) -> str:
        """Human-readable name: track and scale, e.g. ``content/mini``."""
        return f"{self.track}/{self.scale}"

    @property
    def fingerprint(self) -> str:
        return stable_hash(self.hashed(), n=12)

    def hashed(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["judges"] = [list(j) for j in self.judges]
        d["resolution"] = list(self.resolution)
        return d

    def to_json(self) -> dict[str, Any]:
        return {"format": "emobench-protocol", "version": 1, "name": self.name, "fingerprint": self.fingerprint,
                **self.hashed()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Protocol":
        fields = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in data.items() if k in fields}
        for key in ("templates", "contents", "emotions", "metric_options"):
            d[key] = tuple(d.get(key) or ())
        d["judges"] = tuple(tuple(j) for j in d.get("judges") or ())
        d["resolution"] = tuple(d.get("resolution") or (0, 0))
        return cls(**d)

    def with_judges(self, zoo) -> "Protocol":
        """The same protocol scored by ``zoo``'s judges (``emobench score --zoo`` may use other ones)."""
        return dataclasses.replace(self, judges=judge_hashes(zoo))

    def differences(self, other: "Protocol") -> list[str]:
        """The fields in which two protocols differ, e.g. ``["track (emotion vs content)", "judges"]``."""
        out = []
        a, b = self.hashed(), other.hashed()
        for key in a:
            if a[key] != b[key]:
                short = key in ("track", "scale", "n_per_group", "seed", "sampler", "steps", "guidance",
                                "resolution", "image_format")
                out.append(f"{key} ({a[key]} vs {b[key]})" if short else key)
        return out


def judge_hashes(zoo) -> tuple[tuple[str, str], ...]:
    """Every scoring component of the zoo (judges, CLIP, FID features, …) with its weights hash."""
    return tuple(sorted((k, v) for k, v in dict(getattr(zoo, "hashes", {}) or {}).items()
                        if not k.startswith("pipeline")))


def from_run(cfg, zoo, contents: Sequence[str] = ()) -> Protocol:
    """The protocol of a run of ``cfg`` (a resolved ``RunConfig``) on ``zoo``."""
    sampling = zoo.sampling
    sampler = zoo.scheduler_name()   # from the config when the generator is not loaded (a finished run's resume)
    return Protocol(track=cfg.track, templates=tuple(cfg.templates), contents=tuple(contents),
                    emotions=tuple(cfg.emotions), n_per_group=int(cfg.n_per_emotion), seed=int(cfg.seed),
                    scale=str(zoo.scale), judges=judge_hashes(zoo), sampler=sampler,
                    steps=int(sampling.num_inference_steps), guidance=float(sampling.guidance_scale),
                    resolution=(int(sampling.height), int(sampling.width)),
                    image_format=storage_format(getattr(cfg, "image_format", "png")).protocol,
                    metric_options=tuple(sorted(m for m in cfg.metrics if ":" in m)))


def write(run_dir: str | Path, protocol: Protocol) -> None:
    from emobench.io.files import write_json

    write_json(Path(run_dir) / PROTOCOL_FILE, protocol.to_json())


def read(run_dir: str | Path) -> Protocol | None:
    """The run's stored protocol, or None for a run written before protocols were recorded."""
    path = Path(run_dir) / PROTOCOL_FILE
    if not path.is_file():
        return None
    try:
        return Protocol.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        from emobench.errors import EmobenchError

        raise EmobenchError(f"{path} is not a valid protocol file ({err})",
                            "restore it, or re-run `emobench score RUN_DIR` to rewrite it") from None


# ------------------------------------------------------------------------------------ reference protocols

@dataclass(frozen=True)
class ReferenceProtocol:
    """A paper's protocol as far as it is published: what a reference row's numbers were measured under."""

    key: str                  # "emogen-paper" | "emoctrl-paper"
    track: str
    source: str               # where the numbers come from
    description: str          # one line for the report
    templates: tuple[str, ...] = ()   # the prompt forms, when published in a form a run can use

    def matches(self, protocol: Protocol | Mapping[str, Any] | None) -> bool:
        """Whether a run follows this paper's protocol in all that is published: same track, paper scale,
        the eight emotions and (when known) the paper's templates. Its judges' weights are not published, so
        a match says "comparable in design", never "the same fingerprint"."""
        if protocol is None:
            return False
        try:
            p = protocol if isinstance(protocol, Protocol) else Protocol.from_json(protocol)
        except (TypeError, ValueError):   # a damaged protocol.json matches no paper
            return False
        from emobench.emotions import EMOTIONS

        return (p.track == self.track and p.scale == "paper" and set(p.emotions) == set(EMOTIONS)
                and (not self.templates or tuple(p.templates) == self.templates))


REFERENCES: dict[str, ReferenceProtocol] = {
    "emogen-paper": ReferenceProtocol(
        "emogen-paper", "emotion", "Yang et al., EmoGen, CVPR 2024, Table 1 (official README)",
        "emotion-only prompts ('an image of {emotion}' for SD), 8 emotions, CLIP ViT-L/14 linear emotion judge "
        "trained on EmoSet (weights not compared with other judges), unseeded sampling",
        ("an image of {emotion}",)),
    "emoctrl-paper": ReferenceProtocol(
        "emoctrl-paper", "content", "EmoCtrl, ACM MM 2026, Table 1 (JingyuanYY/EmoCtrl README.MD)",
        "content + emotion prompts: 45 content elements and 31 captions x 8 emotions; Emo-A by a CLIP ViT-L/14 "
        "linear emotion judge; CLIP-A: target element in CLIP's top-5 over the 45 elements (captions: "
        "CLIP cosine > 0.15); EC-A: both right; SDXL-era baselines; no CIs"),
}


def matches_paper(protocol: Protocol | Mapping[str, Any] | None) -> ReferenceProtocol | None:
    """The paper protocol a run follows (for the report's "Reference" block), or None: reference numbers are
    shown beside a run's only when this is not None, and only those of the returned paper."""
    return next((r for r in REFERENCES.values() if r.matches(protocol)), None)


def reference_for_track(track: str) -> ReferenceProtocol | None:
    return next((r for r in REFERENCES.values() if r.track == track), None)
