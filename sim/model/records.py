"""Job records: what the station persists about every job, kept as preallocated columns.

For each job: the time it reached each status (NaN where it never did; IQM's timeline entries), its current
status, the stage a failure happened in, the error (a short user message and a full log) and the instrument it
ran on. Every status change goes through ``advance``, which checks the move against the lifecycle and raises
``IllegalTransition`` at once if it breaks it. Station-level happenings (calibrations, restarts, faults, aborts
of finished jobs) are appended to ``events``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.model.status import N_STATUSES, NOT_RECEIVED, READY, check_transition


@dataclass(frozen=True)
class Event:
    """Something that happened to the station rather than to one job's lifecycle."""

    t: float
    kind: str
    job_id: int | None = None
    detail: str = ""


@dataclass(frozen=True)
class InstrumentPeriod:
    """A period an instrument spent on something other than a user job's run."""

    instrument: int
    kind: str
    """``calibration``, ``outage``, ``reset`` (after a timeout), ``timed_out`` (a run that hung or overran, up
    to the timeout; part of the job's execution interval) or ``stopping`` (finishing the shot batch of an
    aborted job)."""
    start: float
    end: float


class JobRecords:
    """Columns of per-job state for ``n`` jobs with ids 0 .. n-1."""

    def __init__(self, n: int) -> None:
        self.times: npt.NDArray[np.float64] = np.full((n, N_STATUSES), np.nan)
        self.status: list[int] = [NOT_RECEIVED] * n
        """Current status code of each job (a list: read and written on the hot path)."""
        self.instrument = np.full(n, -1, dtype=np.int64)
        self.execution_progress = np.full(n, np.nan)
        """Share of its execution an aborted job had done when it stopped the instrument."""
        self.calibration_set = np.full(n, -1, dtype=np.int64)
        """The calibration set each job was compiled against (-1: none fetched)."""
        self.instrument_periods: list[InstrumentPeriod] = []
        self.measurements: dict[int, list[dict[str, int]]] = {}
        """Synthetic counts per circuit of each executed job (only when the scenario asks for them)."""
        self.lost_work = 0.0
        """Service seconds discarded by restarts."""
        self.failed_stage: dict[int, str] = {}
        self.user_error_message: dict[int, str] = {}
        self.full_error_log: dict[int, str] = {}
        self.events: list[Event] = []

    def __len__(self) -> int:
        return len(self.status)

    def take(self, jobs: npt.NDArray[np.int64]) -> JobRecords:
        """The records of the jobs ``jobs`` only, in that order (their ids become 0, 1, ...), without the
        station's events and instrument periods."""
        taken = JobRecords(0)
        ids = jobs.tolist()
        local = {job: i for i, job in enumerate(ids)}
        taken.times = self.times[jobs]
        taken.status = [self.status[job] for job in ids]
        taken.instrument = self.instrument[jobs]
        taken.execution_progress = self.execution_progress[jobs]
        taken.calibration_set = self.calibration_set[jobs]
        for name in ("failed_stage", "user_error_message", "full_error_log", "measurements"):
            values = getattr(self, name)
            setattr(taken, name, {local[job]: values[job] for job in ids if job in values})
        return taken

    def advance(self, job_id: int, code: int, t: float) -> None:
        """Record that job ``job_id`` reached status ``code`` at time ``t``; illegal moves raise at once."""
        old = self.status[job_id]
        if code != old + 1 or code > READY:
            check_transition(job_id, old, code)
        self.status[job_id] = code
        self.times[job_id, code] = t

    def fail(self, job_id: int, code: int, t: float, stage: str, user_message: str, log: str) -> None:
        """Record a failure in ``stage`` with its error (``code`` is FAILED)."""
        self.advance(job_id, code, t)
        self.failed_stage[job_id] = stage
        self.user_error_message[job_id] = user_message
        self.full_error_log[job_id] = log

    def final_status(self) -> npt.NDArray[np.int64]:
        """Each job's last status code (NOT_RECEIVED for jobs the run never received)."""
        return np.asarray(self.status, dtype=np.int64)
