"""The station end to end: every job walks the lifecycle in order and nothing is lost; runs are deterministic and
use common random numbers; a small run with constant durations gives exactly the timestamps worked out by hand;
a run with a horizon leaves jobs in flight and says so; the results database holds the same timelines.

The timeline checks here are written independently of ``sim.model.status`` and ``sim.results.invariants``.
"""

from __future__ import annotations

import copy
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import scenario_dicts

import sim
from hardware_mock import GARNET

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
VALUES = [s.value for s in sim.JobStatus]
READY, FAILED, ABORTED = 15, 16, 17
TERMINAL = {READY, FAILED, ABORTED}
WORKLOAD_COLUMNS = ["job_class", "job_type", "circuits", "shots", "depth", "sweep_points", "user", "priority",
                    "submitted_at"]
STAGE_STATUS = {"validation": 1, "calibration": 3, "compilation": 5, "save_metadata": 7, "execution": 10,
                "post_processing": 13}
"""Each stage by the code of the status that starts it; the status before is the wait's start, the one after the
service's end."""


def check_timelines(times: np.ndarray, final: list[object], horizon: float | None = None) -> dict[str, int]:
    """Every job's timeline obeys the lifecycle; returns how many jobs ended how.

    ``times`` is jobs x 18 (NaN where a status was never reached), ``final`` each job's final status value (None
    for a job never received). A timeline is RECEIVED, then a prefix of the happy path one status at a time, and
    at most one terminal status, last; times never decrease along it. Without a horizon every received job ends
    in a terminal status.
    """
    assert times.shape == (len(final), 18)
    outcome = {"not_received": 0, "ready": 0, "failed": 0, "aborted": 0, "in_flight": 0}
    for job, row in enumerate(times):
        reached = [code for code in range(18) if not math.isnan(row[code])]
        if not reached:
            assert final[job] is None, (job, final[job])
            outcome["not_received"] += 1
            continue
        terminal = [code for code in reached if code in (FAILED, ABORTED)]
        path = [code for code in reached if code not in (FAILED, ABORTED)]
        assert path == list(range(len(path))), (job, reached)  # RECEIVED, then one step at a time
        assert len(terminal) <= 1, (job, reached)
        if terminal:
            assert path[-1] != READY, (job, reached)  # nothing after READY
        ordered = path + terminal
        stamps = row[ordered]
        assert np.all(np.diff(stamps) >= 0), (job, dict(zip(ordered, stamps, strict=True)))  # times ascend
        last = ordered[-1]
        assert final[job] == VALUES[last], (job, final[job], VALUES[last])
        if last in TERMINAL:
            outcome[VALUES[last]] += 1
        else:
            assert horizon is not None, f"job {job} stopped in {VALUES[last]} with no horizon"
            outcome["in_flight"] += 1
        if horizon is not None:
            assert stamps[-1] <= horizon
    return outcome


def final_statuses(result: sim.RunResult) -> list[object]:
    return list(result.job_columns()["final_status"])


# --- the baseline ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(BASELINE)


@pytest.fixture(scope="module")
def baseline_run(baseline: sim.Scenario) -> sim.RunResult:
    return sim.simulate(baseline, seed=7, jobs=3000)


def test_every_timeline_obeys_the_lifecycle(baseline_run: sim.RunResult) -> None:
    outcome = check_timelines(baseline_run.times, final_statuses(baseline_run))
    assert outcome == {"not_received": 0, "ready": 3000, "failed": 0, "aborted": 0, "in_flight": 0}


def test_ready_jobs_visited_all_sixteen_statuses(baseline_run: sim.RunResult) -> None:
    times = baseline_run.times
    assert np.isfinite(times[:, :16]).all()
    assert np.isnan(times[:, 16:]).all()
    assert (np.diff(times[:, :16], axis=1) >= 0).all()
    frame = baseline_run.transitions_frame()
    assert len(frame) == 3000 * 16
    assert (frame.groupby("job_id")["status"].apply(list) == [VALUES[:16]] * 3000).all()


