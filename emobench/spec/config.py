"""``RunConfig``: what a run is, from CLI flags and optionally a TOML file, and its hash.

Precedence: built-in defaults < ``--config FILE.toml`` < explicit CLI flags (< on ``--resume``, the stored
config sits below the file and flags). Only the fields that change results enter ``config_hash``;
``batch_size``, ``out`` and ``refit`` do not (results must not depend on them).
"""
from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emobench.api import stable_hash
from emobench.emotions import EMOTIONS
from emobench.errors import EmobenchError

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]

DEFAULT_TEMPLATE = "an image of {emotion}"   # the paper's Stable Diffusion prompt
RUNTIME_FIELDS = ("batch_size", "out", "refit")  # never part of the hash


@dataclass
class RunConfig:
    methods: tuple[str, ...] = ()        # method specs ("sd", "sd:guidance_scale=7"); () = every installed one
    metrics: tuple[str, ...] = ()        # metric specs; () = every installed one the zoo can serve
    emotions: tuple[str, ...] = EMOTIONS
    n_per_emotion: int = 4
    seed: int = 0
    templates: tuple[str, ...] = (DEFAULT_TEMPLATE,)
    zoo: str = "mini"
    baseline: str | None = None          # method label the paired differences are taken against
    batch_size: int = 8
    out: str | None = None
    refit: bool = False
    fit_seeds: int = 1                   # fits per learning method (fit seeds 0..K-1); each generates every cell
    track: str = "emotion"               # emobench.spec.tracks: "emotion" (EmoGen's Table 1) | "content" (EmoCtrl-style)
    contents: tuple[str, ...] = ()       # content track: the contents to plan; () = the zoo's content list
    content_list: str = ""               # content track: a named list (emobench.data.content_lists); "" = the zoo's
    image_format: str = "png"            # how images are stored (emobench.io.images.IMAGE_FORMATS): png | webp | jpeg

    def hashed(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in RUNTIME_FIELDS:
            d.pop(k)
        if d["fit_seeds"] == 1:   # the default leaves the hash (and so every existing run's identity) unchanged
            del d["fit_seeds"]
        # Track fields at their defaults stay out, so emotion-track configs keep the hash they had before tracks.
        if d["track"] == "emotion":
            d.pop("track")
        if not d["contents"]:
            d.pop("contents")
        if not d["content_list"]:
            d.pop("content_list")
        if d["image_format"] == "png":   # the default format leaves every existing run's hash as it was
            d.pop("image_format")
        return d

    @property
    def config_hash(self) -> str:
        return stable_hash(self.hashed())

    def to_json(self) -> str:
        return json.dumps({**self.hashed(), "config_hash": self.config_hash}, indent=2, sort_keys=True) + "\n"


FIELDS = {f.name for f in dataclasses.fields(RunConfig)}
_ALIASES = {"prompts": "templates", "n": "n_per_emotion"}


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except OSError as err:
        raise EmobenchError(f"cannot read config file {str(p)!r} ({err.strerror})", "pass an existing TOML file to --config") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise EmobenchError(f"config file {str(p)!r} is not valid TOML ({err})", "fix its syntax") from None
    return dict(data.get("run", data))  # either top-level keys or a [run] table


def read_stored(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise EmobenchError(f"{str(run_dir)!r} has no readable config.json ({err})",
                            "pass a run directory written by `emobench run` to --resume") from None
    data.pop("config_hash", None)
    return data


def merge(*layers: Mapping[str, Any]) -> RunConfig:
    """Later layers win; ``None`` values in a layer mean "not given"."""
    values: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            key = _ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
            if key not in FIELDS:
                close = difflib.get_close_matches(key, sorted(FIELDS), n=1)
                raise EmobenchError(f"unknown config key {key!r}",
                                    f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}keys: {', '.join(sorted(FIELDS))}")
            if value is not None:
                values[key] = value
    normalised = {k: _normalise(k, v) for k, v in values.items()}
    if "templates" not in values and normalised.get("track") not in (None, "emotion"):
        from emobench.spec.tracks import get_track   # a track's own default template, unless templates were given

        track = get_track(normalised["track"])
        captions = _plans_captions(normalised) and track.caption_template
        normalised["templates"] = (track.caption_template if captions else track.default_template,)
    return validate(RunConfig(**normalised))


def layered(stored: Path | None, toml: Path | None, flags: Mapping[str, Any]) -> RunConfig:
    """The one precedence of every command that takes run settings: a stored run's ``config.json`` (resume,
    ``plan export --from-run``), then ``--config FILE.toml``, then the flags given on the command line."""
    layers: list[Mapping[str, Any]] = []
    if stored is not None:
        layers.append(read_stored(stored))
    if toml is not None:
        layers.append(read_toml(toml))
    layers.append(flags)
    return merge(*layers)


def _plans_captions(values: Mapping[str, Any]) -> bool:
    """Whether the config plans captions (its named list holds some, or a content is one)."""
    from emobench.data.content_lists import has_captions, is_caption

    contents = values.get("contents") or ()
    if contents:
        return any(is_caption(c) for c in contents)
    return bool(values.get("content_list")) and has_captions(values["content_list"])


def _as_tuple(value: Any) -> tuple[str, ...]:
    from emobench.registry import split_specs

    if isinstance(value, str):
        return tuple(split_specs(value))
    return tuple(str(v).strip() for v in value)


_LIST_KEYS = ("methods", "metrics", "emotions", "templates")
MAX_SEED = 2 ** 63 - 1   # torch generators take a signed 64-bit seed


def _check_type(key: str, value: Any) -> None:
    """A TOML file can hold any type for any key: refuse the wrong ones with one line, never a traceback."""
    if key in _LIST_KEYS:
        ok = isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
        if not ok:
            raise EmobenchError(f"{key} must be a string or a list of strings, got {value!r}",
                                f'write it like {key} = ["a", "b"] or --{key.replace("_", "-")} a,b')
    elif key in ("zoo", "out", "baseline", "content_list", "image_format") and not isinstance(value, str):
        raise EmobenchError(f"{key} must be a string, got {value!r}", f'write it like {key} = "..."')
    elif key == "refit" and not isinstance(value, bool):
        raise EmobenchError(f"refit must be true or false, got {value!r}", "write refit = true")


_FLAGS = {"methods": "--methods", "metrics": "--metrics", "emotions": "--emotions", "templates": "--prompts",
          "contents": "--contents"}


def _normalise(key: str, value: Any) -> Any:
    _check_type(key, value)
    out = _normalised(key, value)
    if key in _FLAGS and not out:   # given but naming nothing: never silently "all" (or "none")
        flag = _FLAGS[key]
        raise EmobenchError(f"{flag} {value!r} names nothing" if isinstance(value, str) else f"{key} is an empty list",
                            f"name at least one, or leave {flag} out for the default")
    return out


def _normalised(key: str, value: Any) -> Any:
    if key in ("methods", "metrics"):
        return _as_tuple(value)
    if key == "contents":
        items = [value] if isinstance(value, str) else list(value)
        return tuple(c.strip() for v in items for c in str(v).split(",") if c.strip())
    if key in ("track", "image_format"):
        return str(value).strip().lower()
    if key == "emotions":
        items = [value] if isinstance(value, str) else list(value)
        return tuple(e.strip().lower() for v in items for e in str(v).split(",") if e.strip())
    if key == "templates":
        if isinstance(value, str):  # CLI: "tmpl1,tmpl2" — commas inside a template are not supported there
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return tuple(str(t) for t in value)
    if key in ("n_per_emotion", "seed", "batch_size", "fit_seeds"):
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:36] + "...'"
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise EmobenchError(f"{key} must be an integer, got {shown}", f"give {key} as a whole number")
        try:
            return int(value)
        except ValueError:
            raise EmobenchError(f"{key} must be an integer, got {shown}", f"give {key} as a whole number") from None
    return value


MAX_N_PER_EMOTION = 1_000_000   # 8 M images per method: beyond any run one machine finishes
MAX_BATCH = 65_536
MAX_FIT_SEEDS = 1_000


def _in_range(flag: str, value: int, hi: int) -> None:
    if not 1 <= value <= hi:
        shown = value if abs(value) < 10 ** 30 else f"{str(value)[:24]}..."
        raise EmobenchError(f"{flag} must be within 1..{hi:,}, got {shown}", f"pass {flag} 1 or more (at most {hi:,})")


def validate(cfg: RunConfig) -> RunConfig:
    _in_range("--n-per-emotion", cfg.n_per_emotion, MAX_N_PER_EMOTION)
    _in_range("--batch-size", cfg.batch_size, MAX_BATCH)
    _in_range("--fit-seeds", cfg.fit_seeds, MAX_FIT_SEEDS)
    if not 0 <= cfg.seed <= MAX_SEED - cfg.n_per_emotion:
        shown = cfg.seed if abs(cfg.seed) < 10 ** 30 else f"{str(cfg.seed)[:24]}..."
        raise EmobenchError(f"--seed must be within 0..{MAX_SEED - cfg.n_per_emotion}, got {shown}",
                            "pass a smaller non-negative --seed")
    if not cfg.emotions:
        raise EmobenchError("no emotions selected", f"pass --emotions with some of: {', '.join(EMOTIONS)}")
    for e in cfg.emotions:
        if e not in EMOTIONS:
            close = difflib.get_close_matches(e, EMOTIONS, n=1)
            raise EmobenchError(f"unknown emotion {e!r}",
                                f"{'did you mean ' + repr(close[0]) + '? ' if close else ''}emotions: {', '.join(EMOTIONS)}")
    # canonical order and no duplicates, so `--emotions fear,awe` and `awe,fear` are the same run
    cfg.emotions = tuple(e for e in EMOTIONS if e in cfg.emotions)
    from emobench.spec.tracks import get_track

    track = get_track(cfg.track)   # an unknown track is a clear error naming the known ones
    if not cfg.templates:
        raise EmobenchError("no prompt templates given",
                            f"pass --prompts with at least one template like {track.default_template!r}")
    for t in cfg.templates:
        track.check_template(t)
    cfg.templates = tuple(dict.fromkeys(cfg.templates))
    if cfg.contents and not track.uses_content:
        raise EmobenchError(f"contents are given but track {track.name!r} has no content",
                            "drop contents, or pass --track content")
    cfg.contents = tuple(dict.fromkeys(cfg.contents))
    if cfg.content_list:
        from emobench.data.content_lists import check_list_name

        check_list_name(cfg.content_list)
        if not track.uses_content:
            raise EmobenchError(f"content list {cfg.content_list!r} is given but track {track.name!r} has no content",
                                "drop content_list, or pass --track content")
    from emobench.io.formats import IMAGE_FORMATS

    if cfg.image_format not in IMAGE_FORMATS:
        raise EmobenchError(f"unknown image format {cfg.image_format!r}",
                            f"pass --image-format with one of: {', '.join(IMAGE_FORMATS)}")
    if not isinstance(cfg.zoo, str) or not cfg.zoo:
        raise EmobenchError(f"bad zoo {cfg.zoo!r}", "pass --zoo mini or --zoo PATH")
    return cfg


def default_out(cfg: RunConfig) -> Path:
    import time

    return Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{cfg.config_hash[:8]}"
