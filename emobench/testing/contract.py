"""The method contract kit: the checks every method plugin must pass, against any zoo (a tiny one in tests).

Two ways in, both running the same checks:

* ``check_method("mine", zoo, options={...})`` returns a :class:`ContractReport` (used by
  ``emobench validate-plugin`` and by the built-in methods' CI test);
* ``class TestMine(MethodContractTests): method = "mine"`` gives one pytest test per check, the way
  diffusers' ``PipelineTesterMixin`` gives every pipeline the same tests.

Images are compared the way the store keeps them (uint8, ``round(x * 255)``), because that is what every
score is computed from; a float difference that never reaches a PNG is not a contract violation.

The kit's parts: ``report`` (CHECKS, results, settings), ``plumbing`` (building methods and requests, the
uint8 comparison), ``harness`` (one ``check_<name>`` per check), ``pytest_kit`` (the mixin). This module is the
entry point and re-exports what a plugin's tests use.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping, Sequence

from emobench.api import Method
from emobench.testing.harness import MethodHarness
from emobench.testing.plumbing import as_stored, build_method, plan_latents, request, resolve_method_class
from emobench.testing.pytest_kit import MethodContractTests, shared_tiny_zoo
from emobench.testing.report import (ALLOWED_ARTIFACT_SUFFIXES, CHECKS, DEFAULT_TEMPLATE, CheckResult,
                                     ContractReport, ContractSettings)

__all__ = ["ALLOWED_ARTIFACT_SUFFIXES", "CHECKS", "DEFAULT_TEMPLATE", "CheckResult", "ContractReport",
           "ContractSettings", "MethodContractTests", "MethodHarness", "as_stored", "build_method", "check_method",
           "plan_latents", "request", "resolve_method_class", "shared_tiny_zoo"]


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
                result = CheckResult(check, False, "not run: the method did not resolve", ran=False)
            else:
                result = harness.run(check)
            report.results.append(result)
            if progress:
                progress(result)
    finally:
        harness.close()
    return report
