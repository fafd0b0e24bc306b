"""How the instrument misbehaves: errors in a job's run, hangs, and outages of the whole instrument.

- An *instrument error* ends a job's run early: the job FAILS in execution, with a message from the catalogue.
- A *hang* stops the run without ending it: the station's execution timeout catches it, fails the job, and the
  instrument is reset (``reset_after_hang`` seconds) before it takes the next job.
- An *outage* takes the instrument down: it starts after an exponential time of operation with mean
  ``mean_time_between_outages`` and lasts a log-normal repair time (mean and coefficient of variation); jobs
  wait in the queue meanwhile.

Each job draws whether it errs or hangs, and at which fraction of its run. The draws are vectorised and use a
fixed number of random numbers per job (three), so changing a probability changes which jobs fail but not the
stream's other draws; outages are drawn in fixed blocks for the same reason, so a longer horizon only appends
outages. Every default is "no faults": a scenario turns them on (the 3.1% error rate of a public IBM trace,
row "job outcomes in a real public trace" of docs/references.md, counts errors of every stage, not only the
instrument's). Messages are illustrative of control-electronics failures; IQM does not publish its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from hardware_mock.errors import ErrorRecord, log_lines

FloatArray = npt.NDArray[np.float64]

INSTRUMENT_ERRORS: tuple[tuple[str, str], ...] = (
    ("Instrument error: the readout did not return data.",
     "ReadoutTimeout: no data from the readout digitiser within the acquisition window"),
    ("Instrument error: uploading the pulse schedule failed.",
     "UploadError: the waveform memory of a control channel is full"),
    ("Instrument error: the controllers lost synchronisation.",
     "SyncError: the shared reference clock lost lock; the sequencers stopped"),
    ("Instrument error: the cryostat left its operating range.",
     "CryostatAlarm: mixing-chamber temperature above threshold; execution stopped"),
)
"""(user message, log detail) pairs an instrument error is drawn from, uniformly."""

_OUTAGE_BLOCK = 64


class JobFault(IntEnum):
    """What goes wrong in one job's run."""

    NONE = 0
    ERROR = 1
    HANG = 2


@dataclass(frozen=True)
class FaultModel:
    """The fault rates of one instrument. All zero by default: hardware that never fails."""

    error_probability: float = field(default=0.0, metadata={"unit": "fraction"})
    """Probability that a job's run ends in an instrument error."""
    hang_probability: float = field(default=0.0, metadata={"unit": "fraction"})
    """Probability that a job's run hangs (never ends by itself)."""
    mean_time_between_outages: float = 0.0
    """Mean seconds of operation between outages; 0 turns outages off."""
    mean_repair_time: float = 30 * 60.0
    """Mean seconds an outage lasts."""
    repair_time_cv: float = field(default=0.5, metadata={"unit": "number"})
    """Coefficient of variation of the (log-normal) repair time; 0 makes every repair take the mean."""
    reset_after_hang: float = 60.0
    """Seconds to reset the instrument after a hang is caught, before the next job."""
    error_messages: tuple[tuple[str, str], ...] = field(default=INSTRUMENT_ERRORS, metadata={"unit": "messages"})

    def __post_init__(self) -> None:
        for name in ("error_probability", "hang_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {getattr(self, name)}")
        if self.error_probability + self.hang_probability > 1:
            raise ValueError("error_probability + hang_probability must not exceed 1")
        if min(self.mean_time_between_outages, self.mean_repair_time, self.repair_time_cv,
               self.reset_after_hang) < 0:
            raise ValueError("times and the coefficient of variation must be zero or more")
        if not self.error_messages:
            raise ValueError("error_messages needs at least one (user message, log detail) pair")

    @property
    def has_outages(self) -> bool:
        return self.mean_time_between_outages > 0


@dataclass(frozen=True)
class JobFaults:
    """The faults drawn for a block of jobs, one entry per job."""

    kind: npt.NDArray[np.int8]
    """``JobFault`` code."""
    at_fraction: FloatArray
    """Fraction of the run, in [0, 1), at which the error or hang happens."""
    message: npt.NDArray[np.intp]
    """Index in the model's ``error_messages`` (used by errors only)."""

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(frozen=True)
class Outages:
    """The outages of one instrument, in time order: outage ``i`` lasts from ``starts[i]`` to ``ends[i]``."""

    starts: FloatArray
    ends: FloatArray

    def __len__(self) -> int:
        return len(self.starts)



def draw_job_faults(model: FaultModel, jobs: int, rng: np.random.Generator) -> JobFaults:
    """Whether each of ``jobs`` runs errs or hangs, when, and with which message (three draws per job)."""
    which, when, message = rng.random((3, jobs))
    kind = np.where(which < model.error_probability, JobFault.ERROR,
                    np.where(which < model.error_probability + model.hang_probability, JobFault.HANG, JobFault.NONE))
    index = np.minimum((message * len(model.error_messages)).astype(np.intp), len(model.error_messages) - 1)
    return JobFaults(kind.astype(np.int8), when, index)


def draw_outages(model: FaultModel, horizon: float, rng: np.random.Generator) -> Outages:
    """The outages that start before ``horizon``: up-times exponential, repairs log-normal, the instrument up at 0."""
    starts: list[float] = []
    ends: list[float] = []
    if model.has_outages:
        sigma = math.sqrt(math.log1p(model.repair_time_cv**2))
        mu = math.log(model.mean_repair_time) - sigma**2 / 2 if model.mean_repair_time > 0 else -math.inf
        up_since = 0.0
        while up_since < horizon:
            up_times = rng.exponential(model.mean_time_between_outages, _OUTAGE_BLOCK)
            repairs = np.exp(mu + sigma * rng.standard_normal(_OUTAGE_BLOCK))
            for up, repair in zip(up_times.tolist(), repairs.tolist(), strict=True):
                start = up_since + up
                if start >= horizon:
                    up_since = math.inf
                    break
                starts.append(start)
                ends.append(start + repair)
                up_since = start + repair
    return Outages(np.array(starts, dtype=float), np.array(ends, dtype=float))


def instrument_error(model: FaultModel, message: int, device: str, elapsed: float, duration: float) -> ErrorRecord:
    """The error record of a run that failed with catalogue entry ``message`` after ``elapsed`` seconds."""
    user_message, detail = model.error_messages[message]
    return ErrorRecord(user_message, log_lines(f"Execution failed: {detail}", {
        "stage": "execution", "device": device, "failed after": f"{elapsed:.6g} s",
        "expected duration": f"{duration:.6g} s"}))


def hang_timeout(device: str, timeout: float, reset: float) -> ErrorRecord:
    """The error record of a run that hung and was stopped by the execution timeout."""
    return ErrorRecord(f"Execution timed out after {timeout:g} s; the instrument was reset.", log_lines(
        "Execution failed: the instrument stopped responding and the execution timeout expired.",
        {"stage": "execution", "device": device, "timeout": f"{timeout:g} s", "instrument reset": f"{reset:g} s"}))


def outage_error(device: str, elapsed: float) -> ErrorRecord:
    """The error record of a run cut short by an outage of its instrument."""
    return ErrorRecord("Execution failed: the instrument went down during the run.", log_lines(
        "Execution failed: instrument outage.", {"stage": "execution", "device": device,
                                                 "failed after": f"{elapsed:.6g} s"}))
