"""The metric contract kit catches broken metrics, and `emobench validate-plugin` runs it for metric plugins."""
from __future__ import annotations

import pytest
import torch

from emobench.api import MeanStat, PerImageMetric, SetMetric
from emobench.cli import main as cli_main
from emobench.testing.contract import shared_tiny_zoo
from emobench.testing.metric_contract import check_metric


class BatchNormalised(PerImageMetric):
    """Features normalised over the batch: an image's score depends on its neighbours."""

    name = "batch-normalised"

    def features(self, images, items, zoo):
        x = images.flatten(1)[:, :8].float()
        return x - x.mean(0, keepdim=True)

    def values(self, feats, items):
        return {self.name: feats[:, 0].double()}


class WrongColumns(PerImageMetric):
    name = "wrong-columns"
    label = 3  # type: ignore[assignment]  # not a string: the report could not print it

    def features(self, images, items, zoo):
        return images.flatten(1)[:, :4].float()

    def values(self, feats, items):
        return {"something-else": feats[:, 0].double()}


class ShortStat(SetMetric):
    name = "short-stat"

    def features(self, images, items, zoo):
        return images.flatten(1)[:, :4].float()

    def group_stat(self, group, ctx, zoo):
        return MeanStat(group.features()[:-1, 0])   # one item short


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return shared_tiny_zoo(tmp_path_factory)


def test_kit_names_each_broken_promise(zoo):
    report = check_metric(BatchNormalised, zoo)
    assert not report.ok and [r.name for r in report.failed] == ["batch_independence"]
    assert "depend on its batch" in report.result("batch_independence").detail
    report = check_metric(WrongColumns, zoo)
    assert {r.name for r in report.failed} == {"display", "values"}
    assert "first column is 'wrong-columns'" in report.result("values").detail
    report = check_metric(ShortStat, zoo)
    assert [r.name for r in report.failed] == ["group_stat"]
    assert "covers 2 items, the group has 3" in report.result("group_stat").detail


def test_validate_plugin_runs_the_metric_kit(tmp_path_factory, capsys):
    from emobench.testing.tiny import tiny_zoo

    zoo_dir = tiny_zoo(tmp_path_factory)
    assert cli_main(["validate-plugin", "emo-a", "--zoo", str(zoo_dir)]) == 0
    out = capsys.readouterr().out
    assert "checking metric 'emo-a'" in out and "PASS  values" in out and "emo-a: all checks passed" in out
    assert cli_main(["validate-plugin", "emo-a", "--zoo", str(zoo_dir), "--check", "output_contract"]) == 2
    assert "unknown metric check" in capsys.readouterr().err
