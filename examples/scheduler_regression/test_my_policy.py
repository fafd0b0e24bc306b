"""Regression tests of a scheduling policy, as a scheduler developer writes them with ``sim.testing``.

Each test runs the station of ``station.toml`` under the policy (``--policy``, default
``my_policies:ExpressLane``) and checks one thing that must not break: the lifecycle invariants, the priority
classes, the express lane's bounded overtaking, a paired comparison against IQM's FIFO, a golden summary, and
the invariants on any small scenario hypothesis can think of.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings

import sim
from sim.testing import (
    assert_invariants,
    assert_no_overtaking,
    assert_priority_order,
    compare,
    expected_execution,
    run,
)
from sim.testing.ordering import entry_rank
from sim.testing.strategies import scenario_dicts

STATION = Path(__file__).with_name("station.toml")
EXPRESS, HEAD_START = 10.0, 300.0


def test_every_job_is_accounted_for(policy: str) -> None:
    result = run(STATION, policy, jobs=4000)
    assert_invariants(result)
    assert result.summary()["jobs"]["ready"] == 4000


def test_no_job_waits_behind_a_lower_priority_job(policy: str) -> None:
    assert_priority_order(run(STATION, policy, jobs=4000))


def test_short_jobs_overtake_long_ones_by_at_most_the_head_start(policy: str) -> None:
    result = run(STATION, policy, jobs=4000)
    short = expected_execution(result) <= EXPRESS
    entered = result.times[:, sim.JobStatus.PENDING_EXECUTION.code]
    priority = result.workload.priority
    rank = entry_rank(result, -priority, entered - np.where(short, HEAD_START, 0.0))
    assert_no_overtaking(result, rank, rule="express lane: head start of 5 min exceeded",
                         about=lambda job: f"priority {priority[job]}, {'short' if short[job] else 'long'}")


def short_jobs_wait(result: sim.RunResult, summary: Any) -> float:
    short = expected_execution(result) <= EXPRESS
    wait = result.times[:, sim.JobStatus.EXECUTION_STARTED.code] - result.times[:, sim.JobStatus.PENDING_EXECUTION.code]
    return float(np.nanmean(wait[short]))


def test_short_jobs_wait_less_than_under_fifo_and_nobody_loses_throughput(policy: str) -> None:
    metrics = {"short jobs' mean wait (s)": (short_jobs_wait, False),
               "throughput (jobs/h)": (lambda r, s: s["throughput_per_hour"], True)}
    comparison = compare(STATION, "fifo", policy, replications=5, jobs=3000, metrics=metrics)
    print("\n" + comparison.table())
    assert comparison["short jobs' mean wait (s)"].verdict == "better"
    comparison.assert_no_worse("throughput (jobs/h)", margin=1.0)


def test_golden_summary(policy: str, stationsim_golden: Any) -> None:
    stationsim_golden.check(run(STATION, policy, jobs=4000), rtol=0.02)


@given(scenario_dicts(with_faults=True))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_small_scenario_keeps_the_invariants(policy: str, data: dict[str, Any]) -> None:
    data.pop("scheduler", None)
    assert_invariants(run(data, policy))
