"""Time series of a run: jobs per status and per stage queue over time, exactly on hand-worked runs, against a
brute-force count on troubled runs, and by Little's law on a bigger one; instrument states as intervals that
tile the run and add up to the instrument-time split; the same answers from a run read back from the database.
"""

from __future__ import annotations

import copy
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.results import timeseries as ts
from sim.results.metrics import instrument_time
from sim.results.store import load_run

ROOT = Path(__file__).resolve().parent.parent
STATUS_VALUES = [s.value for s in sim.JobStatus]
STAGES = ["validation", "calibration", "compilation", "save_metadata", "execution", "post_processing"]

TRACE: dict[str, Any] = {
    "run": {"seed": 0},
    "arrivals": {"times": [0, 1, 1]},
    "stages": {
        "validation": {"workers": 1, "duration": "2s"},
        "calibration": {"duration": "1s"},
        "compilation": {"workers": 1, "duration": "3s"},
        "post_processing": {"workers": 1, "duration": "5s"},
    },
    "hardware": {"instruments": 1, "execution_time": "4s"},
}
# Worked by hand (tests/test_pipeline.py checks the same timestamps):
#         R  VS VE FS FE CS  CE  SS  SE  PE  ES  EE  PPP PPS PPE READY
# job 0:  0, 0, 2, 2, 3, 3,  6,  6,  6,  6,  6, 10, 10, 10, 15, 15
# job 1:  1, 2, 4, 4, 5, 6,  9,  9,  9,  9, 10, 14, 14, 15, 20, 20
# job 2:  1, 4, 6, 6, 7, 9, 12, 12, 12, 12, 14, 18, 18, 20, 25, 25
# so jobs wait for validation over [1, 2) (two) and [2, 4) (one), for compilation over [5, 6) and [7, 9), for the
# instrument over [9, 10) and [12, 14), for post-processing over [14, 15) and [18, 20); never for the others.
EXPECTED_QUEUES = {
    0.0: {}, 1.0: {"validation": 2}, 2.0: {"validation": 1}, 4.0: {}, 5.0: {"compilation": 1}, 6.0: {},
    7.0: {"compilation": 1}, 9.0: {"execution": 1}, 10.0: {}, 12.0: {"execution": 1}, 14.0: {"post_processing": 1},
    15.0: {}, 18.0: {"post_processing": 1}, 20.0: {},
}


def troubled(policy: str = "requeue", jobs: int = 3000, seed: int = 5) -> sim.RunResult:
    """Two instruments that hang, fail and go down, a recalibration, aborts, stage failures and a restart."""
    scenario = sim.load_scenario(ROOT / "scenarios" / "faulty_hardware.toml").with_values({
        "hardware.instruments": 2,
        "hardware.faults.hang_probability": 0.01,
        "hardware.faults.mean_time_between_outages": "3h",
        "calibration.times_of_day": ["10:00"],
        "calibration.start_time_of_day": "08:00",
        "calibration.duration": "20min",
        "aborts.probability": 0.05,
        "failures.compilation.probability": 0.02,
        "restarts.times": ["3h"],
        "restarts.policy": policy,
    })
    return sim.simulate(scenario, seed=seed, jobs=jobs)


@pytest.fixture(scope="module")
def trace() -> sim.RunResult:
    return sim.simulate(sim.Scenario.from_dict(copy.deepcopy(TRACE)))


@pytest.fixture(scope="module", params=["requeue", "fail"])
def troubled_run(request: pytest.FixtureRequest) -> sim.RunResult:
    return troubled(request.param)


