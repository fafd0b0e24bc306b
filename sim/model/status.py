"""The job lifecycle: IQM Station Control's ``JobExecutorStatus``, reproduced exactly.

A job received by the station walks the happy path one status at a time, from RECEIVED to READY. From any
status that is not terminal it may instead end FAILED (an error in whatever stage it was in) or ABORTED (the
user cancelled it). Nothing leaves a terminal status.

``JobStatus`` behaves like IQM's enum (``iqm.station_control.interface.models.jobs``): a plain ``Enum`` with
lower-case values, ordered by definition order, comparable and equal to strings (parsed case-insensitively),
hashed by name, ``str()`` giving the lower-case name. The simulator's hot path works with the integer codes
(``status.code``): the position of the status in definition order.
"""

from __future__ import annotations

import functools
from enum import Enum


class IllegalTransition(RuntimeError):
    """A job was asked to move between two statuses that the lifecycle does not connect."""

    def __init__(self, job_id: int, old: JobStatus | None, new: JobStatus) -> None:
        super().__init__(job_id, old, new)  # all arguments, so that SimPy can re-raise a copy
        self.job_id = job_id
        self.old = old
        self.new = new

    def __str__(self) -> str:
        before = "nothing" if self.old is None else self.old.name
        return f"job {self.job_id}: illegal status transition {before} -> {self.new.name}"


@functools.total_ordering
class JobStatus(Enum):
    """Different states a job can be in; the ordering is significant (IQM: "execution logic relies on it")."""

    RECEIVED = "received"
    VALIDATION_STARTED = "validation_started"
    VALIDATION_ENDED = "validation_ended"
    FETCH_CALIBRATION_STARTED = "fetch_calibration_started"
    FETCH_CALIBRATION_ENDED = "fetch_calibration_ended"
    COMPILATION_STARTED = "compilation_started"
    COMPILATION_ENDED = "compilation_ended"
    SAVE_SWEEP_METADATA_STARTED = "save_sweep_metadata_started"
    SAVE_SWEEP_METADATA_ENDED = "save_sweep_metadata_ended"
    PENDING_EXECUTION = "pending_execution"
    EXECUTION_STARTED = "execution_started"
    EXECUTION_ENDED = "execution_ended"
    POST_PROCESSING_PENDING = "post_processing_pending"
    POST_PROCESSING_STARTED = "post_processing_started"
    POST_PROCESSING_ENDED = "post_processing_ended"
    READY = "ready"
    FAILED = "failed"
    ABORTED = "aborted"

    @property
    def code(self) -> int:
        """Position in definition order: the integer the simulator stores."""
        return _CODE[self.name]

    @classmethod
    def from_code(cls, code: int) -> JobStatus:
        return STATUSES[code]

    @classmethod
    def terminal_statuses(cls) -> set[JobStatus]:
        """Statuses from which the execution can't continue."""
        return {cls.ABORTED, cls.FAILED, cls.READY}

    @classmethod
    def in_progress_statuses(cls) -> set[JobStatus]:
        """Statuses representing jobs that should be cleaned up on restart: every non-terminal status."""
        return set(cls) - cls.terminal_statuses()

    def __str__(self) -> str:
        return self.name.lower()

    def __hash__(self) -> int:
        return hash(self.name)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            parsed = _parse(other)
            return parsed is not None and parsed.name == self.name
        if not isinstance(other, JobStatus):
            return NotImplemented
        return self.name == other.name

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            parsed = _parse(other)
            if parsed is None:
                return NotImplemented
            other = parsed
        if not isinstance(other, JobStatus):
            return NotImplemented
        return _CODE[self.name] < _CODE[other.name]


def _parse(text: str) -> JobStatus | None:
    try:
        return JobStatus(text.lower())
    except ValueError:
        return None


STATUSES: tuple[JobStatus, ...] = tuple(JobStatus)
_CODE: dict[str, int] = {status.name: i for i, status in enumerate(STATUSES)}

# Integer codes used on the hot path.
RECEIVED = JobStatus.RECEIVED.code
PENDING_EXECUTION = JobStatus.PENDING_EXECUTION.code
EXECUTION_STARTED = JobStatus.EXECUTION_STARTED.code
POST_PROCESSING_PENDING = JobStatus.POST_PROCESSING_PENDING.code
READY = JobStatus.READY.code
FAILED = JobStatus.FAILED.code
ABORTED = JobStatus.ABORTED.code
N_STATUSES = len(STATUSES)

STAGE_STARTS: dict[str, JobStatus] = {
    "validation": JobStatus.VALIDATION_STARTED,
    "calibration": JobStatus.FETCH_CALIBRATION_STARTED,
    "compilation": JobStatus.COMPILATION_STARTED,
    "save_metadata": JobStatus.SAVE_SWEEP_METADATA_STARTED,
    "execution": JobStatus.EXECUTION_STARTED,
    "post_processing": JobStatus.POST_PROCESSING_STARTED,
}
"""Each stage by the status that starts it. A stage's wait runs from the status before its start (the end of the
previous stage, PENDING_EXECUTION or POST_PROCESSING_PENDING) to the start; its service, from the start to the
status after it (the stage's ENDED)."""
NOT_RECEIVED = -1
"""The code of a job that the station has not received yet."""

STAGE_LABELS: dict[str, str] = {
    "validation": "validation", "calibration": "calibration fetch", "compilation": "compilation",
    "save_metadata": "save metadata", "execution": "execution", "post_processing": "post-processing"}
"""Each stage as tables and figures name it: the calibration stage *fetches* the current calibration set
(FETCH_CALIBRATION), which is not the instruments' recalibration; the keys (``stages.calibration``) stay as
they are in scenario files, metric names and the results database."""

STAGE_OF_STATUS: tuple[str, ...] = (
    "receive",
    "validation", "validation",
    "calibration", "calibration",
    "compilation", "compilation",
    "save_metadata", "save_metadata",
    "queue",
    "execution", "execution",
    "post_processing", "post_processing", "post_processing",
    "ready", "failed", "aborted",
)
"""For each status code, the stage a job in that status is in (terminal statuses name themselves)."""


def is_legal(old: int, new: int) -> bool:
    """Whether a job may move from status code ``old`` to ``new`` (``old`` = NOT_RECEIVED before RECEIVED).

    Legal moves: one step along the happy path, or from a non-terminal status to FAILED or ABORTED.
    """
    if not (NOT_RECEIVED <= old < N_STATUSES and RECEIVED <= new < N_STATUSES):
        return False
    if new == old + 1 and new <= READY:
        return True
    return new >= FAILED and RECEIVED <= old < READY


def legal_successors(status: JobStatus) -> set[JobStatus]:
    """Every status a job in ``status`` may move to next."""
    return {s for s in STATUSES if is_legal(status.code, s.code)}


def check_transition(job_id: int, old: int, new: int) -> None:
    """Raise ``IllegalTransition`` naming both statuses unless ``old -> new`` is legal."""
    if not is_legal(old, new):
        raise IllegalTransition(job_id, None if old == NOT_RECEIVED else STATUSES[old], STATUSES[new])
