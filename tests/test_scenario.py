"""Scenarios: the bundled baseline loads, a scenario is frozen, ``with_values`` changes a key and validates again,
and every bad input raises ``sim.ScenarioError`` naming the file, the key path and what was expected."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import BAD_SCENARIOS, VALID_TOML, BadScenario, scenario_dicts

import sim
from hardware_mock import GARNET, HERON
from sim.scenario.distributions import Constant, Empirical, LogNormal, Uniform

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(BASELINE)


def test_baseline_loads(baseline: sim.Scenario) -> None:
    assert baseline.name == "baseline"
    assert baseline.source == str(BASELINE)
    assert baseline.run.jobs == 10_000
    assert baseline.run.seed == 1
    assert baseline.run.horizon is None
    assert baseline.arrivals.rate == pytest.approx(300 / 3600)
    assert baseline.arrivals.times is None
    assert [c.name for c in baseline.workload] == ["circuits", "pulse-sweeps"]
    assert [c.kind for c in baseline.workload] == ["circuit", "pulse"]
    circuits = baseline.workload[0]
    assert circuits.weight == 0.85
    assert circuits.circuits == Empirical((1, 2, 5, 10, 20, 50), (30, 20, 20, 15, 10, 5))
    assert circuits.depth == Uniform(5, 60)
    assert circuits.users == ("alice", "bob", "carol", "dave", "erin", "frank")
    assert baseline.workload[1].shots == Constant(1000)
    stages = baseline.stages
    assert [stages.validation.workers, stages.calibration.workers, stages.compilation.workers,
            stages.save_metadata.workers, stages.post_processing.workers] == [2, 2, 4, 4, 2]
    assert stages.compilation.duration == LogNormal(0.5, 0.5)
    assert stages.compilation.per_layer == pytest.approx(5e-3)
    assert stages.post_processing.per_shot == pytest.approx(20e-6)
    assert baseline.scheduler.policy == "fifo"
    assert baseline.hardware.devices == (GARNET,)
    assert baseline.hardware.execution_time is None


def test_load_scenario_is_from_toml(baseline: sim.Scenario) -> None:
    assert sim.Scenario.from_toml(BASELINE) == baseline
    assert sim.Scenario.from_toml(str(BASELINE)) == baseline


def test_defaults_when_only_arrivals_given(tmp_path: Path) -> None:
    path = tmp_path / "minimal.toml"
    path.write_text(VALID_TOML)
    scenario = sim.load_scenario(path)
    assert scenario.name == "minimal"  # the file name
    assert scenario.run.jobs == 10_000
    assert scenario.run.seed == 0
    assert scenario.run.horizon is None
    assert scenario.scheduler.policy == "fifo"
    assert len(scenario.workload) == 1
    for stage in dataclasses.fields(scenario.stages):
        assert math.isinf(getattr(scenario.stages, stage.name).workers)
    assert len(scenario.hardware.devices) == 1


def test_scenario_is_frozen(baseline: sim.Scenario) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        baseline.name = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        baseline.run.jobs = 5  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        baseline.stages.compilation.workers = 8  # type: ignore[misc]
    assert isinstance(baseline.workload, tuple)
    assert isinstance(baseline.hardware.devices, tuple)
    hash(baseline)  # frozen and hashable: usable as a dict key in sweeps


def test_scenario_does_not_change_with_the_dict_it_was_built_from() -> None:
    data: dict[str, Any] = {"arrivals": {"rate": "300/h"}, "stages": {"compilation": {"workers": 4}}}
    scenario = sim.Scenario.from_dict(data)
    before = scenario.to_json()
    data["stages"]["compilation"]["workers"] = 99
    assert scenario.to_json() == before
    assert scenario.with_values({}).stages.compilation.workers == 4


def test_with_values_changes_a_key(baseline: sim.Scenario) -> None:
    faster = baseline.with_values({"stages.compilation.workers": 8})
    assert faster.stages.compilation.workers == 8
    assert baseline.stages.compilation.workers == 4  # the original is untouched
    assert dataclasses.replace(faster, stages=baseline.stages) == baseline  # and nothing else changed
    assert faster.name == baseline.name
    assert faster.source == baseline.source
    assert json.loads(faster.to_json())["stages"]["compilation"]["workers"] == 8


def test_with_values_several_keys_and_new_tables(baseline: sim.Scenario) -> None:
    changed = baseline.with_values({"run.jobs": 50, "arrivals.rate": "600/h", "scheduler.policy": "priority",
                                    "hardware.instruments": 2, "stages.validation.duration": "1s"})
    assert changed.run.jobs == 50
    assert changed.arrivals.rate == pytest.approx(600 / 3600)
    assert changed.scheduler.policy == "priority"
    assert changed.hardware.devices == (GARNET, GARNET)
    assert changed.stages.validation.duration == Constant(1.0)
    minimal = sim.Scenario.from_dict({"arrivals": {"rate": 1}})
    assert minimal.with_values({"stages.compilation.workers": 3}).stages.compilation.workers == 3
    assert minimal.with_values({"hardware.device": "heron"}).hardware.devices == (HERON,)


def test_with_no_changes_is_equal(baseline: sim.Scenario) -> None:
    assert baseline.with_values({}) == baseline


@pytest.mark.parametrize(("changes", "key", "fragment"), [
    ({"stages.compilation.workers": 0}, "stages.compilation.workers", "at least 1"),
    ({"stages.compilation.wrokers": 8}, "stages.compilation.wrokers", "unknown key"),
    ({"arrivals.rate": "-1/h"}, "arrivals.rate", "positive"),
    ({"run.jobs.count": 1}, "run.jobs.count", "not a table"),
    ({"scheduler.policy": "lifo"}, "scheduler.policy", "expected one of fifo, priority"),
])
def test_with_values_validates_again(baseline: sim.Scenario, changes: dict[str, object], key: str,
                                     fragment: str) -> None:
    with pytest.raises(sim.ScenarioError) as caught:
        baseline.with_values(changes)
    message = str(caught.value)
    assert message.startswith(f"{BASELINE}: {key}: ")
    assert fragment in message


def test_to_json_carries_the_scenario(baseline: sim.Scenario) -> None:
    data = json.loads(baseline.to_json())
    assert data["name"] == "baseline"
    assert data["arrivals"] == {"rate": "300/h"}
    assert data["stages"]["compilation"]["workers"] == 4


def test_explicit_submission_times() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0, "1s", "1min", "1min"]}})
    assert scenario.arrivals.times == (0.0, 1.0, 60.0, 60.0)
    assert scenario.arrivals.rate is None


def test_infinite_workers_and_device_tables() -> None:
    scenario = sim.Scenario.from_dict({
        "arrivals": {"rate": 1},
        "stages": {"validation": {"workers": math.inf}},
        "hardware": {"devices": ["garnet", {"preset": "heron", "job_overhead": "2s"}, {
            "name": "custom", "qubits": 5, "single_qubit_gate": "20ns", "two_qubit_gate": "40ns", "readout": "2us",
            "end_delay": "100us", "t1": "50us", "t2": "20us", "job_overhead": "1s"}]},
    })
    assert math.isinf(scenario.stages.validation.workers)
    garnet, heron, custom = scenario.hardware.devices
    assert garnet == GARNET
    assert heron == dataclasses.replace(HERON, job_overhead=2.0)
    assert custom.name == "custom"
    assert custom.end_delay == pytest.approx(100e-6)


def test_scenario_error_is_a_value_error_with_parts(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(VALID_TOML + "[stages.compilation]\nworkers = 0\n")
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(path)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.source == str(path)
    assert error.key == "stages.compilation.workers"
    assert "at least 1" in error.message


# --- bad inputs -------------------------------------------------------------------------------------------------


def check_error(path: Path, case: BadScenario) -> None:
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    if case.key is not None:
        assert case.key in message.split(": ")[1], message
    assert case.expected in message, message


@pytest.mark.parametrize("name", list(BAD_SCENARIOS))
def test_bad_input(tmp_path: Path, name: str) -> None:
    case = BAD_SCENARIOS[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(case.toml)
    check_error(path, case)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    with pytest.raises(sim.ScenarioError, match="no such file") as caught:
        sim.load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(sim.ScenarioError, match="cannot read") as caught:
        sim.load_scenario(tmp_path)
    assert str(caught.value).startswith(f"{tmp_path}: ")


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Mötley"\n[arrivals]\nrate = 1\n'.encode("latin-1"))
    with pytest.raises(sim.ScenarioError, match="UTF-8") as caught:
        sim.load_scenario(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_bad_toml_gives_the_position(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[arrivals]\nrate = "300/h"\nworkers = = 3\n')
    with pytest.raises(sim.ScenarioError, match=r"not valid TOML .*line 3"):
        sim.load_scenario(path)


def test_from_dict_errors_name_the_source() -> None:
    with pytest.raises(sim.ScenarioError) as caught:
        sim.Scenario.from_dict({"arrivals": {"rate": 0}}, source="sweep point 3")
    assert str(caught.value).startswith("sweep point 3: arrivals.rate: ")


@pytest.mark.parametrize(("data", "key"), [
    ({"arrivals": {"rate": 1}, "workload": []}, "workload"),
    ({"arrivals": {"rate": 1}, "workload": [{"name": "a"}, {"name": "a"}]}, "workload"),
    ({"arrivals": {"rate": 1}, "workload": [{"users": []}]}, "workload[0].users"),
    ({"arrivals": {"rate": 1}, "workload": [{"weight": 0}]}, "workload[0].weight"),
    ({"arrivals": {"rate": 1}, "workload": [{"priority": -1}]}, "workload[0].priority"),
    ({"arrivals": {"rate": 1}, "run": {"seed": -1}}, "run.seed"),
    ({"arrivals": {"rate": 1}, "run": {"jobs": 0}}, "run.jobs"),
    ({"arrivals": {"rate": 1}, "run": {"horizon": "-1h"}}, "run.horizon"),
    ({"arrivals": {"times": []}}, "arrivals.times"),
    ({"arrivals": {"times": [0, "soon"]}}, "arrivals.times"),
    ({"arrivals": {"rate": 1}, "stages": {"compilation": {"workers": 2.5}}}, "stages.compilation.workers"),
    ({"arrivals": {"rate": 1}, "stages": {"compilation": {"workers": -math.inf}}}, "stages.compilation.workers"),
    ({"arrivals": {"rate": 1}, "stages": {"compilation": {"per_layer": "fast"}}}, "stages.compilation.per_layer"),
    ({"arrivals": {"rate": 1}, "stages": {"compilation": {"duration": {"dist": "gamma", "mean": 1}}}},
     "stages.compilation.duration"),
    ({"arrivals": {"rate": 1}, "hardware": {"devices": []}}, "hardware.devices"),
    ({"arrivals": {"rate": 1}, "hardware": {"devices": ["garnet"], "instruments": 2}}, "hardware.instruments"),
    ({"arrivals": {"rate": 1}, "hardware": {"device": "garnet", "devices": ["garnet"]}}, "hardware.devices"),
    ({"arrivals": {"rate": 1}, "hardware": {"device": {"preset": "garnet", "qubits": 2.5}}}, "hardware.device.qubits"),
    ({"arrivals": {"rate": 1}, "hardware": {"device": {"preset": "garnet", "colour": 1}}}, "hardware.device.colour"),
    ({"arrivals": {"rate": 1}, "hardware": {"device": {"name": "x"}}}, "hardware.device."),
    ({"arrivals": {"rate": 1}, "hardware": {"devices": ["garnet", "falcon"]}}, "hardware.devices[1]"),
    ({"arrivals": {"rate": 1}, "hardware": {"devices": ["garnet", {"preset": "falcon"}]}},
     "hardware.devices[1].preset"),
    ({"arrivals": {"rate": 1}, "hardware": {"execution_time": {"dist": "exponential"}}}, "hardware.execution_time"),
    ({"arrivals": {"rate": 1}, "hardware": {"gpus": 1}}, "hardware.gpus"),
])
def test_more_bad_inputs_name_their_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(sim.ScenarioError) as caught:
        sim.Scenario.from_dict(copy.deepcopy(data), source="test.toml")
    message = str(caught.value)
    assert message.startswith(f"test.toml: {key}"), message
    assert "\n" not in message


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenario_dicts())
def test_generated_scenarios_are_valid_and_stable(data: dict[str, Any]) -> None:
    """Every scenario the strategies generate validates, and validating it again changes nothing."""
    scenario = sim.Scenario.from_dict(copy.deepcopy(data))
    assert scenario.with_values({}) == scenario
    assert scenario.run.jobs == data["run"]["jobs"]
    json.loads(scenario.to_json())
