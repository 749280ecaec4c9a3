"""Tiny fit budgets for the built-in learning methods (a few optimiser steps on a few images), passed as
ordinary config options, as a plugin author would pass them to the contract kit."""
from __future__ import annotations

import dataclasses
from importlib.metadata import entry_points

TINY_OPTIONS: dict[str, dict[str, object]] = {
    "textual-inversion": {"steps": 2, "batch_size": 2, "max_images": 4},
    "dreambooth": {"steps": 2, "batch_size": 2, "max_images": 4},
    "emogen": {"steps": 2, "batch_size": 2},
}
BUILTIN_PACKAGES = ("baselines.", "emogen.", "emobench.")


def builtin_methods() -> list[str]:
    """Methods shipped with emobench (entry points into its own packages), not third-party plugins."""
    return sorted(ep.name for ep in entry_points(group="emobench.methods") if ep.value.startswith(BUILTIN_PACKAGES))


def needs_input(name: str) -> bool:
    """A method with a required option (``folder:NAME=DIR``, ``bundle:FILE.zip``) reads the user's images;
    it cannot run from its name alone."""
    from emobench import registry

    return any(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               for f in dataclasses.fields(registry.methods().get(name).Config))


def generating_methods() -> list[str]:
    """Built-in methods that run from their name alone (every option has a default)."""
    return [m for m in builtin_methods() if not needs_input(m)]


def spec(name: str) -> str:
    """``name:opt=v:...`` as ``--methods`` takes it."""
    return ":".join([name, *(f"{k}={v}" for k, v in TINY_OPTIONS.get(name, {}).items())])
