"""Metric plugins, found through the ``emobench.metrics`` entry-point group (built-ins register the same way).

Discovery, did-you-mean and option parsing live in the core registry (``emobench.registry``); these are the
two calls the scorer needs. A spec may carry options for the metric's Config: ``sem-d:max_pairs=1000``.
"""
from __future__ import annotations

from typing import Any


def metric_names() -> list[str]:
    from emobench import registry

    return registry.metrics().available()


def load_metric(spec: str) -> Any:
    """A metric instance from a spec (``NAME`` or ``NAME:option=value``); EmobenchError if unknown or broken."""
    from emobench import registry

    return registry.metrics().create(spec)[1]
