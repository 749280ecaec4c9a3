"""Plugin discovery: methods and metrics come from entry-point groups, the built-ins included.

In the spirit of lm-eval's registry (lazy per entry, did-you-mean, duplicate names refused) and HELM's
``load_entry_point_plugins`` (a plugin that fails to import is reported and the others still load).
The core never imports a plugin module by name; it only reads the groups ``emobench.methods`` and
``emobench.metrics``. ``EMOBENCH_PLUGINS`` adds entries without installing a package (for local
development and tests): ``"method:NAME=module:Class,metric:NAME=module:Class"``; ``module`` is imported
from ``sys.path`` with the current directory added at its end.

Method and metric *specs* may carry options for the plugin's ``Config`` dataclass:
``emogen:fuse=amusement+fear``, ``sd:guidance_scale=7:num_inference_steps=10`` (options separated by
``:``; a tuple/list field takes ``+``-separated items). A plugin's ``Config`` may define a classmethod
``from_spec(options) -> options`` that maps its own shorthand onto its fields (``folder:NAME=DIR`` →
``name=NAME, dir=DIR``; ``bundle:FILE.zip`` → ``path=FILE.zip``).
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import sys
import threading
import typing
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from emobench.api import Method, Metric, config_to_dict, convert_option, type_name
from emobench.errors import EmobenchError, PluginError

GROUPS = {"method": "emobench.methods", "metric": "emobench.metrics"}
BASES = {"method": Method, "metric": Metric}
ENV_VAR = "EMOBENCH_PLUGINS"


@dataclass
class PluginEntry:
    name: str
    target: str                   # "module:attr" the entry point names
    cls: type | None = None       # None until loaded, or when loading failed
    error: str | None = None      # why it failed to load
    entry_point: EntryPoint | None = field(default=None, repr=False)  # None once loaded or refused
    loaded: bool = False


@dataclass
class Registry:
    """All plugins of one kind ("method" or "metric").

    Lazy per entry, like lm-eval's registry: discovery reads the entry-point metadata only; ``get(name)``
    imports that one plugin's module, so ``run --methods sd`` never imports another method's code (nor its
    dependencies). ``names()`` imports nothing; ``available()`` and ``broken()`` load every entry."""

    kind: str
    entries: dict[str, PluginEntry] = field(default_factory=dict)
    _discovered: bool = False
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _from_env: set[str] = field(default_factory=set)

    # -- discovery -------------------------------------------------------------------------------
    def _entry_points(self) -> list[EntryPoint]:
        eps = list(entry_points(group=GROUPS[self.kind]))
        for item in filter(None, (s.strip() for s in os.environ.get(ENV_VAR, "").split(","))):
            kind, _, rest = item.partition(":")
            name, _, value = rest.partition("=")
            if kind not in GROUPS or not name or ":" not in value:
                warnings.warn(f"{ENV_VAR}: ignoring malformed entry {item!r} (want kind:name=module:attr)")
                continue
            if kind == self.kind:
                eps.append(EntryPoint(name=name.strip(), value=value.strip(), group=GROUPS[kind]))
                self._from_env.add(name.strip())
        return eps

    def discover(self) -> "Registry":
        """Read the entry points (no plugin is imported). Two targets claiming one name are refused."""
        with self._lock:
            if self._discovered:
                return self
            self._discovered = True
            for ep in self._entry_points():
                prev = self.entries.get(ep.name)
                if prev is None:
                    self.entries[ep.name] = PluginEntry(ep.name, ep.value, entry_point=ep)
                elif prev.target != ep.value and prev.error is None:
                    prev.entry_point, prev.loaded = None, True
                    prev.error = f"two plugins claim the name {ep.name!r}: {prev.target} and {ep.value}"
                    warnings.warn(f"emobench: {self.kind} plugin {prev.error}")
        return self

    def _load(self, entry: PluginEntry) -> PluginEntry:
        with self._lock:
            if entry.loaded:
                return entry
            entry.loaded = True
            ep, entry.entry_point = entry.entry_point, None
            try:
                if ep.name in self._from_env:
                    _cwd_on_path()
                obj = ep.load()
                if not (isinstance(obj, type) and issubclass(obj, BASES[self.kind])):
                    raise TypeError(f"{ep.value} is not a subclass of emobench.api.{BASES[self.kind].__name__}")
                if not dataclasses.is_dataclass(obj.Config):
                    raise TypeError(f"{ep.value}.Config is not a dataclass")
                entry.cls = obj
            except Exception as err:  # noqa: BLE001 — any failure of a plugin is reported, never fatal
                entry.error = f"{type(err).__name__}: {err}".splitlines()[0]
                warnings.warn(f"emobench: {self.kind} plugin {ep.name!r} ({ep.value}) failed to load: {entry.error}")
            return entry

    def load(self) -> "Registry":
        """Import every plugin (what ``emobench list`` shows); lookups never need this."""
        for entry in list(self.discover().entries.values()):
            self._load(entry)
        return self

    # -- lookup ----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names of every discovered plugin, without importing any (a broken one is listed too)."""
        return sorted(self.discover().entries)

    def available(self) -> list[str]:
        """Names of the plugins that load (imports all of them)."""
        return sorted(n for n, e in self.load().entries.items() if e.cls is not None)

    def broken(self) -> dict[str, str]:
        return {n: e.error or "" for n, e in sorted(self.load().entries.items()) if e.cls is None}

    def get(self, name: str) -> type:
        entry = self.discover().entries.get(name)
        if entry is not None and self._load(entry).cls is not None:
            return entry.cls
        if entry is not None:
            raise PluginError(f"{self.kind} {name!r} is installed but failed to load ({entry.error})",
                              "fix or reinstall that plugin; `emobench list` shows every plugin's status")
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
        raise EmobenchError(f"unknown {self.kind} {name!r}",
                            f"{hint}installed {self.kind}s: {', '.join(self.names()) or 'none'}")

    def create(self, spec: str, scale: str | None = None) -> tuple[str, Any]:
        """``"sd:guidance_scale=7"`` → (canonical label, plugin instance with its parsed Config). With a zoo
        ``scale``, the plugin's ``scale_defaults[scale]`` fill the options the spec leaves unset (paper-scale
        budgets), and the label names the options that differ from that scale's defaults."""
        name, options = parse_spec(spec)
        cls = self.get(name)
        shorthand = getattr(cls.Config, "from_spec", None)   # a plugin's own spec form (``folder:NAME=DIR``)
        if callable(shorthand):
            try:
                options = dict(shorthand(dict(options)))
            except (TypeError, ValueError) as err:
                raise EmobenchError(f"{self.kind} {name!r}: {err}", f"see `emobench list {self.kind}s`") from None
        config = build_config(cls.Config, options, f"{self.kind} {name!r}")
        scaled = dict((getattr(cls, "scale_defaults", None) or {}).get(scale or "", {}))
        unset = {k: v for k, v in scaled.items() if k not in options}
        if unset:
            try:
                config = dataclasses.replace(config, **unset)
            except (TypeError, ValueError) as err:
                raise EmobenchError(f"{self.kind} {name!r}: its {scale}-scale defaults {unset} do not fit its "
                                    f"options ({err})", "fix the plugin's scale_defaults") from None
        # the label names what differs from this scale's defaults: "dreambooth:steps=100" on a paper zoo, whose
        # default is 500, is not plain "dreambooth" (a resume re-creates methods from their labels)
        return spec_label(name, config, scaled), cls(config)


