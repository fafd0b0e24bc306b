"""Which policy the regression tests run: ``my_policies:ExpressLane`` unless ``--policy`` names another."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--policy", default="my_policies:ExpressLane", help="the policy under test (module:Class)")


@pytest.fixture(scope="session")
def policy(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--policy"))
