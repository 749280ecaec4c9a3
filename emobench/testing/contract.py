"""The method contract kit: the checks every method plugin must pass, against any zoo (a tiny one in tests).

Two ways in, both running the same checks:

* ``check_method("mine", zoo, options={...})`` returns a :class:`ContractReport` (used by
  ``emobench validate-plugin`` and by the built-in methods' CI test);
* ``class TestMine(MethodContractTests): method = "mine"`` gives one pytest test per check, the way
  diffusers' ``PipelineTesterMixin`` gives every pipeline the same tests.

Images are compared the way the store keeps them (uint8, ``round(x * 255)``), because that is what every
score is computed from; a float difference that never reaches a PNG is not a contract violation.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

import torch

from emobench.api import BadOutput, Cell, FitContext, GenerationRequest, GenerationResult, Method, check_output
from emobench.errors import EmobenchError
from emobench.rundir import to_uint8

# Files a fit may leave behind. Anything else (pickles above all) breaks the "never unpickle" rule.
ALLOWED_ARTIFACT_SUFFIXES = (".safetensors", ".json", ".txt", ".md", ".csv")
DEFAULT_TEMPLATE = "an image of {emotion}"

CHECKS: tuple[str, ...] = (
    "resolve",             # the name resolves through the entry point and the config builds
    "bad_config",          # an unknown or invalid option is an EmobenchError naming it
    "fit_artifacts",       # (learning methods) fit writes only safe files; a fresh load reproduces images
    "output_contract",     # count, size, dtype, range, finiteness, prompts, extras
    "seeds_honoured",      # different plan seeds → different images, the same seed → the same image
    "latents_honoured",    # different latents → different images, the same latents → the same image
    "determinism",         # a fresh instance gives bit-identical images
    "batch_independence",  # an image does not depend on what else is in its batch
    "zoo_untouched",       # fit/load/generate leave the shared zoo pipeline as they found it
)


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0
    skipped: bool = False

    @property
    def status(self) -> str:
        return "skip" if self.skipped else ("PASS" if self.passed else "FAIL")


@dataclass
class ContractReport:
    method: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.passed or r.skipped for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not (r.passed or r.skipped)]

    def result(self, name: str) -> CheckResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def format(self) -> str:
        width = max(len(c) for c in CHECKS)
        lines = [f"contract for method {self.method!r}:"]
        for r in self.results:
            lines.append(f"  {r.status:4}  {r.name:<{width}}  {r.seconds:6.2f}s  {r.detail}")
        verdict = "all checks passed" if self.ok else f"{len(self.failed)} check(s) failed"
        lines.append(f"{self.method}: {verdict}")
        return "\n".join(lines)


@dataclass
class ContractSettings:
    """What a plugin declares about itself for the kit.

    ``options``: config options used for every check (tiny fit settings for learning methods).
    ``uses_latents``: False for a method that cannot take a latent (it must still honour the seed).
    ``bad_options``: extra option sets the plugin promises to reject with an ``EmobenchError``.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    emotions: tuple[str, str] = ("amusement", "fear")
    template: str = DEFAULT_TEMPLATE
    uses_latents: bool = True
    bad_options: Sequence[Mapping[str, Any]] = ()
    fit_seed: int = 0
    check_fit_determinism: bool = True


# --------------------------------------------------------------------------------------------- plumbing
def resolve_method_class(name_or_class: str | type[Method]) -> type[Method]:
    """The class behind a method name, found through the ``emobench.methods`` entry points."""
    if isinstance(name_or_class, type):
        if not issubclass(name_or_class, Method):
            raise EmobenchError(f"{name_or_class!r} is not an emobench.api.Method subclass",
                                "subclass emobench.api.Method and implement load() and generate()")
        return name_or_class
    from emobench import registry

    return registry.methods().get(name_or_class)


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
    from emobench.plan import cell_latent

    return cell_latent(seed, zoo.latent_shape())