def test_no_job_lost(baseline_run: sim.RunResult) -> None:
    jobs = baseline_run.jobs_frame()
    assert len(jobs) == 3000
    assert list(jobs.index) == list(range(3000))
    assert (jobs["final_status"] == "ready").all()
    assert baseline_run.status_counts() == {"ready": 3000}
    summary = baseline_run.summary()
    assert summary["jobs"]["submitted"] == summary["jobs"]["received"] == summary["jobs"]["ready"] == 3000
    assert summary["jobs"]["in_flight"] == 0


def test_jobs_are_received_when_submitted(baseline_run: sim.RunResult) -> None:
    jobs = baseline_run.jobs_frame()
    assert np.array_equal(baseline_run.times[:, 0], jobs["submitted_at"].to_numpy())
    assert (np.diff(jobs["submitted_at"].to_numpy()) >= 0).all()
    # Poisson at 300/h: mean gap 12 s
    assert np.diff(jobs["submitted_at"].to_numpy()).mean() == pytest.approx(12.0, rel=0.1)


def test_pulse_jobs_are_not_compiled(baseline_run: sim.RunResult) -> None:
    jobs = baseline_run.jobs_frame()
    compile_time = baseline_run.times[:, 6] - baseline_run.times[:, 5]
    pulse = (jobs["job_type"] == "pulse").to_numpy()
    assert 0 < pulse.sum() < 3000
    assert (compile_time[pulse] == 0).all()
    assert (compile_time[~pulse] > 0).all()


def test_execution_time_is_the_hardware_model(baseline_run: sim.RunResult) -> None:
    jobs = baseline_run.jobs_frame()
    expected = GARNET.job_overhead + jobs["sweep_points"] * jobs["circuits"] * (
        jobs["shots"] * (jobs["depth"] * GARNET.layer_duration + GARNET.readout + GARNET.end_delay
                         + GARNET.transfer_per_shot) + GARNET.circuit_overhead)
    assert np.allclose(baseline_run.times[:, 11] - baseline_run.times[:, 10], expected.to_numpy(), rtol=1e-9)


def test_one_instrument_runs_one_job_at_a_time_in_fifo_order(baseline_run: sim.RunResult) -> None:
    start, end = baseline_run.times[:, 10], baseline_run.times[:, 11]
    order = np.argsort(start, kind="stable")
    assert (start[order][1:] >= end[order][:-1]).all()  # no overlap
    pending = baseline_run.times[:, 9]
    assert (np.diff(start[np.argsort(pending, kind="stable")]) >= 0).all()  # first come, first served


@pytest.mark.parametrize("policy", ["fifo", "priority"])
def test_execution_queue_order(policy: str) -> None:
    """Whenever an instrument takes a job, no job that had been waiting longer in the same priority class, or in
    a higher class (under ``priority``), is left waiting."""
    scenario = sim.Scenario.from_dict({
        "run": {"jobs": 300, "seed": 5},
        "arrivals": {"rate": "240/h"},
        "workload": [{"name": "normal", "weight": 3, "priority": 0}, {"name": "urgent", "weight": 1, "priority": 2}],
        "scheduler": {"policy": policy},
        "hardware": {"instruments": 2, "execution_time": {"dist": "exponential", "mean": "40s"}},
    })
    result = sim.simulate(scenario)
    pending, start = result.times[:, 9], result.times[:, 10]
    priority = result.jobs_frame()["priority"].to_numpy() if policy == "priority" else np.zeros(300)
    overtaken = 0
    for b in range(300):
        waiting = (pending < start[b]) & (start > start[b])  # jobs still waiting when b got an instrument
        assert not (waiting & (priority > priority[b])).any(), b
        same = waiting & (priority == priority[b])
        assert not (same & (pending < pending[b])).any(), b
        overtaken += int((waiting & (priority < priority[b])).sum())
    assert (overtaken > 0) == (policy == "priority")  # urgent jobs did overtake, and only under priority


