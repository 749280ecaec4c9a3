"""The emobench method contract, run against a tiny zoo built in seconds: `pytest tests/`."""
from emobench.testing.contract import MethodContractTests


class TestMine(MethodContractTests):
    method = "mine"                     # the entry-point name from pyproject.toml
    options = {}                        # tiny settings (e.g. few fit steps) for a learning method
