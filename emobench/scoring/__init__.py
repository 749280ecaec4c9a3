"""Scoring: the engine (``engine``), what it scores (``inputs``), its feature and bootstrap cache (``cache``),
the statistics (``stats``) and the driver that writes a run's score tables (``run``).

Metric plugins live in ``emobench.metrics`` and implement the contract in ``emobench.api``; nothing here
names one.
"""
from emobench.rundir.layout import ALL
from emobench.scoring.inputs import CONTROL_REAL, CONTROL_SHUFFLED
from emobench.scoring.run import load_metrics, score_run
from emobench.scoring.stats import BootstrapConfig

__all__ = ["score_run", "load_metrics", "BootstrapConfig", "CONTROL_REAL", "CONTROL_SHUFFLED", "ALL"]
