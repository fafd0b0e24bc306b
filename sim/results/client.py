"""What a client sees: IQM's ``JobData`` and ``QueueState`` for any job of a running station.

``job_data(station, job_id)`` gives, at the station's current simulated time, the job's status, its position
(the number of jobs ahead of it in the queue it waits in: 0 while a worker or instrument serves it, None once
it is terminal), its execution progress as ``(label, value, max_value)`` entries while it executes (IQM's
``parallel_sweep_progress``), whether it was interrupted (cancelled), its error if it failed, and its timeline
of (status, time) entries. ``queue_states(station)`` gives, per status, the jobs in it now and the jobs that have
passed through it (IQM's monitoring ``QueueState``). Run a station to any time with ``sim.observe``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hardware_mock.errors import ErrorRecord
from sim.model.status import ABORTED, EXECUTION_STARTED, FAILED, NOT_RECEIVED, READY, STATUSES, JobStatus

if TYPE_CHECKING:
    from sim.model.station import Station

Progress = tuple[str, int, int]


@dataclass(frozen=True)
class TimelineEntry:
    status: JobStatus
    timestamp: float


@dataclass(frozen=True)
class JobData:
    job_id: int
    job_status: JobStatus | None
    """None while the station has not received the job (its client is still submitting it)."""
    position: int | None
    parallel_sweep_progress: tuple[Progress, ...]
    interrupted: bool
    job_error: ErrorRecord | None
    timeline: tuple[TimelineEntry, ...]


@dataclass(frozen=True)
class QueueState:
    queue: JobStatus
    jobs_in_queue: int
    completed_jobs: int


def job_data(station: Station, job_id: int) -> JobData:
    """The job as IQM's ``JobData`` shows it, now."""
    records = station.records
    code = records.status[job_id]
    times = records.times[job_id]
    timeline = tuple(TimelineEntry(STATUSES[c], float(times[c])) for c in np.flatnonzero(~np.isnan(times)))
    status = None if code == NOT_RECEIVED else STATUSES[code]
    progress: tuple[Progress, ...] = ()
    if code == EXECUTION_STARTED:
        progress = tuple(station.instruments.progress(job_id))
    error = ErrorRecord(records.user_error_message[job_id], records.full_error_log[job_id]) if code == FAILED else None
    return JobData(job_id=job_id, job_status=status, position=position(station, job_id),
                   parallel_sweep_progress=progress, interrupted=code == ABORTED, job_error=error, timeline=timeline)


def position(station: Station, job_id: int) -> int | None:
    """Jobs ahead of ``job_id`` in the queue it waits in (None if the queue's scheduling policy cannot say); 0
    while served or between steps; None when terminal (or not received yet)."""
    code = station.records.status[job_id]
    if code >= READY or code == NOT_RECEIVED:
        return None
    for pool in (*station.pools, station.instruments.pool):
        if pool is not None and pool.waits(job_id):
            return pool.position(job_id)  # None when its scheduling policy cannot say
    return 0


def queue_states(station: Station) -> list[QueueState]:
    """For every status: how many jobs are in it now, and how many have moved on from it."""
    status = np.asarray(station.records.status)
    reached = ~np.isnan(station.records.times)
    in_status = np.bincount(status[status >= 0], minlength=len(STATUSES))
    passed = reached.sum(axis=0) - in_status
    return [QueueState(s, int(in_status[s.code]), int(passed[s.code])) for s in STATUSES]
