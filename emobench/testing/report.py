"""What the method contract kit checks and reports: the list of checks, their results, and the settings a
plugin declares about itself. No torch and no plugin code here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

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
    "zoo_untouched",       # fit/load/generate leave every shared attribute of the zoo as they found it
    "step_noise_honoured",  # same latents, other cell seed → other image; same cell → same image (no declaration)
    "reduces_to_baseline",  # with the options the method declares, its images equal the baseline's, byte for byte
)


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str = ""
    seconds: float = 0.0
    skipped: bool = False
    ran: bool = True          # False: not run because an earlier step failed (never reported as a failure)

    @property
    def status(self) -> str:
        if not self.ran:
            return "----"
        return "skip" if self.skipped else ("PASS" if self.passed else "FAIL")


@dataclass
class ContractReport:
    method: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(r.passed or r.skipped for r in self.results if r.ran) and \
            any(r.ran for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.ran and not (r.passed or r.skipped)]

    @property
    def not_run(self) -> list[CheckResult]:
        return [r for r in self.results if not r.ran]

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
        verdict = "all checks passed" if self.ok else f"{len(self.failed)} check(s) failed" + (
            f", {len(self.not_run)} not run" if self.not_run else "")
        lines.append(f"{self.method}: {verdict}")
        return "\n".join(lines)


@dataclass
class ContractSettings:
    """What a plugin declares about itself for the kit.

    ``options``: config options used for every check (tiny fit settings for learning methods).
    ``uses_latents``: False for a method that cannot take a latent (it must still honour the seed).
    ``bad_options``: extra option sets the plugin promises to reject with an ``EmobenchError``.
    ``baseline``: the method whose images ``Method.reduces_to_baseline`` options must reproduce exactly.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    emotions: tuple[str, str] = ("amusement", "fear")
    template: str = DEFAULT_TEMPLATE
    uses_latents: bool = True
    bad_options: Sequence[Mapping[str, Any]] = ()
    fit_seed: int = 0
    check_fit_determinism: bool = True
    baseline: str | None = None   # the method reduces_to_baseline compares with; None: the one that is_baseline
