"""The built-in metric plugins, found through the ``emobench.metrics`` entry-point group like any other.

Each implements the metric contract of ``emobench.api`` (``PerImageMetric`` / ``SetMetric``); the scorer
(``emobench.scoring``) loads them through the registry and never by name.
"""
