"""Instruments one by one: staggered recalibration of a fleet, calibration lengths drawn from a distribution,
scheduled maintenance of named instruments, an instrument's own outage rates, and the availability split; alone
and together with restarts, outages and aborts (with the invariants and the accounting)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.invariants import assert_invariants
from sim.results.availability import INSTRUMENT_SHARES, POOL_SHARES
from sim.results.metrics import summarize
from sim.results.timeseries import instrument_states
from sim.scenario.config import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600.0
MONDAY = "2026-12-07T00:00:00Z"


def fleet(**sections: Any) -> sim.Scenario:
    """Three named instruments, 300 jobs/h, a week from Monday 00:00 UTC."""
    data: dict[str, Any] = {
        "run": {"jobs": 300 * 24 * 8, "start": MONDAY},
        "arrivals": {"rate": "300/h"},
        "stages": {"compilation": {"workers": 4, "duration": {"dist": "exponential", "mean": "2s"}}},
        "hardware": {"instruments": 3, "names": ["qpu-a", "qpu-b", "qpu-c"]},
        "calibration": {"times_of_day": ["00:45", "14:15"], "stagger": "2h",
                        "duration": {"dist": "uniform", "low": "30min", "high": "60min"}},
        "maintenance": [{"instrument": "qpu-c", "weekly": "Tue 06:00", "duration": "2h"}],
    }
    data.update(sections)
    return sim.Scenario.from_dict(data, source="fleet")


def intervals(result: sim.RunResult, state: str) -> pd.DataFrame:
    states = instrument_states(result)
    return states[states["state"] == state]


def most_at_once(frame: pd.DataFrame) -> int:
    """The largest number of the intervals that overlap at any moment."""
    edges = sorted([(t, 1) for t in frame["start"]] + [(t, -1) for t in frame["end"]], key=lambda e: (e[0], e[1]))
    return max(np.cumsum([step for _, step in edges]), default=0)


@pytest.fixture(scope="module")
def week() -> sim.RunResult:
    return sim.simulate(fleet(), seed=4)


def test_a_staggered_fleet_never_calibrates_two_instruments_at_once(week: sim.RunResult) -> None:
    calibrations = intervals(week, "calibration")
    assert sorted(set(calibrations["instrument"])) == [0, 1, 2]
    assert len(calibrations) >= 3 * 2 * 7
    assert most_at_once(calibrations) == 1
    lengths = calibrations["end"] - calibrations["start"]
    assert lengths.min() >= 30 * 60 - 1e-6
    assert lengths.max() <= 60 * 60 + 1e-6
    assert lengths.std() > 5 * 60  # drawn anew for each recalibration, not one fixed length
    # each begins at its instrument's own time (00:45 + 2 h per instrument), or when the job on it ends
    for _, row in calibrations.iterrows():
        times = (np.array([0.75, 14.25]) + 2 * row["instrument"]) * HOUR
        since = (row["start"] - times) % 86_400
        assert since.min() < 10 * 60, (row["instrument"], row["start"] / HOUR)


def test_a_maintenance_window_is_honoured_to_the_second(week: sim.RunResult) -> None:
    windows = intervals(week, "maintenance")
    assert windows["instrument"].unique().tolist() == [2]
    starts = windows["start"].to_numpy()
    np.testing.assert_allclose(starts, [30 * HOUR, (30 + 168) * HOUR][:len(starts)], atol=1e-6)  # Tuesdays 06:00
    np.testing.assert_allclose(windows["end"] - windows["start"], 2 * HOUR, atol=1e-6)
    jobs = intervals(week, "user_job")
    on_c = jobs[jobs["instrument"] == 2]
    for start in starts:
        assert not ((on_c["start"] < start + 2 * HOUR) & (on_c["end"] > start)).any()
    stopped = [j for j, message in week.records.user_error_message.items() if "maintenance" in message]
    assert all(week.records.instrument[j] == 2 for j in stopped)


def test_the_availability_split_adds_up_to_one_for_every_instrument_and_pool(week: sim.RunResult) -> None:
    split = summarize(week)["availability"]
    for name, shares in split["instruments"].items():
        assert sum(shares[k] for k in INSTRUMENT_SHARES) == pytest.approx(1.0), name
        assert shares["available"] == pytest.approx(shares["user_jobs"] + shares["idle"])
        assert shares["utilisation_of_available"] == pytest.approx(shares["user_jobs"] / shares["available"])
    assert split["instruments"]["qpu-c"]["maintenance"] == pytest.approx(2 * HOUR / week.sim_time, rel=1e-6) or \
        split["instruments"]["qpu-c"]["maintenance"] == pytest.approx(4 * HOUR / week.sim_time, rel=1e-6)
    assert split["instruments"]["qpu-a"]["maintenance"] == 0
    assert split["instruments"]["all"]["calibrating"] > 0.03
    for name, shares in split["pools"].items():
        assert sum(shares[k] for k in POOL_SHARES) == pytest.approx(1.0), name
    assert set(split["pools"]) == {"compilation"}  # the other stages have unlimited workers


def test_an_instrument_s_own_outage_rates() -> None:
    result = sim.simulate(fleet(hardware={"instruments": 3, "names": ["qpu-a", "qpu-b", "qpu-c"],
                                          "outages": {"qpu-b": {"mean_time_between_outages": "6h",
                                                                "mean_repair_time": "20min"}}}), seed=2, jobs=20_000)
    outages = intervals(result, "outage")
    assert outages["instrument"].unique().tolist() == [1]
    assert len(outages) > 5
    assert_invariants(result)


def test_maintenance_outages_recalibration_restarts_and_aborts_together_keep_the_books() -> None:
    scenario = fleet(
        run={"jobs": 12_000, "start": MONDAY},
        hardware={"instruments": 3, "names": ["qpu-a", "qpu-b", "qpu-c"], "execution_timeout": "5min",
                  "faults": {"mean_time_between_outages": "4h", "mean_repair_time": "30min",
                             "hang_probability": 0.01, "error_probability": 0.02}},
        maintenance=[{"instrument": "qpu-c", "weekly": "Mon 02:00", "duration": "3h"},
                     {"instrument": 0, "at": "6h", "every": "12h", "duration": "1h"}],
        aborts={"probability": 0.05, "delay": {"dist": "exponential", "mean": "2min"}},
        restarts={"mean_time_between": "5h", "downtime": "3min", "policy": "requeue"})
    for seed in (1, 2, 3):
        result = sim.simulate(scenario, seed=seed)
        assert_invariants(result)
        windows = intervals(result, "maintenance")
        jobs = intervals(result, "user_job")
        for _, window in windows.iterrows():
            same = jobs[jobs["instrument"] == window["instrument"]]
            assert not ((same["start"] < window["end"] - 1e-9) & (same["end"] > window["start"] + 1e-9)).any()
        split = summarize(result)["availability"]["instruments"]
        for shares in split.values():
            assert sum(shares[k] for k in INSTRUMENT_SHARES) == pytest.approx(1.0)
            assert shares["service_down"] > 0


def test_one_instrument_keeps_the_recalibration_it_always_had() -> None:
    """The bundled one-instrument calibration scenario: recalibrations at 00:45 and 14:15 UTC, 30 min each."""
    result = sim.simulate(ROOT / "scenarios" / "calibration.toml", seed=1)  # four days
    calibrations = intervals(result, "calibration")
    clock = (calibrations["start"] + 8 * HOUR) % 86_400 / HOUR  # the run starts at 08:00
    late = np.minimum((clock - 0.75) % 24, (clock - 14.25) % 24)  # hours after its scheduled time
    assert len(calibrations) >= 8
    assert late.max() < 0.2
    np.testing.assert_allclose(calibrations["end"] - calibrations["start"], 30 * 60)


def test_a_job_running_when_its_instrument_s_window_opens_fails_with_the_maintenance_message() -> None:
    result = sim.simulate(sim.Scenario.from_dict({
        "arrivals": {"times": [0, 10]}, "hardware": {"execution_time": "30min"},
        "maintenance": [{"instrument": "qpu-0", "at": "10min", "duration": "1h"}]}, source="window"))
    assert result.records.user_error_message[0] == "Execution failed: the instrument was taken for scheduled " \
        "maintenance."
    assert result.times[1, sim.JobStatus.EXECUTION_STARTED.code] == pytest.approx(70 * 60)  # waits for the end
    assert_invariants(result)


@pytest.mark.parametrize(("sections", "key", "words"), [
    ({"maintenance": [{"instrument": "qpu-z", "weekly": "Tue 06:00", "duration": "2h"}]}, "maintenance[0].instrument",
     "unknown instrument 'qpu-z'"),
    ({"run": {"jobs": 10}, "maintenance": [{"instrument": 0, "weekly": "Tue 06:00", "duration": "2h"}]},
     "maintenance[0].weekly", "[run] start"),
    ({"maintenance": [{"instrument": 0, "weekly": "Tuesday 6pm", "duration": "2h"}]}, "maintenance[0].weekly",
     "weekday and a UTC time"),
    ({"maintenance": [{"instrument": 0, "at": "1h", "every": "1h", "duration": "2h"}]}, "maintenance[0].duration",
     "must end before the next begins"),
    ({"hardware": {"instruments": 3, "names": ["a", "b"]}}, "hardware.names", "3 different names"),
    ({"hardware": {"instruments": 2, "outages": {"qpu-9": {"mean_repair_time": "1h"}}}}, "hardware.outages.qpu-9",
     "unknown instrument"),
    ({"hardware": {"instruments": 2, "outages": {"qpu-1": {"error_probability": 0.1}}}},
     "hardware.outages.qpu-1.error_probability", "unknown key"),
    ({"calibration": {"instruments": {"qpu-7": ["01:00"]}}}, "calibration.instruments.qpu-7", "unknown instrument"),
    ({"calibration": {"duration": {"dist": "uniform", "low": "1h"}}}, "calibration.duration", "high"),
])
def test_bad_fleet_settings_name_their_key(sections: dict[str, Any], key: str, words: str) -> None:
    data: dict[str, Any] = {"run": {"jobs": 10, "start": MONDAY}, "arrivals": {"rate": "1/h"}}
    data.update(sections)
    with pytest.raises(ScenarioError) as error:
        sim.Scenario.from_dict(data, source="fleet.toml")
    assert f"fleet.toml: {key}" in str(error.value)
    assert words in str(error.value)


def test_one_week_is_a_unit() -> None:
    from sim.scenario.units import parse_duration

    assert parse_duration("1w") == 7 * 86_400
    assert math.isclose(parse_duration("0.5w"), 3.5 * 86_400)


@pytest.mark.parametrize("name", ["planning_compilers", "planning_fleet"])
def test_the_planner_questions_are_valid_sweeps_with_a_miss_probability_target(name: str) -> None:
    sweep = sim.Sweep.from_toml(ROOT / "scenarios" / f"{name}.toml")
    assert sweep.target is not None
    assert sweep.target.per == 86_400
    assert sweep.target.miss_probability == 0.05


def runs_into_own_recalibration(result: sim.RunResult) -> int:
    """User jobs whose run on an instrument spans that instrument's own recalibration request, though they were
    no longer than the time between its last recalibration and that request."""
    requests: dict[int, list[float]] = {}
    for event in result.records.events:
        if event.kind == "recalibration_requested":
            requests.setdefault(int(event.detail.split(":")[0].split()[-1]), []).append(event.t)
    jobs, calibrations = intervals(result, "user_job"), intervals(result, "calibration")
    count = 0
    for instrument, times in requests.items():
        on = jobs[jobs["instrument"] == instrument]
        ends = calibrations[calibrations["instrument"] == instrument]["end"].to_numpy()
        for request in times:
            last = ends[ends <= request].max(initial=0.0)
            spanning = on[(on["start"] < request - 1e-6) & (on["end"] > request + 1e-6)]
            count += int(((spanning["end"] - spanning["start"]) <= request - last).sum())
    return count


def test_calibration_aware_holds_back_what_would_run_into_the_free_instrument_s_own_recalibration() -> None:
    def run(policy: str) -> sim.RunResult:
        return sim.simulate(fleet(run={"jobs": 2000, "start": MONDAY}, arrivals={"rate": "20/h"},
                                  hardware={"instruments": 3, "names": ["qpu-a", "qpu-b", "qpu-c"],
                                            "execution_time": {"dist": "exponential", "mean": "5min"}},
                                  scheduler={"policy": policy}), seed=5)  # four days of long runs

    aware = run("calibration_aware")
    assert_invariants(aware)
    assert runs_into_own_recalibration(aware) == 0
    assert runs_into_own_recalibration(run("fifo")) > 0  # the check can tell the two policies apart
