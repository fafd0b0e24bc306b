"""Metrics of a run: per-stage waiting and service times, turnaround, throughput and utilisation.

For each stage (validation, calibration, compilation, save_metadata, execution, post_processing) a job's
*wait* is the time from the status before the stage's start (the previous stage's end, PENDING_EXECUTION or
POST_PROCESSING_PENDING) to the start, and its *service* the time from the start to the stage's end. A job's
*turnaround* runs from RECEIVED to its terminal status. *Utilisation* is the busy time of a pool's servers over
their capacity x the simulated time; for a pool of unlimited workers it is reported as the mean number busy.

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

from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STAGE_STARTS

if TYPE_CHECKING:
    from sim.results.run import RunResult

QUANTILES = {"p50": 50, "p95": 95, "p99": 99}


def describe(values: npt.NDArray[np.float64]) -> dict[str, float]:
    """Mean, p50, p95, p99 and max of the finite values (NaN for each when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": math.nan, **dict.fromkeys(QUANTILES, math.nan), "max": math.nan}
    q = np.percentile(finite, list(QUANTILES.values()))
    return {"mean": float(finite.mean()), **{k: float(v) for k, v in zip(QUANTILES, q, strict=True)},
            "max": float(finite.max())}


def stage_capacity(result: RunResult, stage: str) -> float:
    if stage == "execution":
        return float(len(result.scenario.hardware.devices))
    return float(getattr(result.scenario.stages, stage).workers)


def busy_time(times: npt.NDArray[np.float64], start: int, end_time: float, until_terminal: bool = False,
              since: float = 0.0) -> float:
    """Total time servers spent in the service that starts at status ``start`` (running services count to
    ``end_time``; with ``until_terminal``, a service cut short by FAILED or ABORTED counts to then), counting
    only the time after ``since``."""
    begun = times[:, start]
    mask = np.isfinite(begun)
    ended = times[:, start + 1]
    if until_terminal:
        ended = np.fmin(ended, np.fmin(times[:, FAILED], times[:, ABORTED]))
    ended = np.where(np.isfinite(ended), ended, end_time)
    return float(np.sum(np.maximum(ended[mask], since) - np.maximum(begun[mask], since)))


def stage_summary(result: RunResult, stage: str, warmup: float = 0.0) -> dict[str, Any]:
    times = result.times
    start = STAGE_STARTS[stage].code
    served = np.isfinite(times[:, start + 1]) & after_warmup(result, warmup)
    capacity = stage_capacity(result, stage)
    span = result.sim_time - warmup
    busy = busy_time(times, start, result.sim_time, until_terminal=True, since=warmup) / span if span > 0 else math.nan
    return {
        "count": int(served.sum()),
        "wait": describe(times[served, start] - times[served, start - 1]),
        "service": describe(times[served, start + 1] - times[served, start]),
        "servers": capacity,
        "utilisation": busy / capacity if math.isfinite(capacity) else math.nan,
        "mean_busy": busy,
    }


def terminal_times(times: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """When each job reached its terminal status (NaN for jobs still in flight)."""
    return np.fmax(np.fmax(times[:, READY], times[:, FAILED]), times[:, ABORTED])


def after_warmup(result: RunResult, warmup: float) -> npt.NDArray[np.bool_]:
    """Jobs submitted at or after ``warmup`` (and jobs whose submission is unknown, in a partly stored run)."""
    return ~(result.workload.submitted_at < warmup)


def instrument_time(result: RunResult, since: float = 0.0) -> dict[str, float]:
    """How the instruments spent the run, as shares of their total time (instruments x simulated time):
    ``user_jobs`` (runs of user jobs, and finishing the shot batch of aborted ones), ``timed_out`` (runs that
    hung or overran until the execution timeout stopped them), ``calibration``, ``outage``, ``reset`` (after a
    timeout) and ``idle``; counting only the time after ``since``."""
    capacity = len(result.scenario.hardware.devices) * (result.sim_time - since)
    if capacity <= 0:
        return {}
    seconds = {"user_jobs": busy_time(result.times, STAGE_STARTS["execution"].code, result.sim_time,
                                      until_terminal=True, since=since), "timed_out": 0.0, "calibration": 0.0,
               "outage": 0.0, "reset": 0.0}
    for period in result.records.instrument_periods:
        spent = max(min(period.end, result.sim_time) - max(period.start, since), 0.0)
        if period.kind == "stopping":
            seconds["user_jobs"] += spent
        elif period.kind == "timed_out":  # already inside the job's execution interval
            seconds["user_jobs"] -= spent
            seconds["timed_out"] += spent
        else:
            seconds[period.kind] += spent
    seconds["idle"] = capacity - sum(seconds.values())
    return {kind: value / capacity for kind, value in seconds.items()}


def summarize(result: RunResult, warmup: float = 0.0) -> dict[str, Any]:
    """Everything the per-stage table and ``summary.json`` show, as plain JSON-able values; with ``warmup``
    (simulated seconds), of the jobs submitted and the time after it only (warm-up deletion)."""
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
    }
