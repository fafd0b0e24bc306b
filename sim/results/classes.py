"""Per-class (and per-user) figures of a run: how each kind of job fared.

A station serves several job classes (the scenario's ``[[workload]]`` entries: short calibration circuits,
long sweeps, pulse-level jobs ...) and users, and a scheduling policy treats them differently: priorities,
fair shares, timeslots. The totals hide that. For each class (or user), of the jobs submitted after the
warm-up:

- ``jobs``: submitted, ready, failed, aborted;
- ``wait``: the time each job spent waiting for servers, summed over the stages it reached (its turnaround
  less its service, were there no hand-over gaps);
- ``execution_wait``: the part of it spent queued for an instrument (``pending_execution``), where priorities
  act;
- ``service``: the time its servers held it, summed over the stages (less work a restart threw away);
- ``turnaround``: received to its terminal status;

each described by mean, p50, p95, p99 and max (``sim.results.metrics.describe``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STAGE_STARTS
from sim.results.metrics import describe, service_per_job, terminal_times

if TYPE_CHECKING:
    from sim.results.run import RunResult

FloatArray = npt.NDArray[np.float64]


def job_waits(result: RunResult) -> tuple[FloatArray, FloatArray]:
    """Each job's total wait over the stages it began, and its wait for an instrument (NaN if it never got
    one)."""
    times = result.times
    total = np.zeros(len(result.workload))
    for stage in STAGE_STARTS:
        start = STAGE_STARTS[stage].code
        wait = times[:, start] - times[:, start - 1]
        total += np.where(np.isfinite(wait), wait, 0.0)
    execution = STAGE_STARTS["execution"].code
    return total, times[:, execution] - times[:, execution - 1]


def job_services(result: RunResult) -> FloatArray:
    """Each job's service, summed over the stages (``sim.results.metrics.service_per_job``)."""
    total = np.zeros(len(result.workload))
    for stage in STAGE_STARTS:
        total += service_per_job(result, stage)
    return total


def group_summary(result: RunResult, groups: npt.NDArray[np.int64], names: tuple[str, ...],
                  warmup: float = 0.0) -> dict[str, dict[str, Any]]:
    """The figures of each group of jobs (``groups``: each job's index into ``names``), of the jobs submitted
    at or after ``warmup``; groups without such jobs are left out."""
    kept = ~(result.workload.submitted_at < warmup)
    times = result.times
    received = np.isfinite(times[:, RECEIVED])
    turnaround = terminal_times(times) - times[:, RECEIVED]
    waits, execution_waits = job_waits(result)
    services = job_services(result)
    final = result.final_status
    out: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names):
        mine = kept & (groups == index)
        if not mine.any():
            continue
        reached = mine & received
        out[name] = {
            "jobs": {"submitted": int(mine.sum()), "ready": int(np.count_nonzero(final[mine] == READY)),
                     "failed": int(np.count_nonzero(final[mine] == FAILED)),
                     "aborted": int(np.count_nonzero(final[mine] == ABORTED))},
            "wait": describe(waits[reached]),
            "execution_wait": describe(execution_waits[mine]),
            "service": describe(services[reached]),
            "turnaround": describe(turnaround[mine]),
        }
    return out


def class_summary(result: RunResult, warmup: float = 0.0) -> dict[str, dict[str, Any]]:
    """The figures of each job class (``[[workload]]`` name), in the scenario's order."""
    workload = result.workload
    return group_summary(result, workload.job_class.astype(np.int64), tuple(workload.class_names), warmup)


def user_summary(result: RunResult, warmup: float = 0.0) -> dict[str, dict[str, Any]]:
    """The figures of each user."""
    workload = result.workload
    return group_summary(result, workload.user.astype(np.int64), tuple(workload.users), warmup)
