"""Restart recovery: how the station cleans up in-progress jobs when it comes back up.

IQM documents that every job whose status is in ``in_progress_statuses()`` "should be cleaned up on restart";
how the real server does it is not public. Recovery here reads only what the station persisted (each job's
status, status times and instrument in the job records), never the lost in-memory processes, and applies the
scenario's policy. (Every job process gave back the workers it held or waited for when it was stopped; an
instrument stays with the job that was running on it until recovery decides.)

- ``fail`` (IQM's documented behaviour): every in-progress job is marked FAILED with "cleaned up on restart";
  its failed stage is the stage it was in (``receive``, a stage name, or ``queue`` for PENDING_EXECUTION).
- ``requeue`` (a more resilient design): every in-progress job resumes from its last durable point.
  - RECEIVED, a stage's ENDED status, EXECUTION_ENDED, POST_PROCESSING_PENDING or POST_PROCESSING_ENDED: the job
    goes on with the next step, as if nothing had happened.
  - PENDING_EXECUTION: the job rejoins the execution queue with its original queue-entry time.
  - a stage's STARTED status (validation, calibration fetch, compilation, saving metadata, post-processing):
    the stage's work was lost; the job queues for the stage again and redoes it. Its STARTED record stands
    (the timeline only moves forward); the stage's ENDED is recorded when the redone work ends.
  - EXECUTION_STARTED: the instrument run was lost; the instrument stayed with that same job, which runs again
    from the start (so one instrument's execution intervals never overlap).
  Jobs are re-admitted in the order they reached their current status, so queues keep their old order.

Each restart is recorded as an event with the number of jobs cleaned up and the work lost: the service time
already spent on the jobs that a policy discards (``fail``: all of it; ``requeue``: the interrupted stage's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sim.model.faults import CLEANED_UP
from sim.model.status import EXECUTION_STARTED, FAILED, READY, RECEIVED, STAGE_OF_STATUS, STAGE_STARTS

if TYPE_CHECKING:
    from sim.model.station import Station

START_CODES = np.array([status.code for status in STAGE_STARTS.values()])


def work_done(times: npt.NDArray[np.float64], jobs: npt.NDArray[np.int64], at: float) -> npt.NDArray[np.float64]:
    """Service seconds each job received, in every stage, up to time ``at`` (running services count to ``at``)."""
    starts = times[np.ix_(jobs, START_CODES)]
    ends = times[np.ix_(jobs, START_CODES + 1)]
    ends = np.where(np.isnan(ends), at, ends)
    work: npt.NDArray[np.float64] = np.nansum(ends - starts, axis=1)
    return work


def interrupted_work(times: npt.NDArray[np.float64], jobs: npt.NDArray[np.int64], status: npt.NDArray[np.int64],
                     at: float) -> npt.NDArray[np.float64]:
    """Service seconds of the stage each job was in the middle of at ``at`` (0 for jobs between stages)."""
    in_service = np.isin(status, START_CODES)
    partial = np.zeros(len(jobs))
    partial[in_service] = at - times[jobs[in_service], status[in_service]]
    return partial


def recover(station: Station) -> None:
    """Bring the service back up: fresh pools, then every in-progress job cleaned up by the restart policy."""
    env, records = station.env, station.records
    policy = station.scenario.faults.restarts.policy
    down_since = station.down_since
    status_now = np.asarray(records.status, dtype=np.int64)
    jobs = np.flatnonzero((status_now >= RECEIVED) & (status_now < READY))
    status = status_now[jobs]
    if policy == "fail":
        lost = float(work_done(records.times, jobs, down_since).sum())
        for job_id, code in zip(jobs.tolist(), status.tolist(), strict=True):
            if code == EXECUTION_STARTED:
                station.instruments.release_after_restart(job_id)
            records.fail(job_id, FAILED, env.now, STAGE_OF_STATUS[code], CLEANED_UP.user_message,
                         CLEANED_UP.full_log)
            station._settle(job_id)
    else:
        lost = float(interrupted_work(records.times, jobs, status, down_since).sum())
        order = np.lexsort((jobs, records.times[jobs, status]))
        for job_id, code in zip(jobs[order].tolist(), status[order].tolist(), strict=True):
            env.process(station._job(job_id, resume=code))
    records.lost_work += lost
    station.up = True
    station.event("restart", None, f"policy {policy}: cleaned up {len(jobs)} in-progress jobs, "
                  f"{lost:.1f} s of work lost, down {env.now - down_since:.1f} s")
