"""The methods of a run: each spec resolved to its plugin (``MethodSpec``), the label of its rows and the name
reports print, and the plan shown to every method before anything is written."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from emobench import registry
from emobench.api import Method, PlanContext
from emobench.errors import EmobenchError, PluginError
from emobench.spec import protocol
from emobench.spec.config import RunConfig
from emobench.spec.plan import Plan


@dataclass
class MethodSpec:
    label: str
    plugin: str
    method: Method | None
    error: str | None = None   # the plugin failed to import: recorded as a failed method, the others run
    position: int = 0          # place in the configured method list: the order of the report's tables
    display_name: str = ""     # what reports print (``display_label``)
    spec: str = ""             # the canonical spec config.json keeps (a resume re-creates the method from it);
                               # "" : the label (they differ only for a method naming its row, ``Method.run_label``)


def display_label(label: str, plugin_display: str | None) -> str:
    """``"emogen:mapper=fc"`` with display name ``EmoGen`` → ``"EmoGen (mapper=fc)"``; no display name: the label."""
    _, _, options = label.partition(":")
    if not plugin_display:
        return label
    return f"{plugin_display} ({options.replace(':', ', ')})" if options else plugin_display


def resolve_methods(specs: Sequence[str], scale: str | None = None) -> list[MethodSpec]:
    reg = registry.methods()
    # the default list leaves out controls (Method.control) and submissions (Method.external): only when named
    specs = list(specs) or [n for n in reg.available()
                            if not getattr(reg.get(n), "control", False) and not getattr(reg.get(n), "external", False)]
    if not specs:
        raise EmobenchError("no method plugins are installed", "reinstall emobench (bash scripts/setup.sh)")
    out: dict[str, MethodSpec] = {}
    for position, spec in enumerate(specs):
        name, options = registry.parse_spec(spec)
        try:
            label, method = reg.create(spec, scale)   # the zoo scale's defaults (paper budgets) fill unset options
        except PluginError as err:
            if name not in reg.broken():
                raise
            out[spec] = MethodSpec(spec, name, None, err.problem, position, spec)
            continue
        canonical, label = label, method.run_label() or label
        if label != canonical:
            _check_row_label(label, spec, canonical, reg, out)
        out[label] = MethodSpec(label, name, method, None, out[label].position if label in out else position,
                                display_label(label, getattr(type(method), "display_name", None)),
                                canonical if label != canonical else "")
    return [out[k] for k in sorted(out)]  # sorted: the order methods run in never matters


def _check_row_label(label: str, given: str, canonical: str, reg, out: dict[str, MethodSpec]) -> None:
    """A method naming its own row (``folder:NAME=DIR``) must not take an installed method's name or another row's."""
    if label in reg.names():
        raise EmobenchError(f"method {given!r} names its row {label!r}, the name of an installed method",
                            "give it a row name of its own in the spec")
    if label in out and (out[label].spec or out[label].label) != canonical:
        raise EmobenchError(f"two methods of the run are named {label!r}", "give each its own row name in the spec")


def check_plans(methods: list[MethodSpec], plan: Plan, cfg: RunConfig, zoo, contents) -> list[MethodSpec]:
    """Show each method the whole plan before anything is written (``Method.check_plan``): bad input (a
    submission missing cells) stops the run in one line; any other exception is the plugin's failure."""
    ctx = PlanContext(plan.cells, plan.latent_shape, plan.plan_hash, protocol.from_run(cfg, zoo, contents).to_json(),
                      (zoo.sampling.height, zoo.sampling.width))
    out = []
    for ms in methods:
        try:
            if ms.method is not None:
                ms.method.check_plan(ctx)
        except EmobenchError:
            raise
        except Exception as err:  # noqa: BLE001 — a plugin's bug fails that method only
            first = str(err).splitlines()[0] if str(err) else ""
            ms = dataclasses.replace(ms, method=None, error=f"{type(err).__name__}: {first} (in check_plan)")
        out.append(ms)
    return out