def test_summary_agrees_with_the_timelines(baseline_run: sim.RunResult) -> None:
    summary = baseline_run.summary()
    times = baseline_run.times
    assert summary["sim_time"] == pytest.approx(times[:, READY].max())
    turnaround = times[:, READY] - times[:, 0]
    assert summary["turnaround"]["mean"] == pytest.approx(turnaround.mean())
    assert summary["turnaround"]["max"] == pytest.approx(turnaround.max())
    assert summary["turnaround"]["p95"] == pytest.approx(np.percentile(turnaround, 95))
    for stage, start in STAGE_STATUS.items():
        row = summary["stages"][stage]
        wait, service = times[:, start] - times[:, start - 1], times[:, start + 1] - times[:, start]
        assert row["count"] == 3000, stage
        assert row["wait"]["mean"] == pytest.approx(wait.mean(), abs=1e-9), stage
        assert row["service"]["p50"] == pytest.approx(np.median(service)), stage
    execution = summary["stages"]["execution"]
    busy = (times[:, 11] - times[:, 10]).sum()
    assert execution["utilisation"] == pytest.approx(busy / summary["sim_time"])
    assert summary["throughput_per_hour"] == pytest.approx(3000 / (summary["sim_time"] / 3600))


def test_frames(baseline_run: sim.RunResult) -> None:
    jobs = baseline_run.jobs_frame()
    assert {"job_class", "job_type", "circuits", "shots", "depth", "sweep_points", "user", "priority",
            "submitted_at", "final_status", "instrument", "failed_stage", "user_error_message",
            "full_error_log"} <= set(jobs.columns)
    assert set(jobs["job_class"]) == {"circuits", "pulse-sweeps"}
    assert (jobs["instrument"] == 0).all()
    assert jobs["failed_stage"].isna().all()
    times = baseline_run.times_frame()
    assert list(times.columns) == VALUES
    assert np.array_equal(times.to_numpy(), baseline_run.times, equal_nan=True)
    transitions = baseline_run.transitions_frame()
    assert list(transitions.columns) == ["job_id", "status", "t"]


# --- determinism and common random numbers --------------------------------------------------------------------


def test_same_seed_same_records(baseline: sim.Scenario, baseline_run: sim.RunResult) -> None:
    again = sim.simulate(baseline, seed=7, jobs=3000)
    assert np.array_equal(again.times, baseline_run.times, equal_nan=True)
    assert again.jobs_frame().equals(baseline_run.jobs_frame())
    assert again.transitions_frame().equals(baseline_run.transitions_frame())
    from_file = sim.simulate(BASELINE, seed=7, jobs=3000)
    assert np.array_equal(from_file.times, baseline_run.times, equal_nan=True)


def test_different_seeds_differ(baseline: sim.Scenario, baseline_run: sim.RunResult) -> None:
    other = sim.simulate(baseline, seed=8, jobs=3000)
    assert not np.array_equal(other.times, baseline_run.times, equal_nan=True)
    for column in ("submitted_at", "job_class", "shots"):
        assert not other.jobs_frame()[column].equals(baseline_run.jobs_frame()[column]), column


def test_seed_and_jobs_default_to_the_scenario(baseline: sim.Scenario) -> None:
    small = baseline.with_values({"run.jobs": 200, "run.seed": 7})
    assert np.array_equal(sim.simulate(small).times, sim.simulate(baseline, seed=7, jobs=200).times, equal_nan=True)
    assert len(sim.simulate(small).jobs_frame()) == 200


