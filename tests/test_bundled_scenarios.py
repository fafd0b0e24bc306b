"""Every bundled scenario validates, runs, stores its results, and passes the invariant checker on its database."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import sim
from sim.results.invariants import check
from sim.results.store import connect

SCENARIOS = sorted(path for path in (Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml")
                   if "scenario" not in tomllib.loads(path.read_text(encoding="utf-8")))  # sweep files name one


def test_the_bundled_scenarios_are_there() -> None:
    names = {path.stem for path in SCENARIOS}
    assert names >= {"baseline", "aborts", "restarts", "overload", "calibration", "faulty_hardware"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_bundled_scenario_runs_clean(path: Path, tmp_path: Path) -> None:
    scenario = sim.load_scenario(path)
    result = sim.simulate(scenario, jobs=3000, store=tmp_path / "results.sqlite")
    assert check(connect(tmp_path / "results.sqlite"), result.run_id) == []
    counts = result.status_counts()
    assert counts.get("ready", 0) > 0