def _cwd_on_path() -> None:
    """Let an ``EMOBENCH_PLUGINS`` module be found in the current directory, as ``python -m`` would.

    The ``emobench`` console script puts its own bin folder first on ``sys.path``, not the current
    directory, so ``module:Class`` failed unless PYTHONPATH was set. The directory is appended (last), so it
    never shadows an installed package, and only when an entry of that variable is loaded."""
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)


POSITIONAL = ""   # the key of one bare spec piece (``bundle:FILE.zip``): only a Config's ``from_spec`` takes it


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``"name:k=v:k2=v2"`` → (name, options). One piece without ``=`` is kept under ``POSITIONAL`` for a
    plugin whose ``Config.from_spec`` reads a shorthand (``bundle:FILE.zip``); ``build_config`` refuses it
    for every other plugin."""
    name, *opts = [s.strip() for s in spec.strip().split(":")]
    if not name:
        raise EmobenchError(f"empty plugin name in {spec!r}", "write NAME or NAME:option=value")
    options: dict[str, str] = {}
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not eq and opt and POSITIONAL not in options:
            options[POSITIONAL] = opt
            continue
        if not eq or not key.strip():
            raise EmobenchError(f"option {opt!r} of {spec!r} is not key=value", "write NAME:option=value:option2=value2")
        options[key.strip()] = value.strip()
    return name, options


def split_specs(text: str | None) -> list[str]:
    """Split a comma list of specs; a piece like ``k=v`` without a name continues the previous spec."""
    out: list[str] = []
    for piece in (p.strip() for p in (text or "").split(",")):
        if not piece:
            continue
        if out and "=" in piece and ":" not in piece.split("=", 1)[0]:
            out[-1] += ":" + piece
        else:
            out.append(piece)
    return out


def spec_label(name: str, config: Any, scaled: dict[str, Any] | None = None) -> str:
    """Canonical label: the name plus the options that differ from the defaults (with a zoo scale's
    ``scaled`` defaults over the Config's), sorted."""
    try:
        defaults = {**config_to_dict(type(config)()), **(scaled or {})}
    except TypeError:  # a Config with required fields has no defaults to compare with
        defaults = {}
    cur = config_to_dict(config)
    diff = [f"{k}={_fmt(v)}" for k, v in sorted(cur.items()) if k not in defaults or defaults[k] != v]
    return ":".join([name, *diff])


def _fmt(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "+".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def build_config(config_cls: type, options: dict[str, str], who: str) -> Any:
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}   # init=False: derived, not options
    hints = typing.get_type_hints(config_cls)
    if POSITIONAL in options:
        raise EmobenchError(f"option {options[POSITIONAL]!r} of {who} is not key=value",
                            "write NAME:option=value:option2=value2")
    unknown = sorted(set(options) - set(fields))
    if unknown:
        raise EmobenchError(f"{who} has no option {', '.join(map(repr, unknown))}",
                            f"its options are: {', '.join(fields) or 'none'}")
    kwargs = {}
    for key, raw in options.items():
        try:
            kwargs[key] = convert_option(raw, hints.get(key, str))
        except (TypeError, ValueError) as err:
            raise EmobenchError(f"{who}: option {key}={raw!r} is not a valid {type_name(hints.get(key))}",
                                f"give a value of that type ({err})") from None
    try:
        return config_cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise EmobenchError(f"{who}: bad options {options}: {err}", "check the plugin's options (`emobench list methods`)") from None


@lru_cache(maxsize=None)
def _registry(kind: str, env: str) -> Registry:
    return Registry(kind)


def methods() -> Registry:
    return _registry("method", os.environ.get(ENV_VAR, ""))


def metrics() -> Registry:
    return _registry("metric", os.environ.get(ENV_VAR, ""))
