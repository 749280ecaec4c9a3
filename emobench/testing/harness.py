"""``MethodHarness``: one method, one zoo, its fitted artifacts and a loaded instance, and one ``check_*``
method per entry of ``CHECKS``."""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Sequence

import torch

from emobench.api import BadOutput, Cell, FitContext, GenerationRequest, GenerationResult, Method, check_output
from emobench.errors import EmobenchError
from emobench.testing.plumbing import (ContractFailure, baseline_method_name, build_method, differ, expect,
                                       method_name, plan_latents, request, resolve_method_class,
                                       stochastic_sampler, zoo_state)
from emobench.zoo.base import STATE_PARTS, state_changes
from emobench.testing.report import ALLOWED_ARTIFACT_SUFFIXES, CHECKS, CheckResult, ContractSettings


class MethodHarness:
    """Holds the zoo, the method class, its fitted artifacts and one loaded instance across checks."""

    def __init__(self, name_or_class: str | type[Method], zoo: Any, settings: ContractSettings | None = None,
                 workdir: Path | None = None):
        self.name_or_class = name_or_class
        self.name = method_name(name_or_class)
        self.zoo = zoo
        self.settings = settings or ContractSettings()
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="emobench-contract-"))
        self.cls: type[Method] | None = None
        self.artifact_dir: Path | None = None
        self.fit_facts: dict[str, Any] | None = None
        self._loaded: Method | None = None
        self._state = zoo_state(zoo)
        # what the method is given, as in a run: the zoo read-only (assigning a shared attribute raises)
        self.view = zoo.for_method() if hasattr(zoo, "for_method") else zoo

    # --- lifecycle
    def method_class(self) -> type[Method]:
        if self.cls is None:
            self.cls = resolve_method_class(self.name_or_class)
        return self.cls

    def new_instance(self) -> Method:
        return build_method(self.method_class(), self.settings.options)

    def fitted_dir(self) -> Path | None:
        """Fit once (learning methods) into ``workdir/fit-a``; None for methods that do not learn."""
        cls = self.method_class()
        if not cls.learns:
            return None
        if self.artifact_dir is None:
            self.artifact_dir, self.fit_facts = self._fit(self.workdir / "fit-a")
        return self.artifact_dir

    def _fit(self, out: Path, method: Method | None = None) -> tuple[Path, dict[str, Any]]:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if getattr(self.zoo, "dataset", None) is None:
            raise ContractFailure(f"method {self.name!r} learns but zoo {getattr(self.zoo, 'name', '?')!r} has no dataset")
        ctx = FitContext(zoo=self.view, dataset=self.zoo.dataset, emotions=list(self.settings.emotions),
                         artifact_dir=out, seed=self.settings.fit_seed)
        # A fit must take its randomness from ctx.seed: give each fit a different global RNG state so one
        # that draws from the global generator shows up as non-reproducible (restored afterwards).
        saved = torch.get_rng_state()
        try:
            torch.manual_seed(sum(map(ord, out.name)))
            facts = (method or self.new_instance()).fit(ctx)
        finally:
            torch.set_rng_state(saved)
        return out, facts

    def loaded(self) -> Method:
        if self._loaded is None:
            self._loaded = self.fresh_loaded()
        return self._loaded

    def fresh_loaded(self, artifact_dir: Path | None = None) -> Method:
        m = self.new_instance()
        m.load(self.view, artifact_dir if artifact_dir is not None else self.fitted_dir())
        return m

    def requests(self, *specs: tuple[str, int]) -> list[GenerationRequest]:
        return [request(self.zoo, e, s, self.settings.template) for e, s in specs]

    def generate(self, method: Method, reqs: Sequence[GenerationRequest]) -> GenerationResult:
        out = method.generate(list(reqs))
        expect(isinstance(out, GenerationResult),
                f"generate() returned {type(out).__name__}, expected emobench.api.GenerationResult")
        expect(isinstance(out.images, torch.Tensor), f"images is {type(out.images).__name__}, expected a tensor")
        expect(out.images.dim() == 4 and out.images.shape[0] == len(reqs),
                f"images has shape {tuple(out.images.shape)} for {len(reqs)} requests, expected [N,3,H,W]")
        return out

    def close(self) -> None:
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # --- checks
    def run(self, check: str) -> CheckResult:
        if check not in CHECKS:
            raise EmobenchError(f"unknown contract check {check!r}", f"choose from {', '.join(CHECKS)}")
        t0 = time.perf_counter()
        try:
            outcome = getattr(self, f"check_{check}")()
            skipped, detail = (True, outcome[1]) if isinstance(outcome, tuple) else (False, outcome or "")
            return CheckResult(check, True, detail, time.perf_counter() - t0, skipped)
        except ContractFailure as err:
            return CheckResult(check, False, str(err), time.perf_counter() - t0)
        except EmobenchError as err:
            return CheckResult(check, False, f"EmobenchError: {err}", time.perf_counter() - t0)
        except Exception as err:  # a crash inside the plugin is a failed check, with where it happened
            where = traceback.extract_tb(err.__traceback__)[-1]
            return CheckResult(check, False, f"{type(err).__name__}: {err} (at {Path(where.filename).name}:"
                               f"{where.lineno})", time.perf_counter() - t0)

    def check_resolve(self) -> str:
        cls = self.method_class()
        expect(isinstance(getattr(cls, "name", None), str) and cls.name, "the class has no `name`")
        expect(dataclasses.is_dataclass(cls.Config), f"{cls.__name__}.Config is not a dataclass")
        m = self.new_instance()
        expect(isinstance(m.config, cls.Config), "Method.__init__ did not keep the built config as self.config")
        json.dumps(dataclasses.asdict(m.config), default=str)  # the config goes into config.json and the key
        return f"{cls.__module__}:{cls.__qualname__} (learns={cls.learns})"

    def check_bad_config(self) -> str:
        cls = self.method_class()
        bad_sets: list[dict[str, Any]] = [{"no_such_option_xyz": 1}] + [dict(b) for b in self.settings.bad_options]
        for bad in bad_sets:
            opts = {**self.settings.options, **bad}
            try:
                m = build_method(cls, opts)
                m.load(self.view, None) if not cls.learns else None
            except EmobenchError as err:
                expect(any(k in str(err) for k in bad), f"the error for {bad} does not name the option: {err}")
                continue
            except Exception as err:
                raise ContractFailure(f"options {bad} raised {type(err).__name__}: {err} instead of an EmobenchError")
            raise ContractFailure(f"options {bad} were accepted; expected an EmobenchError naming the option")
        return f"{len(bad_sets)} bad option set(s) rejected with a clear error"

    def check_fit_artifacts(self) -> str | tuple[bool, str]:
        cls = self.method_class()
        if not cls.learns:
            return (True, "method does not learn")
        art = self.fitted_dir()
        assert art is not None
        json.dumps(self.fit_facts, default=None)  # must be JSON-able as returned
        files = [p for p in art.rglob("*") if p.is_file()]
        expect(bool(files), "fit() wrote nothing into artifact_dir")
        unsafe = [str(p.relative_to(art)) for p in files if not p.name.endswith(ALLOWED_ARTIFACT_SUFFIXES)]
        expect(not unsafe, f"fit() wrote files that are not safetensors/json/text: {unsafe}")
        from safetensors.torch import load_file

        tensors = {str(p.relative_to(art)): load_file(p) for p in files if p.suffix == ".safetensors"}
        for p in files:
            if p.suffix == ".json":
                json.loads(p.read_text())
        # Reload from a copy elsewhere: artifacts must not depend on their path or on the fitting process.
        moved = self.workdir / "fit-moved"
        shutil.rmtree(moved, ignore_errors=True)
        shutil.copytree(art, moved)
        reqs = self.requests((self.settings.emotions[0], 0), (self.settings.emotions[1], 1))
        a = self.generate(self.fresh_loaded(art), reqs).images
        b = self.generate(self.fresh_loaded(moved), reqs).images
        expect(differ(a, b) == 0, "two instances loaded from the same artifacts give different images")
        detail = f"{len(files)} file(s), {sum(len(t) for t in tensors.values())} tensor(s)"
        if self.settings.check_fit_determinism:
            art_b, _ = self._fit(self.workdir / "fit-b")
            for rel, ta in tensors.items():
                tb = load_file(art_b / rel)
                same = ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
                expect(same, f"fitting twice with seed {self.settings.fit_seed} gave different {rel}")
            detail += "; refit with the same seed is bit-identical"
        return detail

    def check_output_contract(self) -> str:
        zoo = self.zoo
        e0, e1 = self.settings.emotions
        reqs = self.requests((e0, 0), (e1, 0), (e0, 1))
        out = self.generate(self.loaded(), reqs)
        h, w = zoo.sampling.height, zoo.sampling.width
        try:
            x = check_output(out, 3, (h, w), strict=True)
        except BadOutput as err:
            raise ContractFailure(str(err)) from err
        lo, hi = float(x.min()), float(x.max())
        return f"3 images {h}x{w} float32 in [{lo:.3f}, {hi:.3f}]; prompt[0]={out.prompts[0]!r}"

    def check_seeds_honoured(self) -> str:
        e0 = self.settings.emotions[0]
        x = self.generate(self.loaded(), self.requests((e0, 0), (e0, 1), (e0, 0))).images
        expect(differ(x[0], x[1]) > 0, "seeds 0 and 1 gave the same image")
        expect(differ(x[0], x[2]) == 0, "the same seed twice in one batch gave different images")
        return "seed 0 ≠ seed 1; seed 0 twice identical"

    def check_latents_honoured(self) -> str | tuple[bool, str]:
        if not self.settings.uses_latents:
            return (True, "plugin declares uses_latents=False (seeds check still applies)")
        e0 = self.settings.emotions[0]
        cell = Cell(e0, self.settings.template, 0)
        lat_a = plan_latents(self.zoo, 0)
        lat_b = plan_latents(self.zoo, 12345)
        m = self.loaded()
        a = self.generate(m, [GenerationRequest(cell, lat_a)]).images
        b = self.generate(m, [GenerationRequest(cell, lat_b)]).images
        a2 = self.generate(m, [GenerationRequest(cell, lat_a.clone())]).images
        expect(differ(a, b) > 0, "different latents for the same cell gave the same image: "
                "pass request.latents to the pipeline (latents=...)")
        expect(differ(a, a2) == 0, "the same latents in two calls gave different images")
        return "different latents → different images; same latents → same image"

    def check_determinism(self) -> str:
        e0, e1 = self.settings.emotions
        reqs = self.requests((e0, 0), (e1, 1))
        # Different global RNG states for the two runs: a method that draws from them instead of the
        # request now differs. (The caller's RNG state is restored afterwards.)
        saved = torch.get_rng_state()
        try:
            torch.manual_seed(1)
            a = self.generate(self.loaded(), reqs).images
            torch.manual_seed(2)
            b = self.generate(self.fresh_loaded(), reqs).images
        finally:
            torch.set_rng_state(saved)
        n = differ(a, b)
        expect(n == 0, f"a fresh instance gave different images ({n} stored values differ)")
        return "fresh instance bit-identical (global RNG state disturbed in between)"

    def check_batch_independence(self) -> str:
        e0, e1 = self.settings.emotions
        reqs = self.requests((e0, 0), (e1, 1), (e1, 2))
        m = self.loaded()
        together = self.generate(m, reqs).images
        alone = torch.cat([self.generate(m, [r]).images for r in reversed(reqs)][::-1])
        n = differ(together, alone)
        diff = float((together - alone).abs().max())
        expect(n == 0, f"batch of 3 vs one at a time: {n} stored values differ (max float diff {diff:.2e})")
        return f"batch of 3 = one at a time (max float diff {diff:.1e})"

    def check_zoo_untouched(self) -> str:
        # Every method shares one loaded zoo in a run: a LoRA left attached, a token added to the tokenizer,
        # weights edited in place, other sampling defaults or another judge would change the images (or
        # scores) of whichever method runs next, under the same store keys. Every shared attribute is checked.
        self.generate(self.loaded(), self.requests((self.settings.emotions[0], 0)))
        changed = state_changes(self._state, zoo_state(self.zoo))
        expect(not changed, f"the shared zoo changed ({', '.join(changed)}): the pipeline's weights, adapters, "
               "attention processors, tokenizer or scheduler, or another shared attribute; work on a copy "
               "(emobench.sampling.private_pipeline), or undo the change before returning")
        return f"every shared attribute of the zoo ({len(STATE_PARTS)} parts) is unchanged after fit, load and generate"

    def check_step_noise_honoured(self) -> str | tuple[bool, str]:
        # Without any declaration by the plugin: same start latents, different cell seeds must give different
        # images (the step noise follows the cell), and the same cell twice the same image. A method that draws
        # its own step noise (a fixed generator, or none) fails here, silent or not.
        if not stochastic_sampler(self.zoo):
            return (True, f"zoo {getattr(self.zoo, 'name', '?')!r} samples deterministically: no step noise to check")
        e0 = self.settings.emotions[0]
        lat = plan_latents(self.zoo, 0)
        m = self.loaded()
        reqs = [GenerationRequest(Cell(e0, self.settings.template, s), lat.clone()) for s in (0, 1, 0)]
        x = self.generate(m, reqs).images
        expect(differ(x[0], x[1]) > 0, "the same start latents with cell seeds 0 and 1 gave the same image: the step "
               "noise does not follow the cell (pass generator=emobench.sampling.cell_generators(...), or use "
               "emobench.sampling.sample)")
        expect(differ(x[0], x[2]) == 0, "the same cell twice gave different images: its step noise is not "
               "seeded by the cell")
        return "same latents: seed 0 ≠ seed 1; the same cell twice identical"

    def check_reduces_to_baseline(self) -> str | tuple[bool, str]:
        # Seeds, latents, determinism and batch checks all pass for a method that ignores ``generator=``: the
        # scheduler then seeds its step noise another way, just as reproducibly. Only a comparison with a
        # method that takes the plan's step noise shows it, on options the method says make the two equal.
        cls = self.method_class()
        reduced = getattr(cls, "reduces_to_baseline", None)
        baseline = self.settings.baseline or baseline_method_name()
        if reduced is not None and baseline is None:
            return (True, "no installed method declares itself the baseline (Method.is_baseline)")
        if reduced is None:
            return (True, f"the method declares no options that reduce it to {baseline!r}")
        if self.name == baseline:
            return (True, f"the method is the baseline {baseline!r}")
        options = {**self.settings.options, **dict(reduced)}
        method = build_method(cls, options)
        art = None
        if cls.learns:  # fitted as declared: reuse the harness's fit when the options do not change it
            same_fit = method.fit_config() == self.new_instance().fit_config()
            art = self.fitted_dir() if same_fit else self._fit(self.workdir / "fit-reduced", method)[0]
        method.load(self.view, art)
        base = build_method(resolve_method_class(baseline), {})
        base.load(self.zoo.for_method() if hasattr(self.zoo, "for_method") else self.zoo, None)
        e0, e1 = self.settings.emotions
        reqs = self.requests((e0, 0), (e1, 1), (e0, 2))
        mine, theirs = self.generate(method, reqs).images, self.generate(base, reqs).images
        n = differ(mine, theirs)
        expect(n == 0, f"with options {dict(reduced)} the images differ from {baseline!r}'s in {n} stored values: "
               "take the plan's step noise (emobench.sampling.sample, or generator=cell_generators(...)) and "
               "the plan's latents, and sample as the baseline does")
        return f"with {dict(reduced)}: byte-identical to {baseline!r} on 3 cells"
