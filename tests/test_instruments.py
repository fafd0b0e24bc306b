"""The hardware mock inside the station: timing, limits, recalibration, faults, interruption, instruments."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from hardware_mock import GARNET, HERON, execution_time
from sim.model.status import STATUSES, JobStatus
from sim.results.client import job_data
from sim.results.invariants import assert_invariants
from sim.results.metrics import instrument_time
from sim.simulation import observe

S = JobStatus
SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def one_job_class(**job: Any) -> dict[str, Any]:
    return {"name": "jobs", "circuits": 10, "shots": 1000, "depth": 20, **job}


def test_execution_takes_the_devices_time() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0, 0]}, "workload": [one_job_class()],
                                       "hardware": {"devices": ["garnet", "heron"]}})
    result = sim.simulate(scenario)
    runs = result.times[:, S.EXECUTION_ENDED.code] - result.times[:, S.EXECUTION_STARTED.code]
    by_instrument = dict(zip(result.records.instrument.tolist(), runs.tolist(), strict=True))
    # 10 circuits x 1,000 shots x (20 x 40 ns + 2 us readout + 348 us end delay) + 0.9 s arming on Garnet
    assert by_instrument[0] == pytest.approx(0.9 + 10 * 1000 * (20 * 40e-9 + 2e-6 + 348e-6))
    assert by_instrument[1] == pytest.approx(float(execution_time(HERON, 10, 1000, 20)))
    assert by_instrument[0] == pytest.approx(float(execution_time(GARNET, 10, 1000, 20)))


def test_jobs_over_a_device_limit_fail_validation_with_a_clear_message() -> None:
    scenario = sim.Scenario.from_dict({
        "arrivals": {"times": [0, 1, 2]},
        "stages": {"validation": {"duration": "100ms"}},
        "workload": [one_job_class(name="wide", qubits=54, weight=1)],
    })
    result = sim.simulate(scenario)
    for job in range(3):
        assert STATUSES[result.records.status[job]] is S.FAILED
        assert result.records.failed_stage[job] == "validation"
        assert "54 qubits" in result.records.user_error_message[job]
        assert result.times[job, S.FAILED.code] == pytest.approx(result.workload.submitted_at[job] + 0.1)


def test_a_circuit_too_long_for_t2_fails_unless_the_job_disables_the_check() -> None:
    deep = one_job_class(name="deep", depth=300)  # 300 x 40 ns = 12 us > Garnet's T2 of 9.6 us
    unchecked = one_job_class(name="unchecked", depth=300, max_circuit_duration_over_t2=0.0)
    result = sim.simulate(sim.Scenario.from_dict({
        "arrivals": {"rate": 1.0}, "workload": [deep, unchecked], "run": {"jobs": 200}}))
    classes = result.jobs_frame()
    assert (classes.loc[classes.job_class == "deep", "final_status"] == "failed").all()
    assert (classes.loc[classes.job_class == "unchecked", "final_status"] == "ready").all()


def test_calibration_twice_a_day_occupies_the_instrument_and_renews_the_set() -> None:
    scenario = sim.load_scenario(SCENARIOS / "calibration.toml")
    result = sim.simulate(scenario, jobs=12000, seed=2)  # about 40 hours
    events = result.events_frame()
    starts = events[events.kind == "calibration_start"].t.to_numpy()
    ends = events[events.kind == "calibration_end"].t.to_numpy()
    requested = events[events.kind == "recalibration_requested"].t.to_numpy()
    # the run starts at 08:00 UTC: recalibrations are requested at 14:15 and 00:45 each day
    assert requested[:3] == pytest.approx([6.25 * 3600, 16.75 * 3600, 30.25 * 3600])
    assert np.all(ends - starts == pytest.approx(1800))
    # no user job executes during a recalibration
    started = result.times[:, S.EXECUTION_STARTED.code]
    ended = np.fmin(result.times[:, S.EXECUTION_ENDED.code], result.times[:, S.FAILED.code])
    for start, end in zip(starts, ends, strict=True):
        assert not np.any((started < end) & (ended > start))
    # jobs fetched after a recalibration are compiled against the new set
    sets = result.records.calibration_set
    assert sets.min() == 0
    assert sets.max() == len(starts)
    split = instrument_time(result)
    assert split["calibration"] == pytest.approx(len(starts) * 1800 / result.sim_time)
    assert sum(split.values()) == pytest.approx(1.0)
    assert_invariants(result)


def test_an_expired_set_is_recompiled_or_run_anyway() -> None:
    base = {
        "arrivals": {"times": [0, 0, 0]},
        "stages": {"compilation": {"duration": 5}},
        "hardware": {"execution_time": 3600},
        "calibration": {"times_of_day": [], "valid_for": "30min", "duration": "10min"},
    }
    recompiled = sim.simulate(sim.Scenario.from_dict(base))
    assert {e.kind for e in recompiled.records.events} >= {"recompile"}
    # the first job to run did so on set 0; set 0 expired while the others waited (an hour-long run, then the
    # recalibration), so they were recompiled against a newer set
    first = int(np.nanargmin(recompiled.times[:, S.EXECUTION_STARTED.code]))
    sets = recompiled.records.calibration_set.tolist()
    assert sets[first] == 0
    assert all(s >= 1 for j, s in enumerate(sets) if j != first)
    anyway = sim.simulate(sim.Scenario.from_dict({**base, "calibration": {**base["calibration"],
                                                                          "on_expired": "run_anyway"}}))
    assert len([e.job_id for e in anyway.records.events if e.kind == "expired_set"]) == 2
    assert anyway.records.calibration_set.tolist() == [0, 0, 0]


def test_faulty_hardware_fails_in_execution_and_every_hang_ends_by_the_timeout() -> None:
    scenario = sim.load_scenario(SCENARIOS / "faulty_hardware.toml")
    result = sim.simulate(scenario, jobs=8000, seed=4)
    failed = np.flatnonzero(result.final_status == S.FAILED.code)
    assert len(failed) > 0
    assert {result.records.failed_stage[int(j)] for j in failed} == {"execution"}
    assert all(result.records.user_error_message[int(j)] for j in failed)
    timeouts = [j for j in failed.tolist() if "timed out" in result.records.user_error_message[j]]
    assert timeouts
    run = result.times[timeouts, S.FAILED.code] - result.times[timeouts, S.EXECUTION_STARTED.code]
    assert run == pytest.approx(scenario.hardware.execution_timeout)
    counts = result.status_counts()
    assert counts["ready"] + counts["failed"] == 8000  # no job lost
    assert_invariants(result)


def test_an_outage_fails_the_running_job_and_queued_jobs_wait() -> None:
    scenario = sim.Scenario.from_dict({
        "arrivals": {"rate": 0.08}, "run": {"jobs": 6000, "seed": 3},
        "hardware": {"execution_time": {"dist": "exponential", "mean": 10},
                     "faults": {"mean_time_between_outages": "3h", "mean_repair_time": "20min"}},
    })
    result = sim.simulate(scenario)
    events = result.events_frame()
    outages = list(zip(events[events.kind == "outage_start"].t, events[events.kind == "outage_end"].t,
                       strict=True))
    assert outages
    started = result.times[:, S.EXECUTION_STARTED.code]
    for start, end in outages:
        assert not np.any((started > start) & (started < end))  # nobody starts while it is down
    hit = [j for j, m in result.records.user_error_message.items() if "went down" in m]
    assert hit
    assert all(result.times[j, S.FAILED.code] in {s for s, _ in outages} for j in hit)
    assert_invariants(result)


def test_an_abort_on_the_instrument_stops_at_the_next_shot_batch() -> None:
    job = one_job_class(circuits=10, shots=1000, depth=20)  # 350.8 us per shot of each circuit
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0, 0]}, "workload": [job],
                                       "aborts": {"jobs": [{"job": 0, "at": 2.0}]}})
    station = observe(scenario, at=1.5)
    progress = job_data(station, 0).parallel_sweep_progress
    assert progress[1][0] == "shots"
    assert 0 < progress[1][1] < 1000
    result = sim.simulate(scenario)
    assert STATUSES[result.records.status[0]] is S.ABORTED
    assert result.times[0, S.ABORTED.code] == 2.0
    # arming 0.9 s, then batches of 100 shots of all 10 circuits (0.3508 s): 1.1 s in is 313.6 shots, so the
    # run stops after 400 shots at 0.9 + 4 x 0.3508 = 2.3032 s, and job 1 starts then
    assert result.records.execution_progress[0] == pytest.approx(0.4)
    assert result.times[1, S.EXECUTION_STARTED.code] == pytest.approx(2.3032)


def test_several_different_instruments_share_the_queue() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"rate": 0.5}, "run": {"jobs": 2000},
                                       "workload": [one_job_class()],
                                       "hardware": {"devices": ["garnet", "emerald", "heron"]}})
    result = sim.simulate(scenario)
    used = np.bincount(result.records.instrument, minlength=3)
    assert (used > 0).all()
    assert_invariants(result)


def test_hardware_settings_are_validated_with_their_key() -> None:
    with pytest.raises(sim.ScenarioError, match=r"hardware\.faults\.error_probability"):
        sim.Scenario.from_dict({"arrivals": {"rate": 1}, "hardware": {"faults": {"error_probability": 2}}})
    with pytest.raises(sim.ScenarioError, match=r"calibration\.times_of_day"):
        sim.Scenario.from_dict({"arrivals": {"rate": 1}, "calibration": {"times_of_day": ["25:99"]}})
    with pytest.raises(sim.ScenarioError, match=r"hardware\.device\.t2"):
        sim.Scenario.from_dict({"arrivals": {"rate": 1}, "hardware": {"device": {"preset": "garnet", "t2": "x"}}})
    assert math.isinf(sim.Scenario.from_dict({"arrivals": {"rate": 1}}).hardware.execution_timeout)


def test_utilisation_stays_within_capacity_when_runs_are_cut_short() -> None:
    """A run cut short by a failure, a timeout or an outage stops occupying its instrument then."""
    result = sim.simulate(SCENARIOS / "faulty_hardware.toml", jobs=3000, seed=1)
    for stage, row in result.summary()["stages"].items():
        if not math.isnan(row["utilisation"]):
            assert 0 <= row["utilisation"] <= 1, stage
    split = instrument_time(result)
    busy = split["user_jobs"] + split["timed_out"]  # a timed-out run is part of its job's execution
    assert busy == pytest.approx(result.summary()["stages"]["execution"]["utilisation"], rel=1e-9)


def test_synthetic_measurements_are_seeded_counts_of_every_shot() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0, 1]}, "workload": [one_job_class(
        circuits=3, shots=500, qubits=4)], "hardware": {"measurements": True}})
    first, again = sim.simulate(scenario, seed=5), sim.simulate(scenario, seed=5)
    counts = first.measurements_frame()
    assert counts.equals(again.measurements_frame())
    per_circuit = counts.groupby(["job_id", "circuit"])["count"].sum()
    assert per_circuit.tolist() == [500] * 6
    assert counts.bitstring.str.len().eq(4).all()
    assert sim.simulate(scenario.with_values({"hardware.measurements": False})).measurements_frame().empty