def brute_force_counts(times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Jobs per status at each time, job by job: a job's status at t is the last status (in lifecycle order) it
    had reached by t; a job reaches at most one of FAILED and ABORTED, and they come after every other."""
    out = np.zeros((len(at), times.shape[1]), dtype=np.int64)
    for i, t in enumerate(at):
        for row in times:
            reached = [code for code in range(times.shape[1]) if row[code] <= t]
            if reached:
                out[i, max(reached)] += 1
    return out


# --- jobs in statuses and queues ---------------------------------------------------------------------------------

def test_queue_changes_of_the_hand_worked_trace(trace: sim.RunResult) -> None:
    changes = ts.queue_changes(trace)
    assert list(changes.columns) == STAGES
    assert changes.index.name == "t"
    expected = pd.DataFrame([{stage: counts.get(stage, 0) for stage in STAGES} for counts in EXPECTED_QUEUES.values()],
                            index=pd.Index(list(EXPECTED_QUEUES), name="t"))
    pd.testing.assert_frame_equal(changes, expected)


def test_queue_lengths_on_a_grid_of_the_hand_worked_trace(trace: sim.RunResult) -> None:
    grid = ts.queue_lengths(trace, step=0.5)
    assert grid.index.tolist() == [0.5 * i for i in range(51)]  # 0 to sim_time = 25 s
    assert grid.loc[1.5, "validation"] == 2
    assert grid.loc[3.5, "validation"] == 1
    assert grid.loc[13.0, "execution"] == 1
    assert grid.loc[19.5, "post_processing"] == 1
    assert grid.loc[25.0].sum() == 0
    assert grid["calibration"].sum() == 0
    assert grid["save_metadata"].sum() == 0


def test_status_counts_of_the_hand_worked_trace(trace: sim.RunResult) -> None:
    counts = ts.status_counts(trace, at=[0.0, 1.0, 6.0, 10.0, 25.0])
    assert list(counts.columns) == STATUS_VALUES
    assert counts.loc[0.0].to_dict() == {**dict.fromkeys(STATUS_VALUES, 0), "validation_started": 1}
    # at 1: job 0 validates (0 to 2); jobs 1 and 2 were just received
    assert counts.loc[1.0, "received"] == 2
    assert counts.loc[1.0, "validation_started"] == 1
    # at 6, after every change at 6: job 0 executes (its statuses from 6 to 6 took no time), job 1 compiles,
    # job 2 fetches its calibration (it left VALIDATION_STARTED and VALIDATION_ENDED at 6)
    assert counts.loc[6.0].to_dict() == {**dict.fromkeys(STATUS_VALUES, 0), "execution_started": 1,
                                         "compilation_started": 1, "fetch_calibration_started": 1}
    assert counts.loc[25.0, "ready"] == 3
    assert counts.loc[25.0].sum() == 3


def test_status_counts_match_a_brute_force_count(troubled_run: sim.RunResult) -> None:
    """At random times and at every transition time (where ties decide), counted job by job."""
    times = troubled_run.times
    rng = np.random.default_rng(0)
    stamps = np.unique(times[np.isfinite(times)])
    at = np.concatenate([rng.uniform(0, troubled_run.sim_time, 25), rng.choice(stamps, 25), [0.0]])
    expected = brute_force_counts(times, at)
    assert ts.status_counts(troubled_run, at=at).to_numpy().tolist() == expected.tolist()
    for code in (15, 16, 17):  # the run had jobs of every terminal status to count
        assert expected[:, code].max() > 0


def test_every_received_job_is_counted_once(troubled_run: sim.RunResult) -> None:
    counts = ts.status_counts(troubled_run, points=301)
    received = np.isfinite(troubled_run.times[:, 0])
    first = troubled_run.times[received, 0]
    expected = np.searchsorted(np.sort(first), counts.index.to_numpy(), side="right")
    assert counts.sum(axis=1).to_numpy().tolist() == expected.tolist()


def test_exact_changes_agree_with_samples_between_them(troubled_run: sim.RunResult) -> None:
    changes = ts.status_changes(troubled_run, ["pending_execution", "execution_started", "failed"])
    assert (changes.diff().iloc[1:] != 0).any(axis=1).all()  # every row changes something
    t = changes.index.to_numpy()
    middles = (t[1:] + t[:-1]) / 2
    sampled = ts.status_counts(troubled_run, at=middles)[list(changes.columns)]
    assert sampled.to_numpy().tolist() == changes.to_numpy()[:-1].tolist()


def test_bin_max_and_means_agree_with_the_exact_step_function(troubled_run: sim.RunResult) -> None:
    occupancy = ts.queue_occupancy(troubled_run)
    edges = ts.regular_grid(troubled_run.sim_time, points=41)
    peaks, means = occupancy.bin_max(edges), occupancy.bin_means(edges)
    changes = occupancy.changes(["execution"])
    t, n = changes.index.to_numpy(), changes["execution"].to_numpy()
    for i in range(len(edges) - 1):
        a, b = edges[i], edges[i + 1]
        inside = (t > a) & (t < b)
        before = n[np.searchsorted(t, a, side="right") - 1]
        assert peaks["execution"].iloc[i] == max([before, *n[inside]])
        cut = np.clip(np.append(t, math.inf), a, b)
        assert means["execution"].iloc[i] == pytest.approx(np.sum(n * np.diff(cut)) / (b - a), rel=1e-9, abs=1e-9)


def test_regular_grid() -> None:
    assert ts.regular_grid(10.0, step=2.5).tolist() == [0.0, 2.5, 5.0, 7.5, 10.0]
    assert ts.regular_grid(10.0, step=3.0).tolist() == [0.0, 3.0, 6.0, 9.0]
    assert ts.regular_grid(10.0, points=3).tolist() == [0.0, 5.0, 10.0]
    assert len(ts.regular_grid(10.0)) == ts.DEFAULT_POINTS
    with pytest.raises(ValueError, match="not both"):
        ts.regular_grid(10.0, step=1.0, points=3)
    with pytest.raises(ValueError, match="positive step"):
        ts.regular_grid(10.0, step=0.0)
    with pytest.raises(ValueError, match="at least 2"):
        ts.regular_grid(10.0, points=1)


def test_select_rejects_unknown_names(trace: sim.RunResult) -> None:
    with pytest.raises(KeyError, match="queue"):
        ts.queue_changes(trace, ["queue"])


@pytest.fixture(scope="module")
def steady() -> sim.RunResult:
    """The baseline without faults: every job served, none lost while waiting."""
    return sim.simulate(ROOT / "scenarios" / "baseline.toml", seed=3, jobs=20_000)


def test_littles_law_for_every_stage_queue(steady: sim.RunResult) -> None:
    """Time-average number waiting = throughput x mean wait, exactly (every job finished within the run)."""
    summary = steady.summary()
    averages = ts.queue_occupancy(steady).time_average()
    for stage in STAGES:
        row = summary["stages"][stage]
        assert row["count"] == 20_000
        throughput = row["count"] / steady.sim_time
        assert averages[stage] == pytest.approx(throughput * row["wait"]["mean"], rel=1e-9, abs=1e-12), stage
    assert averages["execution"] > 1  # a real queue, not a vacuous check


def test_littles_law_in_service_is_the_mean_busy_servers(steady: sim.RunResult) -> None:
    summary = steady.summary()
    busy = ts.service_occupancy(steady).time_average()
    for stage in STAGES:
        assert busy[stage] == pytest.approx(summary["stages"][stage]["mean_busy"], rel=1e-9), stage


def test_a_sampled_grid_estimates_the_time_average(steady: sim.RunResult) -> None:
    sampled = ts.queue_lengths(steady, points=20_001)["execution"].mean()
    exact = ts.queue_occupancy(steady).time_average()["execution"]
    assert sampled == pytest.approx(exact, rel=0.05)
    means = ts.queue_occupancy(steady).bin_means(ts.regular_grid(steady.sim_time, points=101))
    assert means["execution"].mean() == pytest.approx(exact, rel=1e-9)


# --- instrument states -------------------------------------------------------------------------------------------

def test_instrument_states_of_the_hand_worked_trace(trace: sim.RunResult) -> None:
    states = ts.instrument_states(trace)
    rows = list(zip(states["state"].astype(str), states["start"], states["end"], states["job_id"].tolist(),
                    strict=True))
    assert rows == [("idle", 0, 6, pd.NA), ("user_job", 6, 10, 0), ("user_job", 10, 14, 1), ("user_job", 14, 18, 2),
                    ("idle", 18, 25, pd.NA)]
    assert states["device"].tolist() == ["garnet"] * 5
    merged = ts.merge_adjacent(states)
    assert list(zip(merged["state"].astype(str), merged["start"], merged["end"], strict=True)) == [
        ("idle", 0, 6), ("user_job", 6, 18), ("idle", 18, 25)]


def test_a_hung_run_is_timed_out_then_reset() -> None:
    """Every run hangs: 10 s until the timeout, a 5 s reset, then the next job (waiting since 1 s) hangs too; the
    run ends when it fails at 25 s, cutting its reset short."""
    scenario = sim.Scenario.from_dict({
        "arrivals": {"times": [0, 1]},
        "hardware": {"instruments": 1, "execution_time": "4s", "execution_timeout": "10s",
                     "faults": {"hang_probability": 1.0, "reset_after_hang": "5s"}},
    })
    result = sim.simulate(scenario)
    states = ts.instrument_states(result)
    jobs = [None if pd.isna(job) else job for job in states["job_id"].tolist()]
    rows = list(zip(states["state"].astype(str), states["start"], states["end"], jobs, strict=True))
    assert rows == [("timed_out", 0, 10, 0), ("reset", 10, 15, None), ("timed_out", 15, 25, 1)]


def test_instrument_states_tile_the_run(troubled_run: sim.RunResult) -> None:
    states = ts.instrument_states(troubled_run)
    assert set(states["state"].astype(str)) >= {"user_job", "idle", "timed_out", "reset", "calibration", "outage"}
    for instrument, rows in states.groupby("instrument"):
        start, end = rows["start"].to_numpy(), rows["end"].to_numpy()
        assert start[0] == 0, instrument
        assert end[-1] == troubled_run.sim_time, instrument
        assert np.all(end > start)
        assert np.array_equal(start[1:], end[:-1]), instrument  # no gap, no overlap


def test_instrument_states_add_up_to_the_instrument_time_split(troubled_run: sim.RunResult) -> None:
    totals = ts.state_totals(ts.instrument_states(troubled_run)).sum() / (2 * troubled_run.sim_time)
    expected = instrument_time(troubled_run)
    assert totals["user_job"] + totals["stopping"] == pytest.approx(expected["user_jobs"], abs=1e-12)
    for state in ("timed_out", "calibration", "outage", "reset", "service_down", "idle"):
        assert totals[state] == pytest.approx(expected[state], abs=1e-12), state


def test_user_job_intervals_belong_to_jobs_that_ran_there(troubled_run: sim.RunResult) -> None:
    states = ts.instrument_states(troubled_run)
    jobs = states[states["state"] == "user_job"]
    job_ids = jobs["job_id"].to_numpy(dtype=np.int64)
    assert np.array_equal(troubled_run.records.instrument[job_ids], jobs["instrument"].to_numpy())
    started = troubled_run.times[job_ids, sim.JobStatus.EXECUTION_STARTED.code]
    assert np.all(jobs["start"].to_numpy() >= started)  # a run again after a requeue restart starts later
    first = ~jobs.duplicated("job_id").to_numpy()
    assert np.array_equal(started[first], jobs["start"].to_numpy()[first])  # the first run starts at STARTED
    timed_out = states[states["state"] == "timed_out"]["job_id"].to_numpy(dtype=np.int64)
    final = troubled_run.job_columns()["final_status"]
    assert timed_out.size
    assert set(final[timed_out]) == {"failed"}
    stopping = states[states["state"] == "stopping"]["job_id"].to_numpy(dtype=np.int64)
    assert set(final[stopping]) <= {"aborted"}


# --- the same from the results database --------------------------------------------------------------------------

def test_a_stored_run_gives_the_same_time_series(tmp_path: Path) -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "calibration.toml").with_values({"aborts.probability": 0.05})
    fresh = sim.simulate(scenario, seed=2, jobs=3000, store=tmp_path / "results.sqlite")
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:
        stored = load_run(connection, 1)
    pd.testing.assert_frame_equal(ts.status_counts(stored), ts.status_counts(fresh))
    pd.testing.assert_frame_equal(ts.queue_changes(stored), ts.queue_changes(fresh))
    pd.testing.assert_frame_equal(ts.instrument_states(stored), ts.instrument_states(fresh))
