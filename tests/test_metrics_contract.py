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


# coverage, memorisation and the newer metrics (issue 28); k = 2: the tiny zoo holds a few test images per emotion
class TestCoverage(MetricContractTests):
    metric = "coverage"
    options = {"k": 2}


class TestCoverageClip(MetricContractTests):
    metric = "coverage-clip"
    options = {"k": 2}


class TestContentCoverage(MetricContractTests):
    metric = "content-coverage"


class TestContentTV(MetricContractTests):
    metric = "content-tv"


class TestIntraFID(MetricContractTests):
    metric = "fid-intra"


class TestCMMD(MetricContractTests):
    metric = "cmmd"


class TestCMMDBiased(MetricContractTests):
    metric = "cmmd"
    options = {"estimator": "biased"}


class TestVendi(MetricContractTests):
    metric = "vendi"


class TestCopyRate(MetricContractTests):
    metric = "copy-rate"
