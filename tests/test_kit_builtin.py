"""Every built-in method passes the same contract kit a plugin author runs (the example out-of-tree plugin
is checked by ``test_kit_plugin``).

The list is the ``emobench.methods`` entry points of the emobench distribution itself, not of whatever is
installed: ``test_kit_plugin`` pip-installs the example into the venv, which would otherwise add a case from
the second run on; and a built-in that fails to load fails here instead of dropping out of the list.

Learning methods get tiny fit settings through their config options, exactly as a submitter would pass
them. The refit-determinism part of ``fit_artifacts`` is off here to keep CI fast (the kit's own tests
exercise it on a fake learner).
"""
from __future__ import annotations

from importlib.metadata import distribution

import pytest

from emobench import registry
from emobench.testing.contract import ContractSettings, shared_tiny_zoo, check_method

from support.kit_options import TINY_OPTIONS


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return shared_tiny_zoo(tmp_path_factory)


BUILTIN = sorted(ep.name for ep in distribution("emobench").entry_points if ep.group == "emobench.methods")
# Submissions (``external``: images made outside emobench, read from a folder or a bundle) generate nothing the
# kit could check; tests/test_submit_*.py hold them to the plan instead.
EXTERNAL = ("bundle", "folder")


def test_every_builtin_method_loads():
    assert {"sd", "textual-inversion", "dreambooth", "emogen"} <= set(BUILTIN)
    assert set(BUILTIN) <= set(registry.methods().available()), registry.methods().broken()
    assert sorted(n for n in BUILTIN if registry.methods().get(n).external) == list(EXTERNAL)


@pytest.mark.parametrize("name", [n for n in BUILTIN if n not in EXTERNAL])
def test_builtin_method_passes_the_contract(zoo, name):
    settings = ContractSettings(options=TINY_OPTIONS.get(name, {}), check_fit_determinism=False)
    report = check_method(name, zoo, settings=settings)
    assert report.ok, report.format()