def request(zoo: Any, emotion: str, seed: int, template: str = DEFAULT_TEMPLATE,
            latents: torch.Tensor | None = None) -> GenerationRequest:
    cell = Cell(emotion, template, seed)
    return GenerationRequest(cell, plan_latents(zoo, seed) if latents is None else latents)


def as_stored(images: torch.Tensor) -> torch.Tensor:
    """uint8 exactly as the store writes PNGs."""
    return to_uint8(images)


def _differ(a: torch.Tensor, b: torch.Tensor) -> int:
    """Number of stored (uint8) values that differ."""
    return int((as_stored(a) != as_stored(b)).sum())


class _Failed(Exception):
    """A contract violation (as opposed to a crash in the plugin)."""


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise _Failed(message)


# --------------------------------------------------------------------------------------------- harness
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
        self._fingerprint = _fingerprint(zoo)

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

    def _fit(self, out: Path) -> tuple[Path, dict[str, Any]]:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        if getattr(self.zoo, "dataset", None) is None:
            raise _Failed(f"method {self.name!r} learns but zoo {getattr(self.zoo, 'name', '?')!r} has no dataset")
        ctx = FitContext(zoo=self.zoo, dataset=self.zoo.dataset, emotions=list(self.settings.emotions),
                         artifact_dir=out, seed=self.settings.fit_seed)
        # A fit must take its randomness from ctx.seed: give each fit a different global RNG state so one
        # that draws from the global generator shows up as non-reproducible (restored afterwards).
        saved = torch.get_rng_state()
        try:
            torch.manual_seed(sum(map(ord, out.name)))
            facts = self.new_instance().fit(ctx)
        finally:
            torch.set_rng_state(saved)
        return out, facts

    def loaded(self) -> Method:
        if self._loaded is None:
            self._loaded = self.fresh_loaded()
        return self._loaded

    def fresh_loaded(self, artifact_dir: Path | None = None) -> Method:
        m = self.new_instance()
        m.load(self.zoo, artifact_dir if artifact_dir is not None else self.fitted_dir())
        return m

    def requests(self, *specs: tuple[str, int]) -> list[GenerationRequest]:
        return [request(self.zoo, e, s, self.settings.template) for e, s in specs]

    def generate(self, method: Method, reqs: Sequence[GenerationRequest]) -> GenerationResult:
        out = method.generate(list(reqs))
        _expect(isinstance(out, GenerationResult),
                f"generate() returned {type(out).__name__}, expected emobench.api.GenerationResult")
        _expect(isinstance(out.images, torch.Tensor), f"images is {type(out.images).__name__}, expected a tensor")
        _expect(out.images.dim() == 4 and out.images.shape[0] == len(reqs),
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
        except _Failed as err:
            return CheckResult(check, False, str(err), time.perf_counter() - t0)
        except EmobenchError as err:
            return CheckResult(check, False, f"EmobenchError: {err}", time.perf_counter() - t0)
        except Exception as err:  # a crash inside the plugin is a failed check, with where it happened
            where = traceback.extract_tb(err.__traceback__)[-1]
            return CheckResult(check, False, f"{type(err).__name__}: {err} (at {Path(where.filename).name}:"
                               f"{where.lineno})", time.perf_counter() - t0)

    def check_resolve(self) -> str:
        cls = self.method_class()
        _expect(isinstance(getattr(cls, "name", None), str) and cls.name, "the class has no `name`")
        _expect(dataclasses.is_dataclass(cls.Config), f"{cls.__name__}.Config is not a dataclass")
        m = self.new_instance()
        _expect(isinstance(m.config, cls.Config), "Method.__init__ did not keep the built config as self.config")
        json.dumps(dataclasses.asdict(m.config), default=str)  # the config goes into config.json and the key
        return f"{cls.__module__}:{cls.__qualname__} (learns={cls.learns})"

    def check_bad_config(self) -> str:
        cls = self.method_class()
        bad_sets: list[dict[str, Any]] = [{"no_such_option_xyz": 1}] + [dict(b) for b in self.settings.bad_options]
        for bad in bad_sets:
            opts = {**self.settings.options, **bad}
            try:
                m = build_method(cls, opts)
                m.load(self.zoo, None) if not cls.learns else None
            except EmobenchError as err:
                _expect(any(k in str(err) for k in bad), f"the error for {bad} does not name the option: {err}")
                continue
            except Exception as err:
                raise _Failed(f"options {bad} raised {type(err).__name__}: {err} instead of an EmobenchError")
            raise _Failed(f"options {bad} were accepted; expected an EmobenchError naming the option")
        return f"{len(bad_sets)} bad option set(s) rejected with a clear error"

    def check_fit_artifacts(self) -> str | tuple[bool, str]:
        cls = self.method_class()
        if not cls.learns:
            return (True, "method does not learn")
        art = self.fitted_dir()
        assert art is not None
        json.dumps(self.fit_facts, default=None)  # must be JSON-able as returned
        files = [p for p in art.rglob("*") if p.is_file()]
        _expect(bool(files), "fit() wrote nothing into artifact_dir")
        unsafe = [str(p.relative_to(art)) for p in files if not p.name.endswith(ALLOWED_ARTIFACT_SUFFIXES)]
        _expect(not unsafe, f"fit() wrote files that are not safetensors/json/text: {unsafe}")
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
        _expect(_differ(a, b) == 0, "two instances loaded from the same artifacts give different images")
        detail = f"{len(files)} file(s), {sum(len(t) for t in tensors.values())} tensor(s)"
        if self.settings.check_fit_determinism:
            art_b, _ = self._fit(self.workdir / "fit-b")
            for rel, ta in tensors.items():
                tb = load_file(art_b / rel)
                same = ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)
                _expect(same, f"fitting twice with seed {self.settings.fit_seed} gave different {rel}")
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
            raise _Failed(str(err)) from err
        lo, hi = float(x.min()), float(x.max())
        return f"3 images {h}x{w} float32 in [{lo:.3f}, {hi:.3f}]; prompt[0]={out.prompts[0]!r}"

    def check_seeds_honoured(self) -> str:
        e0 = self.settings.emotions[0]
        x = self.generate(self.loaded(), self.requests((e0, 0), (e0, 1), (e0, 0))).images
        _expect(_differ(x[0], x[1]) > 0, "seeds 0 and 1 gave the same image")
        _expect(_differ(x[0], x[2]) == 0, "the same seed twice in one batch gave different images")
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
        _expect(_differ(a, b) > 0, "different latents for the same cell gave the same image: "
                "pass request.latents to the pipeline (latents=...)")
        _expect(_differ(a, a2) == 0, "the same latents in two calls gave different images")
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
        n = _differ(a, b)
        _expect(n == 0, f"a fresh instance gave different images ({n} stored values differ)")
        return "fresh instance bit-identical (global RNG state disturbed in between)"

    def check_batch_independence(self) -> str:
        e0, e1 = self.settings.emotions
        reqs = self.requests((e0, 0), (e1, 1), (e1, 2))
        m = self.loaded()
        together = self.generate(m, reqs).images
        alone = torch.cat([self.generate(m, [r]).images for r in reversed(reqs)][::-1])
        n = _differ(together, alone)
        diff = float((together - alone).abs().max())
        _expect(n == 0, f"batch of 3 vs one at a time: {n} stored values differ (max float diff {diff:.2e})")
        return f"batch of 3 = one at a time (max float diff {diff:.1e})"

    def check_zoo_untouched(self) -> str:
        # Every method shares one loaded zoo in a run: a LoRA left attached, a token added to the tokenizer
        # or weights edited in place would change the images of whichever method runs next.
        self.generate(self.loaded(), self.requests((self.settings.emotions[0], 0)))
        _expect(_fingerprint(self.zoo) == self._fingerprint,
                "the zoo's pipeline changed (weights, adapters, attention processors, tokenizer or scheduler): "
                "work on a copy, or undo the change before returning")
        return "the shared pipeline is unchanged after fit, load and generate"


