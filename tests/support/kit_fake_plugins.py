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


class KillableMethod(Method):
    """Cheap deterministic images from the plan latents; dies (like an OOM-killed process) on its second
    generate call in the rank named by EMOBENCH_TEST_KILL_RANK, to test that a dead shard is re-run."""

    name = "killable"

    def load(self, zoo, artifact_dir):
        self.size, self.calls = (zoo.sampling.height, zoo.sampling.width), 0

    def generate(self, requests):
        import os

        kill = os.environ.get("EMOBENCH_TEST_KILL_RANK")
        if kill is not None and self.calls >= 1 and kill == os.environ.get("RANK"):
            os._exit(17)
        self.calls += 1
        imgs = []
        for r in requests:
            x = r.latents[torch.arange(3) % r.latents.shape[0]][None]
            imgs.append(torch.sigmoid(torch.nn.functional.interpolate(x, size=self.size, mode="nearest"))[0])
        return GenerationResult(torch.stack(imgs), [r.cell.prompt() for r in requests])
