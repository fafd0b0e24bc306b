"""Arrival profiles: the rate over the hour of day, the weekday and dated changes, drawn by thinning.

Checked against what a non-homogeneous Poisson process must give: the count of arrivals in each hour of the day
(Poisson with the profile's mean, a chi-square test and every hour within its own interval), and an M_t/M/inf
stage (unlimited workers, exponential service) whose mean number in service at a time of day has a closed form:
with a rate constant on each bin, ``m' = lambda(t) - mu m`` gives ``m(t) = lambda_k / mu + (m(t_k) - lambda_k /
mu) exp(-mu (t - t_k))`` on bin ``k``, periodic over the day.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

import sim
from sim.experiments.confidence import t_interval
from sim.model.status import JobStatus
from sim.model.workload import sample_workload
from sim.scenario.clock import SECONDS_PER_DAY
from sim.scenario.config import ScenarioError
from sim.scenario.streams import RandomStreams, replication_seeds

DAY = SECONDS_PER_DAY
SINE = [1 + 0.8 * math.sin(2 * math.pi * (h + 0.5) / 24) for h in range(24)]
"""A day that peaks at 06:00 and is quiet at 18:00 (hourly bins of a sinusoid, average 1)."""


def profiled(profile: dict[str, Any], rate: str = "120/h", **run: Any) -> sim.Scenario:
    return sim.Scenario.from_dict({"run": run, "arrivals": {"rate": rate, "profile": profile},
                                   "hardware": {"execution_time": "1ms", "instruments": 4}}, source="profile")


def test_each_hour_of_the_day_gets_the_profile_s_share_of_arrivals() -> None:
    scenario = profiled({"hour_of_day": SINE}, start="2026-12-07T00:00:00Z")
    times = sample_workload(scenario, 120 * 24 * 60, RandomStreams(11)).submitted_at  # about 60 days
    days = math.floor(times[-1] / DAY)
    times = times[times < days * DAY]
    counts = np.bincount((times % DAY // 3600).astype(np.int64), minlength=24)
    expected = 120 * np.array(SINE) * days
    statistic = np.sum((counts - expected) ** 2 / expected)  # independent Poisson counts: chi-square, 24 d.f.
    assert stats.chi2.sf(statistic, 24) > 0.001
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected))
    assert counts[5] > 3 * counts[17]  # the shape, not only the total


def test_weekdays_and_a_dated_change_shape_the_rate() -> None:
    scenario = profiled({"day_of_week": [1, 1, 1, 1, 1, 0.25, 0.25], "changes": [{"at": "2026-12-21", "factor": 2}]},
                        start="2026-12-07T00:00:00Z")  # a Monday; the change two weeks on
    times = sample_workload(scenario, 150_000, RandomStreams(3)).submitted_at
    week_day = (times // DAY).astype(np.int64) % 7
    before = times < 14 * DAY
    weekday_rate = np.sum(before & (week_day < 5)) / (10 * DAY / 3600)
    weekend_rate = np.sum(before & (week_day >= 5)) / (4 * DAY / 3600)
    mean = 120 / (5 * 1 + 2 * 0.25) * 7  # weekday weight normalised to an average of 1 over the week
    assert weekday_rate == pytest.approx(mean, rel=0.03)
    assert weekend_rate == pytest.approx(mean / 4, rel=0.06)
    after = np.sum((times >= 14 * DAY) & (times < 21 * DAY)) / (7 * DAY / 3600)
    assert after == pytest.approx(240, rel=0.03)


def test_the_first_jobs_do_not_depend_on_how_many_the_run_has() -> None:
    scenario = profiled({"hour_of_day": SINE})
    many = sample_workload(scenario, 100_000, RandomStreams(5)).submitted_at
    few = sample_workload(scenario, 777, RandomStreams(5)).submitted_at
    np.testing.assert_array_equal(few, many[:777])
    assert np.all(np.diff(many) >= 0)


def closed_form_in_service(rate_per_hour: list[float], mean_service: float, at: list[float]) -> list[float]:
    """The periodic mean number in service of M_t/M/inf with a rate constant over each hour (jobs per second)."""
    mu = 1.0 / mean_service
    m = 0.0
    for _ in range(3):  # three days from empty: exp(-mu day) leaves nothing of the start
        for rate in rate_per_hour:
            m = rate / mu + (m - rate / mu) * math.exp(-mu * 3600)
    values = []
    for t in at:
        value, hour = m, 0
        while (hour + 1) * 3600 <= t:
            rate = rate_per_hour[hour]
            value = rate / mu + (value - rate / mu) * math.exp(-mu * 3600)
            hour += 1
        rate = rate_per_hour[hour]
        values.append(rate / mu + (value - rate / mu) * math.exp(-mu * (t - hour * 3600)))
    return values


@pytest.mark.slow
def test_an_mt_m_infinity_stage_matches_the_closed_form_at_every_time_of_day() -> None:
    mean_service = 1800.0
    scenario = sim.Scenario.from_dict({
        "arrivals": {"rate": "120/h", "profile": {"hour_of_day": SINE}},
        "stages": {"validation": {"workers": math.inf, "duration": {"dist": "exponential", "mean": "30min"}}},
        "hardware": {"execution_time": "1ms", "instruments": 4}}, source="mt-m-inf")
    at = [3 * 3600.0, 7.5 * 3600, 12 * 3600.0, 18.25 * 3600, 22 * 3600.0]
    theory = closed_form_in_service([120 / 3600 * w for w in SINE], mean_service, at)
    started, ended = JobStatus.VALIDATION_STARTED.code, JobStatus.VALIDATION_ENDED.code
    per_run = []
    for seed in replication_seeds(20261202, 10):
        result = sim.simulate(scenario, seed=seed, jobs=120 * 24 * 8)  # about 8 days
        days = np.arange(1, math.floor(result.sim_time / DAY) - 1)  # the first day warms up
        begin, end = result.times[:, started], result.times[:, ended]
        per_run.append([np.mean([np.count_nonzero((begin <= d * DAY + t) & (end > d * DAY + t)) for d in days])
                        for t in at])
    observed = np.array(per_run)
    for column, expected in enumerate(theory):
        interval = t_interval(observed[:, column], 0.99)
        assert interval.low <= expected <= interval.high, (at[column] / 3600, expected, interval)
    assert theory[1] > 1.5 * theory[3]  # the times of day differ: the test can tell a flat rate from the profile


@pytest.mark.parametrize(("arrivals", "run", "key", "words"), [
    ({"times": [0, 1], "profile": {"hour_of_day": SINE}}, {}, "arrivals.profile", "give rate with it"),
    ({"rate": "10/h", "profile": {"hour_of_day": SINE[:23]}}, {}, "arrivals.profile.hour_of_day", "24 or 48 or 96"),
    ({"rate": "10/h", "profile": {"hour_of_day": [0] * 24}}, {}, "arrivals.profile.hour_of_day", "only zeros"),
    ({"rate": "10/h", "profile": {"day_of_week": [1] * 7}}, {}, "arrivals.profile.day_of_week", "[run] start"),
    ({"rate": "10/h", "profile": {"changes": [{"at": "3d", "factor": 0}]}}, {}, "arrivals.profile.changes",
     "factor above zero"),
    ({"rate": "10/h", "profile": {"changes": [{"at": "2027-01-01", "factor": 2}]}}, {}, "arrivals.profile.changes",
     "[run] start"),
    ({"rate": "10/h"}, {"start": "next tuesday"}, "run.start", "UTC date and time"),
])
def test_a_bad_profile_names_its_key(arrivals: dict[str, Any], run: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ScenarioError) as error:
        sim.Scenario.from_dict({"run": run, "arrivals": arrivals}, source="bad.toml")
    assert f"bad.toml: {key}" in str(error.value)
    assert words in str(error.value)


def test_a_start_date_puts_the_scheduler_and_calibration_on_its_clock() -> None:
    scenario = sim.Scenario.from_dict({"run": {"start": "2026-12-08T14:30:00Z"}, "arrivals": {"rate": 1},
                                      "calibration": {}}, source="s")
    assert scenario.clock.time_of_day == 14.5 * 3600
    assert scenario.calibration is not None
    assert scenario.calibration.start_time_of_day == 14.5 * 3600
    with pytest.raises(ScenarioError, match="disagrees with"):
        sim.Scenario.from_dict({"run": {"start": "2026-12-08T14:30:00Z"},
                                "arrivals": {"rate": 1}, "calibration": {"start_time_of_day": "08:00"}}, source="s")