def _fingerprint(zoo: Any) -> int | None:
    pipe = getattr(zoo, "pipeline", None)
    if pipe is None:
        return None
    return zoo.pipeline_fingerprint()


def check_method(name_or_class: str | type[Method], zoo: Any, *, options: Mapping[str, Any] | None = None,
                 settings: ContractSettings | None = None, checks: Sequence[str] | None = None,
                 progress: Callable[[CheckResult], None] | None = None) -> ContractReport:
    """Run the contract checks for one method on ``zoo`` and return the report (never raises for a
    failing plugin: every failure is a failed check with its reason)."""
    settings = settings or ContractSettings()
    if options is not None:
        settings = dataclasses.replace(settings, options=dict(options))
    harness = MethodHarness(name_or_class, zoo, settings)
    report = ContractReport(harness.name)
    try:
        for check in checks or CHECKS:
            if check != "resolve" and report.results and report.results[0].name == "resolve" \
                    and not report.results[0].passed:
                result = CheckResult(check, False, "not run: the method did not resolve")
            else:
                result = harness.run(check)
            report.results.append(result)
            if progress:
                progress(result)
    finally:
        harness.close()
    return report


# --------------------------------------------------------------------------------------------- pytest mixin
def shared_tiny_zoo(tmp_path_factory: Any) -> Any:
    """One loaded tiny zoo per test session, shared by every contract test class."""
    global _TINY
    if _TINY is None:
        from emobench.testing.tiny import tiny_zoo
        from emobench.zoo.load import load_zoo

        _TINY = load_zoo(str(tiny_zoo(tmp_path_factory)))
    return _TINY


