"""Abort, failure and restart paths: exact traces on tiny stations, and coverage of every status."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import sim
from sim.model.status import STATUSES, JobStatus
from sim.results.client import job_data, position
from sim.simulation import observe

S = JobStatus


def tiny(**sections: Any) -> sim.Scenario:
    """Three jobs at t=0, one instrument running each for 10 s; everything else instantaneous."""
    data: dict[str, Any] = {
        "arrivals": {"times": [0, 0, 0]},
        "hardware": {"execution_time": 10},
    }
    data.update(sections)
    return sim.Scenario.from_dict(data, source="tiny")


def reached(result: sim.RunResult, job: int, status: JobStatus) -> float:
    return float(result.times[job, status.code])


def final(result: sim.RunResult, job: int) -> JobStatus:
    return STATUSES[result.records.status[job]]


def last_before_terminal(result: sim.RunResult, job: int) -> JobStatus:
    codes = np.flatnonzero(~np.isnan(result.times[job]))
    return STATUSES[codes[-2]]


def test_abort_of_a_queued_job_takes_it_out_of_the_queue() -> None:
    result = sim.simulate(tiny(aborts={"jobs": [{"job": 1, "at": 5}]}))
    assert final(result, 1) is S.ABORTED
    assert reached(result, 1, S.ABORTED) == 5
    assert last_before_terminal(result, 1) is S.PENDING_EXECUTION
    assert reached(result, 2, S.EXECUTION_STARTED) == 10  # job 2 moved up: right after job 0
    assert final(result, 0) is S.READY
    assert final(result, 2) is S.READY
    assert math.isnan(reached(result, 1, S.READY))


def test_positions_update_when_a_queued_job_leaves() -> None:
    scenario = tiny(arrivals={"times": [0, 0, 0, 0]}, aborts={"jobs": [{"job": 1, "at": 5}]})
    before = observe(scenario, at=4)
    assert [position(before, j) for j in range(4)] == [0, 0, 1, 2]
    after = observe(scenario, at=6)
    assert [position(after, j) for j in range(4)] == [0, None, 0, 1]


def test_abort_inside_a_stage_frees_the_worker_at_once() -> None:
    scenario = tiny(stages={"validation": {"workers": 1, "duration": 10}},
                    aborts={"jobs": [{"job": 0, "at": 3}]})
    result = sim.simulate(scenario)
    assert final(result, 0) is S.ABORTED
    assert last_before_terminal(result, 0) is S.VALIDATION_STARTED
    assert reached(result, 1, S.VALIDATION_STARTED) == 3


def test_abort_while_waiting_for_a_worker_withdraws_the_request() -> None:
    scenario = tiny(stages={"validation": {"workers": 1, "duration": 10}},
                    aborts={"jobs": [{"job": 1, "at": 3}]})
    result = sim.simulate(scenario)
    assert last_before_terminal(result, 1) is S.RECEIVED
    assert reached(result, 2, S.VALIDATION_STARTED) == 10  # the worker went to job 2, not to the aborted job


def test_abort_on_the_instrument_stops_it_and_keeps_progress() -> None:
    scenario = tiny(aborts={"jobs": [{"job": 0, "at": 4}]})
    station = observe(scenario, at=4.5)
    data = job_data(station, 0)
    assert data.job_status is S.ABORTED
    assert data.interrupted
    assert data.position is None
    result = sim.simulate(scenario)
    assert last_before_terminal(result, 0) is S.EXECUTION_STARTED
    assert result.records.execution_progress[0] == pytest.approx(0.4)
    assert reached(result, 1, S.EXECUTION_STARTED) == 4  # the instrument was freed


def test_abort_of_a_finished_job_changes_nothing_and_is_recorded() -> None:
    result = sim.simulate(tiny(aborts={"jobs": [{"job": 0, "at": 15}]}))  # job 0 is READY at 10
    assert final(result, 0) is S.READY
    ignored = [e for e in result.records.events if e.kind == "abort_ignored"]
    assert [(e.t, e.job_id) for e in ignored] == [(15, 0)]


def test_aborting_many_queued_jobs_leaves_every_pool_idle() -> None:
    n = 400
    scenario = sim.Scenario.from_dict({
        "arrivals": {"rate": 1.0},
        "stages": {name: {"workers": 2, "duration": {"dist": "exponential", "mean": 1.5}}
                   for name in ("validation", "calibration", "compilation", "save_metadata", "post_processing")},
        "hardware": {"instruments": 2, "execution_time": {"dist": "exponential", "mean": 2.5}},
        "aborts": {"probability": 0.5, "delay": {"dist": "uniform", "low": 0, "high": 20}},
    })
    station = observe(scenario, at=math.inf, jobs=n, seed=5)
    assert station.settled == n
    assert all(pool is None or pool.idle for pool in (*station.pools, station.instruments.pool))
    status = np.asarray(station.records.status)
    assert set(status.tolist()) <= {S.READY.code, S.ABORTED.code}
    assert (status == S.ABORTED.code).sum() > n // 4


@pytest.mark.parametrize("stage", ["validation", "calibration", "compilation", "save_metadata", "execution",
                                   "post_processing"])
def test_a_failing_stage_records_the_stage_and_its_error(stage: str) -> None:
    errors = [{"user_message": f"{stage} broke", "full_log": f"Traceback: {stage}"}]
    stages = {name: {"duration": 1} for name in ("validation", "calibration", "compilation", "save_metadata",
                                                 "post_processing")}
    result = sim.simulate(tiny(stages=stages, failures={stage: {"probability": 1.0, "errors": errors}}))
    for job in range(3):
        assert final(result, job) is S.FAILED
        assert result.records.failed_stage[job] == stage
        assert result.records.user_error_message[job] == f"{stage} broke"
        assert result.records.full_error_log[job] == f"Traceback: {stage}"


def failing_everywhere(policy: str) -> sim.Scenario:
    """Busy single-worker stages, failures after every stage's work, and restarts: every in-progress status
    is occupied by some job at some restart."""
    stages = {name: {"workers": 1, "duration": {"dist": "exponential", "mean": 2}}
              for name in ("validation", "calibration", "compilation", "save_metadata", "post_processing")}
    failures = {name: {"probability": 0.05, "after_end": 0.5}
                for name in ("validation", "calibration", "compilation", "save_metadata", "execution",
                             "post_processing")}
    return sim.Scenario.from_dict({
        "run": {"jobs": 3000, "seed": 11},
        "arrivals": {"rate": 0.4},
        "stages": stages,
        "hardware": {"execution_time": {"dist": "exponential", "mean": 2}},
        "failures": failures,
        "restarts": {"mean_time_between": "10min", "downtime": "1min", "policy": policy, "retry_delay": 5},
    }, source="failing_everywhere")


def test_failed_is_reachable_from_every_non_terminal_status() -> None:
    result = sim.simulate(failing_everywhere("fail"))
    failed = np.flatnonzero(result.final_status == S.FAILED.code)
    reached_from = {last_before_terminal(result, int(j)) for j in failed}
    assert reached_from == JobStatus.in_progress_statuses()


def test_restart_with_policy_fail_cleans_up_every_in_progress_job() -> None:
    result = sim.simulate(failing_everywhere("fail"))
    restarts = [e for e in result.records.events if e.kind == "restart"]
    assert restarts
    cleaned = [j for j, message in result.records.user_error_message.items()
               if message == "Job was cleaned up on restart"]
    assert sum(int(e.detail.split("cleaned up ")[1].split()[0]) for e in restarts) == len(cleaned) > 0
    restart_times = {e.t for e in restarts}
    assert all(reached(result, j, S.FAILED) in restart_times for j in cleaned)


def test_restart_with_policy_requeue_loses_no_job_and_less_work() -> None:
    failed = sim.simulate(failing_everywhere("fail"))
    requeued = sim.simulate(failing_everywhere("requeue"))
    assert not any(m == "Job was cleaned up on restart" for m in requeued.records.user_error_message.values())
    counts = requeued.status_counts()
    assert counts.get("ready", 0) + counts.get("failed", 0) + counts.get("aborted", 0) == 3000
    assert counts["ready"] > failed.status_counts()["ready"]
    assert requeued.records.lost_work < failed.records.lost_work


def test_submissions_during_downtime_are_retried_by_their_clients() -> None:
    scenario = tiny(arrivals={"times": [0, 30, 100]}, restarts={"times": [25], "downtime": 20, "retry_delay": 7})
    result = sim.simulate(scenario)
    # job 1 was submitted at 30 while the service was down (25-45); its client retried at 37 and 44, then 51
    assert reached(result, 1, S.RECEIVED) == 51
    assert final(result, 1) is S.READY


def test_an_abort_before_submission_is_bad_input() -> None:
    scenario = tiny(arrivals={"times": [0, 10, 20]}, aborts={"jobs": [{"job": 2, "at": 5}]})
    with pytest.raises(sim.ScenarioError, match=r"aborts\.jobs\[0\]\.at"):
        sim.simulate(scenario)


@pytest.mark.parametrize(("section", "key"), [
    ({"aborts": {"probability": 1.5}}, "aborts.probability"),
    ({"restarts": {"policy": "reboot"}}, "restarts.policy"),
    ({"failures": {"teleport": {"probability": 0.1}}}, "failures.teleport"),
    ({"failures": {"compilation": {"probability": -0.1}}}, "failures.compilation.probability"),
])
def test_bad_fault_settings_name_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(sim.ScenarioError, match=key.replace(".", r"\.").replace("[", r"\[")):
        tiny(**section)
