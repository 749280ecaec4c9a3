"""``MethodContractTests``: the contract checks as pytest tests, one per entry of ``CHECKS`` (the way diffusers'
``PipelineTesterMixin`` gives every pipeline the same tests), on a tiny zoo shared by the session."""
from __future__ import annotations

from typing import Any, ClassVar, Iterator, Mapping, Sequence

from emobench.api import Method
from emobench.testing.harness import MethodHarness
from emobench.testing.report import CHECKS, ContractSettings


def shared_tiny_zoo(tmp_path_factory: Any) -> Any:
    """One loaded tiny zoo per test session, shared by every contract test class."""
    global _TINY
    if _TINY is None:
        from emobench.testing.tiny import tiny_zoo
        from emobench.zoo.load import load_zoo

        _TINY = load_zoo(str(tiny_zoo(tmp_path_factory)))
    return _TINY


_TINY: Any = None

try:
    import pytest
except ImportError:  # pragma: no cover - the mixin is only for pytest users
    pytest = None  # type: ignore[assignment]


if pytest is not None:

    class MethodContractTests:
        """Subclass in your plugin's tests (class name starting with ``Test``)::

            from emobench.testing.contract import MethodContractTests

            class TestMine(MethodContractTests):
                method = "mine"                      # entry-point name, or the class itself
                options = {"steps": 2}               # tiny settings for a fast check
                bad_options = [{"steps": 0}]         # option sets you promise to reject

        Override the ``contract_zoo`` fixture to run against another zoo (default: the tiny test zoo).
        """

        method: ClassVar[str | type[Method]]
        options: ClassVar[Mapping[str, Any]] = {}
        uses_latents: ClassVar[bool] = True
        bad_options: ClassVar[Sequence[Mapping[str, Any]]] = ()
        emotions: ClassVar[tuple[str, str]] = ("amusement", "fear")
        check_fit_determinism: ClassVar[bool] = True

        @pytest.fixture(scope="class")
        @classmethod
        def contract_zoo(cls, tmp_path_factory: Any) -> Any:
            return shared_tiny_zoo(tmp_path_factory)

        @pytest.fixture(scope="class")
        @classmethod
        def contract_harness(cls, contract_zoo: Any, tmp_path_factory: Any) -> Iterator[MethodHarness]:
            settings = ContractSettings(options=dict(cls.options), emotions=cls.emotions,
                                        uses_latents=cls.uses_latents, bad_options=list(cls.bad_options),
                                        check_fit_determinism=cls.check_fit_determinism)
            harness = MethodHarness(cls.method, contract_zoo, settings,
                                    workdir=tmp_path_factory.mktemp("contract"))
            yield harness

        def _run(self, harness: MethodHarness, check: str) -> None:
            result = harness.run(check)
            if result.skipped:
                pytest.skip(result.detail)
            assert result.passed, f"{harness.name}: {check}: {result.detail}"

    def _check_test(check: str) -> Any:
        def test(self: "MethodContractTests", contract_harness: MethodHarness) -> None:
            self._run(contract_harness, check)

        test.__name__ = test.__qualname__ = f"test_{check}"
        test.__doc__ = f"The contract check {check!r}."
        return test

    for _check in CHECKS:  # one pytest test per check, so a new check reaches every plugin's tests
        setattr(MethodContractTests, f"test_{_check}", _check_test(_check))
