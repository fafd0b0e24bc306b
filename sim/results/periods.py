"""Per-period metrics: a figure of the jobs submitted in each day (or week, or hour) of a run.

A planner's service level is rarely "on average over the year": it is "a day's p95 turnaround stays under 10
minutes". ``period_values(result, "turnaround.p95", 86400)`` gives the p95 turnaround of the jobs submitted in
each whole day of the run, one value per day; over replications, the share of days that miss a threshold
estimates the chance that a day misses it (``sim.experiments.decision``).

Periods follow the run's UTC clock: a day runs from midnight to midnight UTC, a week from Monday 00:00 UTC when
the scenario gives a date (``[run] start``), else from the first midnight. Only whole periods count: those that
begin at or after ``since`` (the end of the warm-up) and end by the last submission, so that every period had
its full day of arrivals. A job counts in the period in which it was submitted; one that never finished (the
run stopped at its horizon) has an infinite turnaround, so that it counts as a miss, not as nothing.

The metrics a period can have are the per-job times of the summary: ``turnaround.STAT``,
``stages.STAGE.wait.STAT`` and ``stages.STAGE.service.STAT``, STAT one of mean, p50, p95, p99, max.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sim.model.status import RECEIVED, STAGE_STARTS
from sim.results.metrics import QUANTILES, service_per_job, terminal_times

if TYPE_CHECKING:
    from sim.results.run import RunResult
    from sim.scenario.scenario import Scenario

FloatArray = npt.NDArray[np.float64]
STATISTICS = ("mean", *QUANTILES, "max")
SECONDS_PER_DAY = 86400.0


class PeriodMetricError(ValueError):
    """A metric that has no per-period form."""


def check_period_metric(metric: str) -> None:
    """Raise ``PeriodMetricError`` unless ``metric`` is one a period can have."""
    parts = metric.split(".")
    ok = (len(parts) == 2 and parts[0] == "turnaround" and parts[1] in STATISTICS) or (
        len(parts) == 4 and parts[0] == "stages" and parts[1] in STAGE_STARTS and parts[2] in ("wait", "service")
        and parts[3] in STATISTICS)
    if not ok:
        raise PeriodMetricError(f"no per-period form of {metric!r}; expected turnaround.STAT, "
                                "stages.STAGE.wait.STAT or stages.STAGE.service.STAT (STAT: mean, p50, p95, "
                                "p99, max)")


def clock_phase(scenario: Scenario, period: float) -> float:
    """Where simulated time 0 falls within a period of the UTC clock (seconds after the period's start)."""
    clock = getattr(scenario, "clock", None)  # the run's UTC clock, where the scenario layer gives one
    if clock is not None:
        dated = getattr(clock, "dated", False)
        phase = float(clock.week_time if dated and period % (7 * SECONDS_PER_DAY) == 0 else clock.time_of_day)
        return phase % period
    time_of_day = scenario.scheduler.start_time_of_day
    if time_of_day is None and scenario.calibration is not None:
        time_of_day = scenario.calibration.start_time_of_day
    return (time_of_day or 0.0) % period


def period_starts(result: RunResult, period: float, since: float = 0.0) -> FloatArray:
    """Simulated start times of the whole periods of the run after ``since``: each begins at or after
    ``since`` and ends by the last submission."""
    if not period > 0 or not math.isfinite(period):
        raise ValueError(f"a period is a positive duration, got {period!r}")
    submitted = result.workload.submitted_at
    if submitted.size == 0:
        return np.zeros(0)
    phase = clock_phase(result.scenario, period)
    first = math.ceil((since + phase) / period) * period - phase
    last_end = float(np.nanmax(submitted))
    count = max(math.floor((last_end - first) / period + 1e-9), 0)
    return first + period * np.arange(count, dtype=np.float64)


def _job_times(result: RunResult, metric: str) -> FloatArray:
    """Each job's value of the quantity behind ``metric`` (turnaround, a stage's wait or service); NaN for a
    job that the quantity does not concern, infinity for a turnaround that never ended."""
    times = result.times
    parts = metric.split(".")
    if parts[0] == "turnaround":
        received = times[:, RECEIVED]
        ended = terminal_times(times)
        values = np.where(np.isfinite(received) & ~np.isfinite(ended), np.inf, ended - received)
        return values.astype(np.float64)
    stage, kind = parts[1], parts[2]
    start = STAGE_STARTS[stage].code
    began = np.isfinite(times[:, start])
    if kind == "wait":
        return np.where(began, times[:, start] - times[:, start - 1], np.nan)
    return np.where(began, service_per_job(result, stage), np.nan)


def statistic(values: FloatArray, name: str) -> float:
    """One statistic of the values that are not NaN (infinities count: an unfinished job is a very long
    one); NaN when there are none."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return math.nan
    if name == "mean":
        return float(kept.mean())
    if name == "max":
        return float(kept.max())
    return float(np.percentile(kept, QUANTILES[name], method="higher"))  # an order statistic: infinity-safe


def period_values(result: RunResult, metric: str, period: float, since: float = 0.0) -> FloatArray:
    """``metric`` of the jobs submitted in each whole period after ``since`` (NaN for a period in which no job
    had the quantity, such as a day without arrivals)."""
    check_period_metric(metric)
    starts = period_starts(result, period, since)
    if starts.size == 0:
        return np.zeros(0)
    values = _job_times(result, metric)
    index = np.floor((result.workload.submitted_at - starts[0]) / period).astype(np.int64)
    inside = (result.workload.submitted_at >= starts[0]) & (index < starts.size)
    name = metric.split(".")[-1]
    order = np.argsort(index[inside], kind="stable")
    grouped, kept = index[inside][order], values[inside][order]
    bounds = np.searchsorted(grouped, np.arange(starts.size + 1))
    return np.array([statistic(kept[bounds[k]:bounds[k + 1]], name) for k in range(starts.size)])
