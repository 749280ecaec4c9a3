"""Metric plugins, found through the ``emobench.metrics`` entry-point group (built-ins register the same way).

``metric_names()`` lists them; ``load_metric(name, config)`` instantiates one, with a clear error (and a
did-you-mean) for an unknown name or a plugin that fails to import.
"""
from __future__ import annotations

import difflib
from importlib.metadata import entry_points
from typing import Any

from emobench.errors import EmobenchError, PluginError

GROUP = "emobench.metrics"


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def metric_names() -> list[str]:
    return sorted(_entry_points())


def load_metric(name: str, config: Any = None):
    eps = _entry_points()
    if name not in eps:
        close = difflib.get_close_matches(name, list(eps), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise EmobenchError(f"unknown metric {name!r}",
                            f"{hint}available: {', '.join(sorted(eps)) or '(none registered)'}")
    try:
        cls = eps[name].load()
    except Exception as err:  # a broken plugin is reported, the others still run
        raise PluginError(f"metric plugin {name!r} failed to import ({type(err).__name__}: {err})",
                          "fix or uninstall the plugin") from err
    if isinstance(config, dict):
        config = cls.Config(**config)
    return cls(config)
