"""Metrics of a run: per-stage waiting and service times, turnaround, throughput and utilisation.

For each stage (validation, calibration, compilation, save_metadata, execution, post_processing) a job's
*wait* is the time from the status before the stage's start (the previous stage's end, PENDING_EXECUTION or
POST_PROCESSING_PENDING) to the start, and its *service* the time its pool's servers held it (its holdings,
``sim.model.pools``, less any a restart cut short); every job that began service counts, whether it finished
the stage or not. A job's *turnaround* runs from RECEIVED to its terminal status. *Utilisation* is the held
time of a pool's servers over their capacity x the simulated time (for the instruments, user jobs' holdings
only: calibration, outages and resets are in the instrument time); for a pool of unlimited workers it is
reported as the mean number busy.

*Warm-up deletion*: a run starts empty and idle, which flatters its first hours. ``summarize(result, warmup=t)``
counts only the jobs submitted at or after ``t`` in the per-job figures (counts, waits, services, turnaround,
throughput, failures) and only the time after ``t`` in the time-based ones (utilisation, instrument time,
events).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.model.records import Holder, HoldingsTable, Outcome
from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STAGE_STARTS
from sim.results.availability import availability

if TYPE_CHECKING:
    from sim.results.run import RunResult

QUANTILES = {"p50": 50, "p95": 95, "p99": 99}


def describe(values: npt.NDArray[np.float64]) -> dict[str, float]:
    """Mean, p50, p95, p99 and max of the finite values (NaN for each when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": math.nan, **dict.fromkeys(QUANTILES, math.nan), "max": math.nan}
    q = percentiles(finite, list(QUANTILES.values()))
    return {"mean": float(finite.mean()), **{k: float(v) for k, v in zip(QUANTILES, q, strict=True)},
            "max": float(finite.max())}


def percentiles(values: npt.NDArray[np.float64], percents: list[int]) -> npt.NDArray[np.float64]:
    """``np.percentile(values, percents)`` to the last bit (its default, linear method: numpy's own virtual
    index and interpolation), for values without NaN. Not ``np.percentile`` itself: through ``np.unique`` it
    imports ``numpy.ma``, about 10 ms of a single run's start-up."""
    last = values.size - 1
    virtual = last * (np.asarray(percents, dtype=np.float64) / 100)
    below = np.floor(virtual)
    lower = np.minimum(below, last).astype(np.intp)
    upper = np.minimum(below + 1, last).astype(np.intp)
    gamma = virtual - below
    ordered = np.partition(values, sorted({*lower.tolist(), *upper.tolist()}))  # those order statistics in place
    a, b = ordered[lower], ordered[upper]
    step = b - a
    result: npt.NDArray[np.float64] = np.where(gamma >= 0.5, b - step * (1 - gamma), a + step * gamma)
    return result


def stage_capacity(result: RunResult, stage: str) -> float:
    if stage == "execution":
        return float(len(result.scenario.hardware.devices))
    return float(getattr(result.scenario.stages, stage).workers)


def holdings_of(result: RunResult, stage: str) -> HoldingsTable:
    """The holdings of the stage's pool (the instruments for ``execution``)."""
    return result.holdings.get(stage, HoldingsTable.empty())


def service_per_job(result: RunResult, stage: str) -> npt.NDArray[np.float64]:
    """Seconds each job was served in ``stage``: its holdings there, less those a restart cut short (that work
    was lost); 0 for a job served in no time."""
    jobs = holdings_of(result, stage).of_jobs()
    served = jobs.outcome != Outcome.RESTART
    seconds: npt.NDArray[np.float64] = np.bincount(jobs.holder[served], weights=jobs.seconds[served],
                                                   minlength=len(result.workload)).astype(np.float64)
    return seconds


def downtimes(result: RunResult) -> list[tuple[float, float]]:
    """(went down, came up) of each restart of the service, from the events (one still down at the end lasts
    until then)."""
    spans: list[tuple[float, float]] = []
    down: float | None = None
    for event in result.records.events:
        if event.kind == "restart_begin":
            down = event.t
        elif event.kind == "restart" and down is not None:
            spans.append((down, event.t))
            down = None
    if down is not None:
        spans.append((down, result.sim_time))
    return spans


def stage_summary(result: RunResult, stage: str, warmup: float = 0.0) -> dict[str, Any]:
    """A stage's row: ``count`` jobs began service (their waits and services are described), ``completed``
    of them reached the stage's end; ``holdings`` counts how its servers' holdings ended; ``utilisation`` is
    the held share of the servers' time (for unlimited workers, ``mean_busy`` is the mean number held)."""
    times = result.times
    start = STAGE_STARTS[stage].code
    kept = after_warmup(result, warmup)
    started = np.isfinite(times[:, start]) & kept
    completed = np.isfinite(times[:, start + 1]) & kept
    capacity = stage_capacity(result, stage)
    span = result.sim_time - warmup
    table = holdings_of(result, stage)
    held = table.of_jobs() if stage == "execution" else table  # an instrument's other work is instrument time
    busy = held.busy(since=warmup, until=result.sim_time) / span if span > 0 else math.nan
    outcomes = np.bincount(held.outcome, minlength=len(Outcome))
    return {
        "count": int(started.sum()),
        "completed": int(completed.sum()),
        "wait": describe(times[started, start] - times[started, start - 1]),
        "service": describe(service_per_job(result, stage)[started]),
        "servers": capacity,
        "utilisation": busy / capacity if math.isfinite(capacity) else math.nan,
        "mean_busy": busy,
        "holdings": {outcome.name.lower(): int(outcomes[outcome]) for outcome in Outcome if outcomes[outcome]},
    }


def terminal_times(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """When each job reached its terminal status (NaN for jobs still in flight)."""
    return np.fmax(np.fmax(times[:, READY], times[:, FAILED]), times[:, ABORTED])


def after_warmup(result: RunResult, warmup: float) -> npt.NDArray[np.bool_]:
    """Jobs submitted at or after ``warmup`` (and jobs whose submission is unknown, in a partly stored run)."""
    return ~(result.workload.submitted_at < warmup)


def instrument_time(result: RunResult, since: float = 0.0) -> dict[str, float]:
    """How the instruments spent the run, as shares of their total time (instruments x simulated time), from
    the instrument pool's holdings: ``user_jobs`` (runs of user jobs, including finishing the shot batch of
    aborted ones), ``timed_out`` (runs that hung or overran until the execution timeout stopped them),
    ``calibration``, ``maintenance``, ``outage``, ``reset`` (after a timeout), ``service_down`` (the service was
    restarting: nothing ran) and ``idle``; counting only the time after ``since``. The shares add up to 1
    (``sim.results.availability`` groups them for planners, per instrument)."""
    instruments = len(result.scenario.hardware.devices)
    capacity = instruments * (result.sim_time - since)
    if capacity <= 0:
        return {}
    table = holdings_of(result, "execution")
    until = result.sim_time
    jobs = table.holder >= 0
    timed_out = jobs & (table.outcome == Outcome.TIMEOUT)
    seconds = {
        "user_jobs": table.where(jobs & ~timed_out).busy(since, until),
        "timed_out": table.where(timed_out).busy(since, until),
        "calibration": table.where(table.holder == Holder.CALIBRATION).busy(since, until),
        "maintenance": table.where(table.holder == Holder.MAINTENANCE).busy(since, until),
        "outage": table.where(table.holder == Holder.OUTAGE).busy(since, until),
        "reset": table.where(table.holder == Holder.RESET).busy(since, until),
        "service_down": instruments * sum(max(min(end, until) - max(start, since), 0.0)
                                          for start, end in downtimes(result)),
    }
    seconds["idle"] = max(capacity - sum(seconds.values()), 0.0)
    return {kind: value / capacity for kind, value in seconds.items()}


def summarize(result: RunResult, warmup: float = 0.0, *, by_user: bool = False) -> dict[str, Any]:
    """Everything the per-stage table and ``summary.json`` show, as plain JSON-able values; with ``warmup``
    (simulated seconds), of the jobs submitted and the time after it only (warm-up deletion). ``classes``
    has the figures of each job class (``sim.results.classes``), and with ``by_user`` ``users`` those of
    each user."""
    from sim.results.classes import class_summary, user_summary  # it builds on this module
    kept = after_warmup(result, warmup)
    final = result.final_status[kept]
    submitted = int(kept.sum())
    received = int(np.isfinite(result.times[kept, RECEIVED]).sum())
    ready, failed, aborted = (int(np.count_nonzero(final == code)) for code in (READY, FAILED, ABORTED))
    hours = (result.sim_time - warmup) / 3600.0
    failed_by_stage: dict[str, int] = {}
    for job, stage in result.records.failed_stage.items():
        if kept[job]:
            failed_by_stage[stage] = failed_by_stage.get(stage, 0) + 1
    event_counts: dict[str, int] = {}
    for event in result.records.events:
        if event.t >= warmup:
            event_counts[event.kind] = event_counts.get(event.kind, 0) + 1
    return {
        "scenario": result.scenario.name,
        "seed": result.seed,
        "sim_time": result.sim_time,
        "wall_seconds": result.wall_seconds,
        "jobs_per_second": len(result.workload) / result.wall_seconds if result.wall_seconds > 0 else math.nan,
        "jobs": {"submitted": submitted, "received": received, "ready": ready, "failed": failed,
                 "aborted": aborted, "in_flight": received - ready - failed - aborted,
                 "not_received": submitted - received},
        "failed_by_stage": dict(sorted(failed_by_stage.items())),
        "events": dict(sorted(event_counts.items())),
        "restarts": event_counts.get("restart", 0),
        "lost_work": result.records.lost_work,
        "stages": {stage: stage_summary(result, stage, warmup) for stage in STAGE_STARTS},
        "turnaround": describe((terminal_times(result.times) - result.times[:, RECEIVED])[kept]),
        "throughput_per_hour": ready / hours if hours > 0 else math.nan,
        "instrument_time": instrument_time(result, since=warmup),
        "availability": availability(result, since=warmup),
        "classes": class_summary(result, warmup),
        **({"users": user_summary(result, warmup)} if by_user else {}),
    }
