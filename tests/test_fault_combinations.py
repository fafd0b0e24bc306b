"""Faults in combination: restarts on restarts, aborts on requeued runs, outages and recalibrations during
downtime, hangs with no timeout, and the figures derived from holdings. Each test pins one behaviour that the
first version of the model got wrong when faults met (and each fails on it)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from hardware_mock.calibration import CalibrationPlan, CalibrationSet
from hardware_mock.device import GARNET
from hardware_mock.execution import ExecutionPlan
from sim.invariants import assert_invariants
from sim.model.downtime import Downtime
from sim.model.instruments import InstrumentState
from sim.model.records import Holder, Outcome
from sim.model.status import JobStatus
from sim.policies.calibration_aware import CalibrationAware
from sim.policies.context import QueueContext
from sim.simulation import observe

ROOT = Path(__file__).resolve().parents[1]
S = JobStatus


def scenario(**sections: Any) -> sim.Scenario:
    """One instrument, instantaneous stages unless a section says otherwise."""
    data: dict[str, Any] = {"arrivals": {"times": [0]}, "hardware": {"execution_time": 10}}
    data.update(sections)
    return sim.Scenario.from_dict(data, source="combination")


def events(result: sim.RunResult, kind: str) -> list[float]:
    return [e.t for e in result.records.events if e.kind == kind]


# --- 1. restarts that fall due while the service is down -------------------------------------------------------

def test_a_restart_due_during_a_downtime_is_absorbed_and_downtime_is_never_lost_work() -> None:
    result = sim.simulate(scenario(
        stages={"validation": {"duration": 1000}},
        restarts={"times": [100, 120, 300], "downtime": 50, "policy": "requeue"}))
    assert events(result, "restart_begin") == [100, 300]  # 120 falls in the downtime 100-150
    assert events(result, "restart_absorbed") == [150]
    assert events(result, "restart") == [150, 350]
    # validation from 0 (cut at 100), again from 150 (cut at 300), again from 350: 100 + 150 s of work lost
    assert result.records.lost_work == pytest.approx(250.0)
    assert result.times[0, S.VALIDATION_ENDED.code] == pytest.approx(1350.0)
    assert_invariants(result)


def test_frequent_restarts_end_the_run_instead_of_restarting_for_ever() -> None:
    command = [sys.executable, "-m", "sim", "run", str(ROOT / "scenarios" / "restarts.toml"), "--jobs", "10",
               "--set", 'restarts.mean_time_between="1s"']
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:
        assert done.stderr.count("\n") == 1, done.stderr
        assert "no job finished over" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


# --- 2, 3. progress of aborted and requeued runs ---------------------------------------------------------------

def garnet_job(shots: int) -> dict[str, Any]:
    return {"name": "big", "circuits": 1, "shots": shots, "depth": 1, "sweep_points": 1}


def test_an_abort_in_the_last_shot_batch_keeps_progress_at_one() -> None:
    plan = ExecutionPlan(GARNET, 1, 1000, 1)
    at = plan.duration - 1e-3  # in the last batch of shots
    result = sim.simulate(scenario(workload=[garnet_job(1000)], hardware={"device": "garnet"},
                                   aborts={"jobs": [{"job": 0, "at": at}]}))
    assert result.records.status[0] == S.ABORTED.code
    assert result.records.execution_progress[0] == 1.0


def test_a_requeued_run_counts_its_progress_and_stop_point_from_its_new_start() -> None:
    shots = 20_000
    plan = ExecutionPlan(GARNET, 1, shots, 1)
    result = sim.simulate(scenario(arrivals={"times": [0, 8]},  # the second job keeps the run going
                                   workload=[garnet_job(shots)], hardware={"device": "garnet"},
                                   restarts={"times": [5.0], "downtime": 1.0, "policy": "requeue"},
                                   aborts={"jobs": [{"job": 0, "at": 7.0}]}))
    assert result.records.status[0] == S.ABORTED.code
    stop = plan.interrupt(1.0)  # one second into the run that started again at 6 s
    assert result.records.execution_progress[0] == pytest.approx(plan.share_done(stop.progress))
    assert result.records.execution_progress[0] < 0.05
    table = result.holdings["execution"]
    runs = table.where(table.holder == 0)
    assert runs.start.tolist() == [0.0, 6.0]
    assert runs.end[1] == pytest.approx(6.0 + stop.stops_at)  # the instrument is freed at the batch boundary
    assert runs.outcome.tolist() == [Outcome.RESTART, Outcome.ABORTED]
    assert_invariants(result)


# --- 4. hangs with no timeout ---------------------------------------------------------------------------------

def test_hangs_without_an_execution_timeout_are_refused() -> None:
    with pytest.raises(sim.ScenarioError, match=r"hardware\.faults\.hang_probability.*execution_timeout"):
        scenario(hardware={"faults": {"hang_probability": 0.1}})


# --- 5. a recompile during a recalibration of several instruments ------------------------------------------------

def test_a_job_recompiled_during_a_recalibration_waits_for_the_new_set() -> None:
    result = sim.simulate(sim.Scenario.from_dict({
        "run": {"jobs": 400},
        "arrivals": {"rate": "120/h"},
        "workload": [{"name": "pulse", "kind": "pulse"}],
        "hardware": {"instruments": 2, "execution_time": 30},
        "calibration": {"times_of_day": ["12:00"], "start_time_of_day": "00:00", "valid_for": "3h",
                        "duration": "10min", "fetch_cached": 0, "fetch_uncached": 0},
    }, source="recompile"))
    recompiled = [e.job_id for e in result.records.events if e.kind == "recompile"]
    assert recompiled, "the scenario must make some job recompile"
    assert len(recompiled) == len(set(recompiled))  # each at most once: it got the new set
    sets = [e.t for e in result.records.events if e.kind == "calibration_set"]
    assert all(result.records.calibration_set[j] >= 1 for j in recompiled)
    assert sets
    assert result.records.status.count(S.READY.code) == 400
    assert_invariants(result)


# --- 6. utilisation over a downtime ------------------------------------------------------------------------------

def test_a_stage_is_not_busy_while_the_service_is_down() -> None:
    result = sim.simulate(scenario(
        arrivals={"times": [0, 0, 0, 0]},
        stages={"compilation": {"workers": 4, "duration": "2h"}},
        hardware={"execution_time": 0},
        restarts={"times": ["1h"], "downtime": "1h", "policy": "requeue"}))
    compilation = result.summary()["stages"]["compilation"]
    # held 0-1 h (cut by the restart), down 1-2 h, compiled again 2-4 h: 3 of 4 hours
    assert result.sim_time == pytest.approx(4 * 3600)
    assert compilation["utilisation"] == pytest.approx(0.75)
    assert compilation["service"]["mean"] == pytest.approx(2 * 3600)  # the lost hour is not service
    assert result.summary()["instrument_time"]["service_down"] == pytest.approx(0.25)
    assert_invariants(result)


# --- 7. an outage due while the service is down ------------------------------------------------------------------

def test_an_outage_due_during_a_downtime_holds_the_instrument_when_the_service_comes_up(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Downtime, "_outage_times", lambda self, instrument: iter([(150.0, 400.0)]))
    result = sim.simulate(scenario(
        hardware={"execution_time": 300, "faults": {"mean_time_between_outages": "1d"}},
        restarts={"times": [100], "downtime": 100, "policy": "requeue"}))
    assert events(result, "outage_start") == [150.0]
    assert events(result, "outage_end") == [400.0]
    table = result.holdings["execution"]
    outage = table.where(table.holder == Holder.OUTAGE)
    assert outage.start.tolist() == [200.0]
    assert outage.end.tolist() == [400.0]
    assert result.times[0, S.READY.code] == pytest.approx(700.0)  # ran again after the outage: 400 to 700
    assert_invariants(result)


# --- 8. calibration-aware ties ------------------------------------------------------------------------------------

def test_calibration_aware_breaks_ties_among_equally_long_jobs_by_queue_entry() -> None:
    """The head (58 s) does not fit in the 57 s before the recalibration at 60 s; of the three 50 s jobs that
    fit, the first to enter the queue starts."""
    plan = CalibrationPlan(times_of_day=(60.0,), valid_for=math.inf)
    current = CalibrationSet(0, 0.0, math.inf)
    policy = CalibrationAware(QueueContext.of(4, entered=[0.0, 1.0, 2.0, 3.0], expected=[58.0, 50.0, 50.0, 50.0],
                                              calibration=plan, current_set=lambda: current))
    for job in range(4):
        policy.push(job, float(job))
    assert policy.pop(3.0) == 1


# --- 9. stage statistics of jobs that never finish a stage --------------------------------------------------------

def test_stage_statistics_count_every_job_that_began_service() -> None:
    result = sim.simulate(sim.Scenario.from_dict({
        "run": {"jobs": 300}, "arrivals": {"rate": "300/h"},
        "hardware": {"execution_timeout": "1ms"},
    }, source="timeouts"), seed=1)
    execution = result.summary()["stages"]["execution"]
    assert execution["count"] == 300
    assert execution["completed"] == 0
    assert execution["service"]["max"] == pytest.approx(1e-3)
    assert execution["holdings"] == {"timeout": 300}
    assert np.isfinite(execution["wait"]["mean"])


def test_an_instrument_is_down_through_its_outage_whatever_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its state while the service is down and after it comes up (the same scenario as above)."""
    monkeypatch.setattr(Downtime, "_outage_times", lambda self, instrument: iter([(150.0, 400.0)]))
    scenario_ = scenario(hardware={"execution_time": 300, "faults": {"mean_time_between_outages": "1d"}},
                         restarts={"times": [100], "downtime": 100, "policy": "requeue"})
    seen = {}
    for t in (50.0, 120.0, 170.0, 250.0, 450.0):
        station = observe(scenario_, at=t)
        seen[t] = station.instruments.state(0)
    assert seen == {50.0: InstrumentState.RUNNING, 120.0: InstrumentState.IDLE, 170.0: InstrumentState.DOWN,
                    250.0: InstrumentState.DOWN, 450.0: InstrumentState.RUNNING}


def test_clients_retrying_through_a_long_downtime_are_not_a_stall() -> None:
    """Submissions retried every millisecond through 70 s downtimes make millions of events in which no job
    settles; the station still makes progress once the service is up."""
    result = sim.simulate(sim.Scenario.from_dict({
        "run": {"jobs": 34, "seed": 0}, "arrivals": {"rate": "51.88/min"},
        "restarts": {"policy": "fail", "downtime": "70s", "retry_delay": "0.001s", "mean_time_between": "2min"},
    }, source="retries"))
    assert_invariants(result)
