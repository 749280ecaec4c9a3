"""Helpers for tests of emobench and of its plugins (a tiny zoo built in seconds), and the two contract kits:
``MethodContractTests`` / ``check_method`` for methods, ``MetricContractTests`` / ``check_metric`` for metrics.

Import the kits from here; the tiny zoo from ``emobench.testing.tiny``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MethodContractTests", "MetricContractTests", "check_method", "check_metric"]


def __getattr__(name: str) -> Any:
    # lazy: importing emobench.testing.tiny (used by many tests) must not import torch-heavy kits first
    if name in ("MethodContractTests", "check_method"):
        from emobench.testing import contract

        return getattr(contract, name)
    if name in ("MetricContractTests", "check_metric"):
        from emobench.testing import metric_contract

        return getattr(metric_contract, name)
    raise AttributeError(name)