def test_common_random_numbers(baseline: sim.Scenario, baseline_run: sim.RunResult) -> None:
    """Changing the compiler workers changes the queueing, and no draw: the workload and every job's service
    times are the same."""
    fewer = sim.simulate(baseline.with_values({"stages.compilation.workers": 1}), seed=7, jobs=3000)
    a, b = baseline_run.jobs_frame(), fewer.jobs_frame()
    for column in WORKLOAD_COLUMNS:
        assert a[column].equals(b[column]), column
    for stage, start in STAGE_STATUS.items():
        service_a = baseline_run.times[:, start + 1] - baseline_run.times[:, start]
        service_b = fewer.times[:, start + 1] - fewer.times[:, start]
        assert np.allclose(service_a, service_b, rtol=1e-12, atol=1e-9), stage
    compile_wait_a = baseline_run.times[:, 5] - baseline_run.times[:, 4]
    compile_wait_b = fewer.times[:, 5] - fewer.times[:, 4]
    assert compile_wait_b.sum() > compile_wait_a.sum()  # the change did something


def test_rejects_zero_jobs(baseline: sim.Scenario) -> None:
    with pytest.raises(ValueError, match="at least one job"):
        sim.simulate(baseline, jobs=0)


# --- an exact trace -------------------------------------------------------------------------------------------

TRACE = {
    "run": {"seed": 0},
    "arrivals": {"times": [0, 1, 1]},
    "stages": {
        "validation": {"workers": 1, "duration": "2s"},
        "calibration": {"duration": "1s"},  # unlimited workers: never waits
        "compilation": {"workers": 1, "duration": "3s"},
        # save_metadata: the default, unlimited and instantaneous
        "post_processing": {"workers": 1, "duration": "5s"},
    },
    "hardware": {"instruments": 1, "execution_time": "4s"},
}
# Job 0 arrives at 0 and never waits. Jobs 1 and 2 arrive together at 1 and queue for the single validation
# worker in id order; from then on each stage's single server keeps them apart.
EXPECTED_TRACE = {
    #                 R  VS VE FS FE CS  CE  SS  SE  PE  ES  EE  PPP PPS PPE READY
    0: np.array([0, 0, 2, 2, 3, 3, 6, 6, 6, 6, 6, 10, 10, 10, 15, 15]),
    1: np.array([1, 2, 4, 4, 5, 6, 9, 9, 9, 9, 10, 14, 14, 15, 20, 20]),
    2: np.array([1, 4, 6, 6, 7, 9, 12, 12, 12, 12, 14, 18, 18, 20, 25, 25]),
}


def test_exact_trace() -> None:
    result = sim.simulate(sim.Scenario.from_dict(copy.deepcopy(TRACE)))
    assert result.times.shape == (3, 18)
    for job, expected in EXPECTED_TRACE.items():
        assert result.times[job, :16].tolist() == expected.astype(float).tolist(), job
        assert np.isnan(result.times[job, 16:]).all()
    assert result.sim_time == 25
    rows = list(zip(*result.transition_columns().values(), strict=True))
    assert rows[:3] == [(0, "received", 0.0), (0, "validation_started", 0.0), (0, "validation_ended", 2.0)]
    assert len(rows) == 48


def test_exact_trace_summary() -> None:
    summary = sim.simulate(sim.Scenario.from_dict(copy.deepcopy(TRACE))).summary()
    stages = summary["stages"]
    assert stages["validation"]["wait"]["mean"] == pytest.approx((0 + 1 + 3) / 3)
    assert stages["validation"]["wait"]["max"] == 3
    assert stages["calibration"]["wait"]["max"] == 0
    assert stages["compilation"]["wait"]["mean"] == pytest.approx((0 + 1 + 2) / 3)
    assert stages["execution"]["wait"]["mean"] == pytest.approx((0 + 1 + 2) / 3)
    assert stages["post_processing"]["wait"]["mean"] == pytest.approx((0 + 1 + 2) / 3)
    assert stages["execution"]["service"]["mean"] == 4
    assert stages["save_metadata"]["service"]["max"] == 0
    assert stages["execution"]["utilisation"] == pytest.approx(12 / 25)
    assert stages["validation"]["utilisation"] == pytest.approx(6 / 25)
    assert stages["post_processing"]["utilisation"] == pytest.approx(15 / 25)
    assert summary["turnaround"]["mean"] == pytest.approx((15 + 19 + 24) / 3)
    assert summary["turnaround"]["max"] == 24


