"""Discovering judge plugins and assembling a zoo's panel.

Judge plugins come from the entry-point group ``emobench.judges`` (the built-ins are registered there too,
in emobench's own ``pyproject.toml``) and, for local development and tests, from ``EMOBENCH_JUDGES``
(``"name=module:Class,name2=module:Class2"``). A plugin that fails to import is reported, never fatal.

``load_panel(zoo)`` builds every plugin's judge for that zoo: the panel is whatever this zoo can provide,
with the reason for each judge it cannot.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Sequence

from emobench.errors import EmobenchError
from emobench.judges.base import Judge, JudgePlugin, JudgeUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from emobench.zoo.base import Zoo

GROUP = "emobench.judges"
ENV_VAR = "EMOBENCH_JUDGES"


@dataclass
class JudgeEntry:
    name: str
    target: str
    cls: type[JudgePlugin] | None = None
    error: str | None = None


def _entry_points() -> list[EntryPoint]:
    eps = list(entry_points(group=GROUP))
    for item in filter(None, (s.strip() for s in os.environ.get(ENV_VAR, "").split(","))):
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or ":" not in value:
            warnings.warn(f"{ENV_VAR}: ignoring malformed entry {item!r} (want name=module:Class)")
            continue
        eps.append(EntryPoint(name=name.strip(), value=value.strip(), group=GROUP))
    return eps


def judge_plugins() -> dict[str, JudgeEntry]:
    """Every registered judge plugin by name, loaded (``cls``) or with the reason it failed (``error``)."""
    out: dict[str, JudgeEntry] = {}
    for ep in _entry_points():
        if ep.name in out:
            if out[ep.name].target != ep.value:
                out[ep.name].cls = None
                out[ep.name].error = f"two plugins claim the name {ep.name!r}: {out[ep.name].target} and {ep.value}"
            continue
        entry = out[ep.name] = JudgeEntry(ep.name, ep.value)
        try:
            obj = ep.load()
            if not (isinstance(obj, type) and issubclass(obj, JudgePlugin)):
                raise TypeError(f"{ep.value} is not a subclass of emobench.judges.JudgePlugin")
            if getattr(obj, "name", None) != ep.name:
                raise TypeError(f"{ep.value}.name is {getattr(obj, 'name', None)!r}, registered as {ep.name!r}")
            entry.cls = obj
        except Exception as err:  # noqa: BLE001 — a broken plugin is reported, the others still load
            entry.error = f"{type(err).__name__}: {err}".splitlines()[0]
            warnings.warn(f"emobench: judge plugin {ep.name!r} ({ep.value}) failed to load: {entry.error}")
    return dict(sorted(out.items()))


@dataclass
class Panel:
    """The judges a zoo provides (primary first, then by name), and why the others are absent."""

    judges: list[Judge] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)   # plugin name → reason

    @property
    def primary(self) -> Judge | None:
        return next((j for j in self.judges if j.primary), None)

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.judges]

    def get(self, name: str) -> Judge:
        for j in self.judges:
            if j.name == name or (name == "primary" and j.primary):
                return j
        why = self.unavailable.get(name)
        raise EmobenchError(f"judge {name!r} is not in this zoo's panel" + (f" ({why})" if why else ""),
                            f"the panel has: {', '.join(self.names) or 'none'} (`emobench list judges --zoo Z`)")


def load_panel(zoo: "Zoo", names: Sequence[str] | None = None) -> Panel:
    """Build the judges of ``zoo`` (all plugins, or only ``names``). Unknown names are an error; a plugin
    that cannot serve this zoo is listed in ``unavailable``."""
    plugins = judge_plugins()
    if names is not None:
        unknown = [n for n in names if n not in plugins and n != "primary"]
        if unknown:
            raise EmobenchError(f"unknown judge {', '.join(map(repr, unknown))}",
                                f"installed judges: {', '.join(plugins) or 'none'} (`emobench list judges`)")
    panel = Panel()
    for name, entry in plugins.items():
        if names is not None and name not in names and "primary" not in names:
            continue
        if entry.cls is None:
            panel.unavailable[name] = f"failed to load: {entry.error}"
            continue
        try:
            judge = entry.cls().build(zoo)
        except JudgeUnavailable as why:
            panel.unavailable[name] = str(why)
            continue
        if judge.name != name:
            raise EmobenchError(f"judge plugin {name!r} built a judge named {judge.name!r}",
                                "a plugin's judge carries the plugin's registered name")
        panel.judges.append(judge)
    if names is not None:
        keep = set(names)
        panel.judges = [j for j in panel.judges if j.name in keep or (j.primary and "primary" in keep)]
    panel.judges.sort(key=lambda j: (not j.primary, j.name))
    return panel


__all__ = ["GROUP", "ENV_VAR", "JudgeEntry", "Panel", "judge_plugins", "load_panel"]
