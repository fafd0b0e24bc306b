"""The pytest plugin of ``sim.testing``: fixtures for scheduler regression tests.

Installed with the package (entry point ``stationsim`` in the ``pytest11`` group), so a user's test suite has:

- ``stationsim_run``: ``sim.testing.run``, to simulate a scenario under a policy;
- ``stationsim_compare``: ``sim.testing.compare``, the paired comparison of two policies;
- ``stationsim_golden``: ``check(result, name="", **tolerances)`` compares the run with the golden summary
  ``golden/<test module>/<test name>[-name].json`` beside the test file (see ``sim.testing.golden``);
- the option ``--stationsim-update-golden``, to record the current figures as the golden ones.

The plugin imports the simulator only when a fixture is used, so that it costs nothing to other test suites.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sim.results.run import RunResult
    from sim.testing.comparison import Comparison

UPDATE_OPTION = "--stationsim-update-golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stationsim", "stationsim scheduler regression tests")
    group.addoption(UPDATE_OPTION, action="store_true", default=False,
                    help="record the current figures as the golden summaries instead of comparing with them")


class GoldenSummaries:
    """Golden summaries of one test: files under ``folder``, named after the test."""

    def __init__(self, folder: Path, test_name: str, update: bool) -> None:
        self.folder = folder
        self.test_name = test_name
        self.update = update

    def path(self, name: str = "") -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.test_name + (f"-{name}" if name else ""))
        return self.folder / f"{safe}.json"

    def check(self, result: RunResult | Mapping[str, Any], name: str = "", **tolerances: Any) -> None:
        """Compare ``result`` with this test's golden summary (``name`` tells several apart); keyword arguments go
        to ``sim.testing.assert_matches_golden`` (``rtol``, ``atol``, ``tolerances``, ``figures``)."""
        from sim.testing.golden import assert_matches_golden

        __tracebackhide__ = True
        assert_matches_golden(result, self.path(name), update=self.update, **tolerances)


@pytest.fixture
def stationsim_run() -> Callable[..., RunResult]:
    """``sim.testing.run(scenario, policy, *, options, jobs, seed, ...)``."""
    from sim.testing.running import run

    return run


@pytest.fixture
def stationsim_compare() -> Callable[..., Comparison]:
    """``sim.testing.compare(scenario, a, b, *, replications, jobs, seed, level, metrics)``."""
    from sim.testing.comparison import compare

    return compare


@pytest.fixture
def stationsim_golden(request: pytest.FixtureRequest) -> GoldenSummaries:
    """Golden summaries of the requesting test, under ``golden/<test module>/`` beside its file."""
    test_file = Path(str(request.node.path))
    folder = test_file.parent / "golden" / test_file.stem
    return GoldenSummaries(folder, request.node.name, bool(request.config.getoption(UPDATE_OPTION)))
