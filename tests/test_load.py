"""Load tests: 100,000-job runs below and above capacity with every kind of trouble at once.

5% of jobs aborted by their users, failures in every stage, instrument errors, hangs and outages, and restarts
every few hours, under both restart policies. The invariant checker must pass on the run and on its database,
and every received job must be accounted for by its terminal status.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.results.invariants import assert_invariants
from sim.results.store import connect

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.toml"
CAPACITY_PER_HOUR = 485.0  # the baseline's single QPU: 300 jobs/h keep it 62% busy
STAGES = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")


def troubled(load: float, policy: str) -> sim.Scenario:
    return sim.load_scenario(BASELINE).with_values({
        "arrivals.rate": f"{load * CAPACITY_PER_HOUR:.0f}/h",
        "aborts": {"probability": 0.05, "delay": {"dist": "exponential", "mean": "2min"}},
        "failures": {stage: {"probability": 0.005, "after_end": 0.2} for stage in STAGES},
        "hardware.execution_timeout": "15min",
        "hardware.faults": {"error_probability": 0.01, "hang_probability": 0.001,
                            "mean_time_between_outages": "1d", "mean_repair_time": "20min"},
        "restarts": {"mean_time_between": "4h", "downtime": "3min", "policy": policy},
    })


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["fail", "requeue"])
@pytest.mark.parametrize("load", [0.9, 1.5])
def test_a_hundred_thousand_troubled_jobs(load: float, policy: str, tmp_path: Path) -> None:
    result = sim.simulate(troubled(load, policy), jobs=100_000, seed=17, store=tmp_path / "r.sqlite")
    assert_invariants(result)
    assert_invariants(connect(tmp_path / "r.sqlite"), 1)
    summary = result.summary()
    jobs = summary["jobs"]
    assert jobs["in_flight"] == 0
    assert jobs["ready"] + jobs["failed"] + jobs["aborted"] == jobs["received"]
    assert jobs["received"] + jobs["not_received"] == 100_000
    assert jobs["aborted"] > 0.02 * 100_000  # cancels that came in time, of the 5% requested
    assert set(summary["failed_by_stage"]) >= set(STAGES)
    assert summary["restarts"] > 10
    cleaned_up = sum(1 for m in result.records.user_error_message.values() if m == "Job was cleaned up on restart")
    assert (cleaned_up > 0) == (policy == "fail")
