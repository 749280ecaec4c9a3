"""Every installed method (the built-ins included) passes the same contract kit a plugin author runs.

Learning methods get tiny fit settings through their config options, exactly as a submitter would pass
them. The refit-determinism part of ``fit_artifacts`` is off here to keep CI fast (the kit's own tests
exercise it on a fake learner).
"""
from __future__ import annotations

import pytest

from emobench import registry
from emobench.testing.contract import ContractSettings, shared_tiny_zoo, check_method

from kit_options import TINY_OPTIONS


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return shared_tiny_zoo(tmp_path_factory)


@pytest.mark.parametrize("name", registry.methods().names())
def test_installed_method_passes_the_contract(zoo, name):
    settings = ContractSettings(options=TINY_OPTIONS.get(name, {}), check_fit_determinism=False)
    report = check_method(name, zoo, settings=settings)
    assert report.ok, report.format()