def test_exact_trace_with_the_hardware_model() -> None:
    """One pulse-level job on a Garnet: no compilation, and the instrument time of the timing model."""
    scenario = sim.Scenario.from_dict({
        "arrivals": {"times": ["10s"]},
        "workload": [{"name": "sweep", "kind": "pulse", "circuits": 2, "shots": 100, "depth": 10,
                      "sweep_points": 3}],
        "stages": {"compilation": {"workers": 1, "duration": "5s"}, "validation": {"duration": "1s"}},
    })
    result = sim.simulate(scenario)
    execution = GARNET.job_overhead + 3 * 2 * (100 * (10 * 40e-9 + 2e-6 + 348e-6))
    expected = [10, 10, 11, 11, 11, 11, 11, 11, 11, 11, 11, 11 + execution, 11 + execution, 11 + execution,
                11 + execution, 11 + execution]
    assert result.times[0, :16] == pytest.approx(expected, abs=1e-9)


# --- a horizon ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def horizon_run(baseline: sim.Scenario) -> sim.RunResult:
    """The baseline overloaded (a 30 s execution every 12 s on average) and stopped after an hour."""
    overloaded = baseline.with_values({"run.horizon": "1h", "hardware.execution_time": "30s"})
    return sim.simulate(overloaded, seed=3, jobs=1000)


def test_horizon_leaves_jobs_in_flight(horizon_run: sim.RunResult) -> None:
    assert horizon_run.sim_time == 3600
    final = final_statuses(horizon_run)
    outcome = check_timelines(horizon_run.times, final, horizon=3600)
    submitted = horizon_run.jobs_frame()["submitted_at"].to_numpy()
    assert outcome["not_received"] == (submitted > 3600).sum() > 0
    assert outcome["in_flight"] > 100  # the queue for the instrument grows all hour
    assert outcome["ready"] == pytest.approx(3600 / 30, abs=2)
    assert sum(outcome.values()) == 1000
    summary = horizon_run.summary()
    assert summary["jobs"]["in_flight"] == outcome["in_flight"]
    assert summary["jobs"]["received"] == 1000 - outcome["not_received"]
    assert summary["jobs"]["ready"] == outcome["ready"]
    counts = horizon_run.status_counts()
    assert counts["pending_execution"] > 100
    assert sum(counts.values()) == 1000


