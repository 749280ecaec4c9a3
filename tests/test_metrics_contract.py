"""Every built-in metric passes the metric contract kit (the same checks `emobench validate-plugin` runs)."""
from __future__ import annotations

from emobench.testing import MetricContractTests


class TestEmoA(MetricContractTests):
    metric = "emo-a"


class TestSemC(MetricContractTests):
    metric = "sem-c"


class TestSemD(MetricContractTests):
    metric = "sem-d"


class TestSemDCos(MetricContractTests):
    metric = "sem-d-cos"


class TestFID(MetricContractTests):
    metric = "fid"


class TestKID(MetricContractTests):
    metric = "kid"


class TestLPIPS(MetricContractTests):
    metric = "lpips"


class TestClipScore(MetricContractTests):
    metric = "clip-score"
