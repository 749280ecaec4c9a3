"""Every installed method (the built-ins included) passes the same contract kit a plugin author runs.

Learning methods get tiny fit settings through their config options, exactly as a submitter would pass
them. The refit-determinism part of ``fit_artifacts`` is off here to keep CI fast (the kit's own tests
exercise it on a fake learner).
"""
from __future__ import annotations

import pytest

from emobench import registry
from emobench.testing.contract import ContractSettings, _tiny_zoo_cached, check_method

from kit_options import TINY_OPTIONS

# Contract violations found by this kit that the owning code has not fixed yet: (method, check) → why.
# They are reported as xfail (non-strict) so the rest of the contract is still enforced for the method.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {
    ("textual-inversion", "batch_independence"): "samples each emotion's cells in one pipeline call",
    ("dreambooth", "batch_independence"): "samples each emotion's cells in one pipeline call",
}


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return _tiny_zoo_cached(tmp_path_factory)


@pytest.mark.parametrize("name", registry.methods().names())
def test_installed_method_passes_the_contract(zoo, name):
    settings = ContractSettings(options=TINY_OPTIONS.get(name, {}), check_fit_determinism=False)
    report = check_method(name, zoo, settings=settings)
    known = [r for r in report.failed if (name, r.name) in KNOWN_VIOLATIONS]
    unexpected = [r for r in report.failed if (name, r.name) not in KNOWN_VIOLATIONS]
    assert not unexpected, report.format()
    if known:
        pytest.xfail("; ".join(f"{r.name}: {KNOWN_VIOLATIONS[(name, r.name)]} ({r.detail})" for r in known))