def test_horizon_run_in_the_database(horizon_run: sim.RunResult, tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    stored = sim.simulate(horizon_run.scenario, seed=3, jobs=1000, store=db)
    assert np.array_equal(stored.times, horizon_run.times, equal_nan=True)
    timelines, final = read_database(db)
    assert np.array_equal(timelines, horizon_run.times, equal_nan=True)
    assert final == final_statuses(horizon_run)


# --- the results database -------------------------------------------------------------------------------------


def read_database(db: Path, run_id: int = 1) -> tuple[np.ndarray, list[object]]:
    """A run's timelines (jobs x 18) and final statuses, read back with plain sqlite3, checking the order of the
    transitions as recorded: within a job, statuses ascend strictly and times never decrease."""
    connection = sqlite3.connect(db)
    try:
        (complete,) = connection.execute("SELECT complete FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        assert complete == 1
        final = [row[0] for row in connection.execute(
            "SELECT final_status FROM jobs WHERE run_id = ? ORDER BY job_id", (run_id,))]
        job_ids = [row[0] for row in connection.execute(
            "SELECT job_id FROM jobs WHERE run_id = ? ORDER BY job_id", (run_id,))]
        assert job_ids == list(range(len(final)))
        rows = connection.execute("SELECT job_id, status, t FROM transitions WHERE run_id = ? "
                                  "ORDER BY job_id, status_rank", (run_id,)).fetchall()
    finally:
        connection.close()
    times = np.full((len(final), 18), np.nan)
    last: dict[int, tuple[int, float]] = {}
    for job, status, t in rows:
        code = VALUES.index(status)
        if job in last:
            assert code > last[job][0], (job, VALUES[last[job][0]], status)
            assert t >= last[job][1], (job, status, t)
        last[job] = (code, t)
        times[job, code] = t
    return times, final


def test_database_timelines(baseline: sim.Scenario, baseline_run: sim.RunResult, tmp_path: Path) -> None:
    db = tmp_path / "results.sqlite"
    sim.simulate(baseline, seed=7, jobs=3000, store=db)
    times, final = read_database(db)
    check_timelines(times, final)
    assert np.array_equal(times, baseline_run.times, equal_nan=True)
    assert final == ["ready"] * 3000
    connection = sqlite3.connect(db)
    try:
        assert connection.execute("SELECT COUNT(*) FROM transitions").fetchone() == (3000 * 16,)
        per_status = dict(connection.execute("SELECT status, COUNT(*) FROM transitions GROUP BY status").fetchall())
        assert per_status == dict.fromkeys(VALUES[:16], 3000)
        jobs = connection.execute("SELECT job_class, job_type, circuits, shots, submitted_at FROM jobs "
                                  "ORDER BY job_id").fetchall()
    finally:
        connection.close()
    frame = baseline_run.jobs_frame()
    assert jobs == list(zip(frame["job_class"], frame["job_type"], frame["circuits"].tolist(),
                            frame["shots"].tolist(), frame["submitted_at"].tolist(), strict=True))


# --- aborts at the edge ---------------------------------------------------------------------------------------


def test_abort_in_the_instant_of_submission() -> None:
    """An abort drawn for the very instant a job is submitted: the job is either aborted once received, or never
    received at all; never both cancelled and run, and the run does not stop before every job has settled."""
    scenario = sim.Scenario.from_dict({"run": {"jobs": 3}, "arrivals": {"times": [0, 10, 20]},
                                       "aborts": {"probability": 1.0, "delay": 0},
                                       "hardware": {"execution_time": "5s"}})
    result = sim.simulate(scenario)
    final = final_statuses(result)
    check_timelines(result.times, final)
    events = result.events_frame()
    cancelled = set(events.loc[events["kind"] == "abort_before_receipt", "job_id"])
    for job in range(3):  # every job is aborted: received and ABORTED, or cancelled before it was received
        assert final[job] == "aborted" or (job in cancelled and final[job] is None), (job, final[job])


# --- random scenarios -----------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=scenario_dicts(with_faults=True))
def test_random_scenarios(data: dict[str, Any]) -> None:
    """For any small valid scenario: every job's path is legal, nothing is lost, and the run is deterministic."""
    scenario = sim.Scenario.from_dict(copy.deepcopy(data))
    result = sim.simulate(scenario)
    final = final_statuses(result)
    outcome = check_timelines(result.times, final, horizon=scenario.run.horizon)
    faulty = any(key in data for key in ("aborts", "failures", "restarts"))
    if scenario.run.horizon is None and not faulty:
        assert outcome["ready"] == len(final)
    if not faulty:
        assert outcome["failed"] == outcome["aborted"] == 0
    events = result.events_frame()
    for job in events.loc[events["kind"] == "abort_before_receipt", "job_id"]:
        assert final[int(job)] is None  # cancelled before receipt: never in the timelines
    if scenario.run.horizon is None and np.isfinite(result.times).any():
        assert np.nanmax(result.times) <= result.sim_time
    summary = result.summary()["jobs"]
    assert summary["received"] == summary["ready"] + summary["failed"] + summary["aborted"] + summary["in_flight"]
    assert summary["in_flight"] == outcome["in_flight"]
    again = sim.simulate(sim.Scenario.from_dict(copy.deepcopy(data)))
    assert np.array_equal(again.times, result.times, equal_nan=True)
    assert again.jobs_frame().equals(result.jobs_frame())
    assert again.events_frame().equals(result.events_frame())
