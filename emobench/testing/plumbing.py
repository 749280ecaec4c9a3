"""The kit's plumbing: building a method the way ``emobench run`` does, requests exactly as the plan makes
them, images compared as the store keeps them (uint8), and the failure type of a contract check."""
from __future__ import annotations

from typing import Any, Mapping

import torch

from emobench.api import Cell, GenerationRequest, Method
from emobench.errors import EmobenchError
from emobench.io.images import to_uint8
from emobench.testing.report import DEFAULT_TEMPLATE


def resolve_method_class(name_or_class: str | type[Method]) -> type[Method]:
    """The class behind a method name, found through the ``emobench.methods`` entry points."""
    if isinstance(name_or_class, type):
        if not issubclass(name_or_class, Method):
            raise EmobenchError(f"{name_or_class!r} is not an emobench.api.Method subclass",
                                "subclass emobench.api.Method and implement load() and generate()")
        return name_or_class
    from emobench import registry

    return registry.methods().get(name_or_class)


def baseline_method_name() -> str | None:
    """The installed method that declares itself the plain baseline (``Method.is_baseline``), if any."""
    from emobench import registry

    reg = registry.methods()
    return next((n for n in sorted(reg.available()) if getattr(reg.get(n), "is_baseline", False)), None)


def _option_text(value: Any) -> str:
    """Options go through the CLI's own parser (``registry.build_config``), so give it CLI text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "+".join(map(str, value))
    return "none" if value is None else str(value)


def build_method(cls: type[Method], options: Mapping[str, Any]) -> Method:
    """Instantiate with options, through the same config builder ``emobench run`` uses."""
    from emobench.registry import build_config

    config = build_config(cls.Config, {k: _option_text(v) for k, v in options.items()},
                          f"method {getattr(cls, 'name', cls.__name__)!r}")
    return cls(config)


def method_name(name_or_class: str | type[Method]) -> str:
    return name_or_class if isinstance(name_or_class, str) else getattr(name_or_class, "name", name_or_class.__name__)


def plan_latents(zoo: Any, seed: int) -> torch.Tensor:
    """The cell latent exactly as the plan draws it (docs/ARCHITECTURE.md, "Plan and seeds")."""
    from emobench.spec.plan import cell_latent

    return cell_latent(seed, zoo.latent_shape())


def request(zoo: Any, emotion: str, seed: int, template: str = DEFAULT_TEMPLATE,
            latents: torch.Tensor | None = None) -> GenerationRequest:
    cell = Cell(emotion, template, seed)
    return GenerationRequest(cell, plan_latents(zoo, seed) if latents is None else latents)


def as_stored(images: torch.Tensor) -> torch.Tensor:
    """uint8 exactly as the store writes PNGs."""
    return to_uint8(images)


def differ(a: torch.Tensor, b: torch.Tensor) -> int:
    """Number of stored (uint8) values that differ."""
    return int((as_stored(a) != as_stored(b)).sum())


class ContractFailure(Exception):
    """A contract violation (as opposed to a crash in the plugin)."""


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise ContractFailure(message)


def fingerprint(zoo: Any) -> int | None:
    pipe = getattr(zoo, "pipeline", None)
    if pipe is None:
        return None
    return zoo.pipeline_fingerprint()


def zoo_state(zoo: Any) -> tuple:
    """Every shared attribute of the zoo (``Zoo.state``), the pipeline loaded first so it is compared too."""
    if getattr(zoo, "pipeline", None) is not None:
        zoo.pipeline   # noqa: B018 — load a pending pipeline now: its state is part of what is compared
    return zoo.state()


def stochastic_sampler(zoo: Any) -> bool:
    """Whether the zoo's scheduler draws step noise: one step from the same sample with two generators differs."""
    pipe = getattr(zoo, "pipeline", None)
    sched = getattr(pipe, "scheduler", None)
    if sched is None:
        return False
    import copy
    import inspect

    if "generator" not in inspect.signature(sched.step).parameters:   # PNDM and other deterministic samplers
        return False

    probe = copy.deepcopy(sched)
    probe.set_timesteps(2)
    t = probe.timesteps[0]
    shape = (1, *zoo.latent_shape())
    sample = torch.zeros(shape)
    out = torch.full(shape, 0.1)
    a = probe.step(out, t, sample, generator=torch.Generator("cpu").manual_seed(1)).prev_sample
    probe = copy.deepcopy(sched)
    probe.set_timesteps(2)
    b = probe.step(out, t, sample, generator=torch.Generator("cpu").manual_seed(2)).prev_sample
    return not torch.equal(a, b)
