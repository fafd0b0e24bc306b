"""What goes wrong in one run: the interrupt causes, the failure a stage raises, and the draws of aborts,
stage failures and restart times from the run's random streams.

Everything random is drawn up front, per job and vectorised, from the run's ``aborts``, ``failures.STAGE`` and
``restarts`` streams, so that changing one kind of fault leaves every other draw untouched. The configuration
these draws read is ``sim.scenario.faults``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import numpy as np

from hardware_mock.errors import ErrorRecord
from sim.scenario.faults import DEFAULT_ERRORS, Aborts, Restarts, StageFailures
from sim.scenario.streams import RandomStreams

CLEANED_UP = ErrorRecord("Job was cleaned up on restart",
                         "The station restarted while the job was in progress; in-progress jobs are cleaned up.")


class Cause(Enum):
    """Why a job process was interrupted."""

    ABORT = "abort"
    RESTART = "restart"
    OUTAGE = "outage"


class JobFailure(Exception):
    """A stage (or the hardware) failed the job it was serving."""

    def __init__(self, stage: str, error: ErrorRecord) -> None:
        super().__init__(stage, error)
        self.stage = stage
        self.error = error


# --- draws for one run --------------------------------------------------------------------------------------

def abort_times(aborts: Aborts, submitted_at: np.ndarray, streams: RandomStreams) -> list[tuple[float, int]]:
    """(time, job id) of every abort in the run, in time order (ties by job id)."""
    n = len(submitted_at)
    drawn: list[tuple[float, int]] = []
    if aborts.probability > 0:
        rng = streams("aborts")
        chosen = rng.random(n) < aborts.probability
        delays = aborts.delay.sample(rng, n)
        jobs = np.flatnonzero(chosen)
        drawn = list(zip((submitted_at[jobs] + delays[jobs]).tolist(), jobs.tolist(), strict=True))
    drawn += [(a.at, a.job) for a in aborts.jobs if a.job < n]
    return sorted(drawn)


@dataclass(frozen=True)
class StageFailure:
    """How one job fails in one stage."""

    share: float
    """How far into its service, as a share of the service time (1 for a failure after the work)."""
    error: ErrorRecord
    after_end: bool
    """The work was done but storing its result failed: the job fails from the stage's ENDED status."""


def stage_failures(failures: StageFailures, stage: str, n: int, streams: RandomStreams) -> dict[int, StageFailure]:
    """Job id -> how it fails, for those of ``n`` jobs that fail in ``stage``."""
    if failures.probability == 0:
        return {}
    rng = streams(f"failures.{stage}")
    failing = np.flatnonzero(rng.random(n) < failures.probability)
    point = rng.random(n)
    after_end = rng.random(n) < failures.after_end
    catalogue = failures.errors or DEFAULT_ERRORS[stage]
    which = rng.integers(0, len(catalogue), n)
    return {j: StageFailure(1.0 if after_end[j] else float(point[j]), catalogue[which[j]], bool(after_end[j]))
            for j in failing.tolist()}


def restart_schedule(restarts: Restarts, streams: RandomStreams) -> Iterator[float]:
    """Restart times in order: the scheduled ones merged with random ones (exponential gaps), without end."""
    scheduled = iter(sorted(restarts.times))
    random_times: Iterator[float] = iter(())
    if restarts.mean_time_between is not None:
        rng, mean = streams("restarts"), restarts.mean_time_between
        random_times = itertools.accumulate(float(rng.exponential(mean)) for _ in itertools.count())
    return heapq.merge(scheduled, random_times)
