"""Misbehaving method plugins for the failure-isolation test (loaded through EMOBENCH_PLUGINS)."""
from __future__ import annotations

import torch

from emobench.api import GenerationResult, Method


class _Flat(Method):
    name = "flat"

    def load(self, zoo, artifact_dir):
        self.size = (zoo.sampling.height, zoo.sampling.width)

    def generate(self, requests):
        return GenerationResult(torch.full((len(requests), 3, *self.size), 0.5), [r.cell.prompt() for r in requests])


class NaNMethod(_Flat):
    name = "nan"

    def generate(self, requests):
        out = super().generate(requests)
        out.images[:, 0, 0, 0] = float("nan")
        return out


class WrongCountMethod(_Flat):
    name = "wrong-count"

    def generate(self, requests):
        out = super().generate(requests)
        return GenerationResult(out.images[:1], out.prompts[:1])


class CrashMethod(_Flat):
    name = "crash"

    def generate(self, requests):
        raise RuntimeError("out of ideas mid-run")
