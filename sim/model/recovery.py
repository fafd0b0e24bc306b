"""Restart recovery: how the station cleans up in-progress jobs when it comes back up.

IQM documents that every job whose status is in ``in_progress_statuses()`` "should be cleaned up on restart";
how the real server does it is not public. Recovery here reads only what the station persisted (each job's
status and instrument in the job records, the holdings the pools recorded), never the lost in-memory processes,
and applies the scenario's policy through the station's recovery interface (``Recoverable``). When it runs,
the restart has already ended every holding and emptied every queue.

- ``fail`` (IQM's documented behaviour): every in-progress job is marked FAILED with "cleaned up on restart";
  its failed stage is the stage it was in (``receive``, a stage name, or ``queue`` for PENDING_EXECUTION).
  The work lost is every service second those jobs had received.
- ``requeue`` (a more resilient design): every in-progress job resumes from its last durable point.
  - RECEIVED, a stage's ENDED status, EXECUTION_ENDED, POST_PROCESSING_PENDING or POST_PROCESSING_ENDED: the job
    goes on with the next step, as if nothing had happened.
  - PENDING_EXECUTION: the job rejoins the execution queue with its original queue-entry time.
  - a stage's STARTED status (validation, calibration fetch, compilation, saving metadata, post-processing):
    the stage's work was lost; the job queues for the stage again and redoes it. Its STARTED record stands
    (the timeline only moves forward); the stage's ENDED is recorded when the redone work ends.
  - EXECUTION_STARTED: the instrument run was lost; the job claims that same instrument ahead of the queue and
    runs again from the start (so one instrument's execution intervals never overlap).
  Jobs are re-admitted in the order they reached their current status, so queues keep their old order.
  The work lost is what the restart cut short: the holdings it ended.

Work is measured from holdings only, so a downtime never counts as work.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from sim.model.records import JobRecords


class Recoverable(Protocol):
    """What recovery needs of a station."""

    records: JobRecords

    def in_progress(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...

    def restart_losses(self) -> float: ...

    def work_done(self, jobs: npt.NDArray[np.int64]) -> float: ...

    def clean_up(self, job_id: int, code: int) -> None: ...

    def resume(self, job_id: int, code: int) -> None: ...


def recover(station: Recoverable, policy: str) -> tuple[int, float]:
    """Clean up every in-progress job by ``policy``; returns how many and the service seconds lost."""
    jobs, status = station.in_progress()
    if policy == "fail":
        lost = station.work_done(jobs)
        for job_id, code in zip(jobs.tolist(), status.tolist(), strict=True):
            station.clean_up(job_id, code)
    else:
        lost = station.restart_losses()
        order = np.lexsort((jobs, station.records.times[jobs, status]))
        for job_id, code in zip(jobs[order].tolist(), status[order].tolist(), strict=True):
            station.resume(job_id, code)
    return len(jobs), lost