_TINY: Any = None

try:
    import pytest
except ImportError:  # pragma: no cover - the mixin is only for pytest users
    pytest = None  # type: ignore[assignment]


if pytest is not None:

    class MethodContractTests:
        """Subclass in your plugin's tests (class name starting with ``Test``)::

            from emobench.testing.contract import MethodContractTests

            class TestMine(MethodContractTests):
                method = "mine"                      # entry-point name, or the class itself
                options = {"steps": 2}               # tiny settings for a fast check
                bad_options = [{"steps": 0}]         # option sets you promise to reject

        Override the ``contract_zoo`` fixture to run against another zoo (default: the tiny test zoo).
        """

        method: ClassVar[str | type[Method]]
        options: ClassVar[Mapping[str, Any]] = {}
        uses_latents: ClassVar[bool] = True
        bad_options: ClassVar[Sequence[Mapping[str, Any]]] = ()
        emotions: ClassVar[tuple[str, str]] = ("amusement", "fear")
        check_fit_determinism: ClassVar[bool] = True

        @pytest.fixture(scope="class")
        @classmethod
        def contract_zoo(cls, tmp_path_factory: Any) -> Any:
            return shared_tiny_zoo(tmp_path_factory)

        @pytest.fixture(scope="class")
        @classmethod
        def contract_harness(cls, contract_zoo: Any, tmp_path_factory: Any) -> Iterator[MethodHarness]:
            settings = ContractSettings(options=dict(cls.options), emotions=cls.emotions,
                                        uses_latents=cls.uses_latents, bad_options=list(cls.bad_options),
                                        check_fit_determinism=cls.check_fit_determinism)
            harness = MethodHarness(cls.method, contract_zoo, settings,
                                    workdir=tmp_path_factory.mktemp("contract"))
            yield harness

        def _run(self, harness: MethodHarness, check: str) -> None:
            result = harness.run(check)
            if result.skipped:
                pytest.skip(result.detail)
            assert result.passed, f"{harness.name}: {check}: {result.detail}"

        def test_resolve(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "resolve")

        def test_bad_config(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "bad_config")

        def test_fit_artifacts(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "fit_artifacts")

        def test_output_contract(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "output_contract")

        def test_seeds_honoured(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "seeds_honoured")

        def test_latents_honoured(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "latents_honoured")

        def test_determinism(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "determinism")

        def test_batch_independence(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "batch_independence")

        def test_zoo_untouched(self, contract_harness: MethodHarness) -> None:
            self._run(contract_harness, "zoo_untouched")
