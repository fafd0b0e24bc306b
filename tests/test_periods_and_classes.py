"""Per-period metrics (a day's p95 turnaround, as tail risk needs it) and per-class figures of a run, checked
against the records computed by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.experiments.replications import PeriodTarget, RunSpec, Warmup, miss_probability, run_replication
from sim.model.status import RECEIVED
from sim.results.classes import class_summary, user_summary
from sim.results.metrics import summarize, terminal_times
from sim.results.periods import PeriodMetricError, check_period_metric, period_starts, period_values

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"


@pytest.fixture(scope="module")
def run() -> sim.RunResult:
    return sim.simulate(sim.load_scenario(BASELINE), seed=5, jobs=4000)


def turnaround(result: sim.RunResult) -> np.ndarray:
    return terminal_times(result.times) - result.times[:, RECEIVED]


def test_a_period_is_the_jobs_submitted_in_it(run: sim.RunResult) -> None:
    hour = 3600.0
    starts = period_starts(run, hour, since=1000.0)
    assert starts[0] == 3600.0  # the first whole hour after the warm-up, on the clock
    assert np.all(np.diff(starts) == hour)
    assert starts[-1] + hour <= run.workload.submitted_at.max()  # only whole hours of arrivals
    values = period_values(run, "turnaround.p95", hour, since=1000.0)
    assert values.size == starts.size
    times = turnaround(run)
    for k in (0, 3, starts.size - 1):
        inside = (run.workload.submitted_at >= starts[k]) & (run.workload.submitted_at < starts[k] + hour)
        expected = np.percentile(times[inside], 95, method="higher")
        assert values[k] == pytest.approx(expected)
    means = period_values(run, "stages.execution.wait.mean", hour, since=1000.0)
    inside = (run.workload.submitted_at >= starts[1]) & (run.workload.submitted_at < starts[1] + hour)
    execution = sim.JobStatus.EXECUTION_STARTED.code
    assert means[1] == pytest.approx(np.mean(run.times[inside, execution] - run.times[inside, execution - 1]))


def test_periods_follow_the_clock_of_the_scenario() -> None:
    scenario = sim.load_scenario(BASELINE).with_values({"scheduler.start_time_of_day": "22:00"})
    result = sim.simulate(scenario, seed=1, jobs=9000)  # about 30 h
    assert period_starts(result, 86400.0).tolist() == pytest.approx([2 * 3600.0])  # midnight UTC, 2 h in


def test_an_unfinished_job_is_a_miss_not_nothing(run: sim.RunResult) -> None:
    scenario = sim.load_scenario(BASELINE).with_values({"arrivals.rate": "2000/h", "run.horizon": "3h"})
    overloaded = sim.simulate(scenario, seed=1, jobs=6000)
    worst = period_values(overloaded, "turnaround.max", 3600.0)
    assert worst.size >= 1
    assert math.isinf(worst[-1])  # the last whole hour's jobs were not all finished by the horizon


def test_only_per_job_times_have_periods() -> None:
    check_period_metric("stages.compilation.service.p99")
    for metric in ("throughput_per_hour", "turnaround.p42", "stages.nowhere.wait.mean", "jobs.ready"):
        with pytest.raises(PeriodMetricError, match="no per-period form"):
            check_period_metric(metric)


def test_each_run_counts_its_periods_and_misses() -> None:
    scenario = sim.load_scenario(BASELINE)
    target = PeriodTarget("turnaround.p95", 3600.0, 90.0)
    spec = RunSpec.of(scenario, 3, 3000, Warmup(jobs=200), (target,))
    metrics = run_replication(spec)
    result = sim.simulate(scenario, seed=3, jobs=3000)
    start = Warmup(jobs=200).start(result.workload.submitted_at)
    values = period_values(result, "turnaround.p95", 3600.0, since=start)
    assert metrics["per_1h.turnaround.p95.periods"] == values.size
    assert metrics["per_1h.turnaround.p95.misses"] == np.count_nonzero(values >= 90.0)
    assert metrics["per_1h.turnaround.p95.worst"] == values.max()
    periods, misses, share, low, high = miss_probability([metrics, metrics], target, 0.95)
    assert (periods, misses) == (2 * values.size, 2 * int(np.count_nonzero(values >= 90.0)))
    assert low <= share <= high


def test_class_figures_add_up_to_the_run(run: sim.RunResult) -> None:
    classes = class_summary(run)
    assert list(classes) == list(run.workload.class_names)
    assert sum(c["jobs"]["submitted"] for c in classes.values()) == len(run.workload)
    assert sum(c["jobs"]["ready"] for c in classes.values()) == summarize(run)["jobs"]["ready"]
    times = turnaround(run)
    for index, (name, figures) in enumerate(classes.items()):
        mine = run.workload.job_class == index
        assert figures["turnaround"]["p95"] == pytest.approx(np.percentile(times[mine], 95)), name
        assert figures["turnaround"]["max"] == pytest.approx(times[mine].max())
        # a job's turnaround is its waits plus its services (no gaps between stages in the baseline)
        assert figures["wait"]["mean"] + figures["service"]["mean"] == pytest.approx(figures["turnaround"]["mean"])
    users = user_summary(run)
    assert sum(u["jobs"]["submitted"] for u in users.values()) == len(run.workload)


def test_the_summary_has_classes_and_users_on_request(run: sim.RunResult) -> None:
    summary = summarize(run)
    assert set(summary["classes"]) == set(run.workload.class_names)
    assert "users" not in summary
    assert set(summarize(run, by_user=True)["users"]) <= set(run.workload.users)
    warm = summarize(run, warmup=3600.0)
    assert sum(c["jobs"]["submitted"] for c in warm["classes"].values()) == warm["jobs"]["submitted"]
