"""Job records: what the station persists about every job, kept as preallocated columns.

For each job: the time it reached each status (NaN where it never did; IQM's timeline entries), its current
status, the stage a failure happened in, the error (a short user message and a full log) and the instrument it
ran on. Every status change is checked against the lifecycle, and raises ``IllegalTransition`` at once if it
breaks it: by ``advance``, or, for the two moves of each stage on the job process's hot path, by the job process
itself before it writes ``columns`` (the same check, without the call). Station-level happenings
(calibrations, restarts, faults, aborts of finished jobs) are appended to ``events``.

*Holdings* are the record of who held each server of each pool (a stage's workers, the instruments), from when
to when, and how it ended; the pools (``sim.model.pools``) write them here. A holding is open while held and
closed with an ``Outcome``; closed holdings are compact columns that only grow, so a writer can take what was
added since it last looked.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from sim.model.status import N_STATUSES, NOT_RECEIVED, READY, check_transition


def seconds_per_job(values: npt.NDArray[np.float64]) -> array[float]:
    """Per-job seconds (service times, arrival times) as the job process reads them: a compact array of doubles,
    8 bytes a job where a list of floats takes 32, whose items are plain Python floats (so that SimPy's clock
    stays one)."""
    return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


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


class Outcome(IntEnum):
    """How a holding ended."""

    DONE = 0
    FAILED = 1
    ABORTED = 2
    RESTART = 3
    """The service went down: the holding ended at that moment."""
    OUTAGE = 4
    """The instrument went down under the job."""
    TIMEOUT = 5
    """The station's execution timeout stopped the run."""
    OPEN = 6
    """Not ended yet (when the holdings are read during or at the end of a run)."""
    RETURNED = 7
    """Given back unused (a job whose calibration set had expired goes to be compiled again)."""


class Holder(IntEnum):
    """Holders that are not jobs (jobs hold servers under their job id, 0 or more)."""

    CALIBRATION = -1
    OUTAGE = -2
    RESET = -3
    MAINTENANCE = -4


@dataclass(frozen=True)
class HoldingsTable:
    """Every holding of one pool, as columns (one row per holding, in the order they ended; open holdings last,
    with ``end`` the time they were read at and outcome ``OPEN``)."""

    server: npt.NDArray[np.int64]
    holder: npt.NDArray[np.int64]
    """A job id (0 or more) or a ``Holder``."""
    start: npt.NDArray[np.float64]
    end: npt.NDArray[np.float64]
    outcome: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.server)

    @property
    def seconds(self) -> npt.NDArray[np.float64]:
        duration: npt.NDArray[np.float64] = self.end - self.start
        return duration

    def busy(self, since: float = 0.0, until: float = math.inf) -> float:
        """Server-seconds held between ``since`` and ``until``."""
        return float(np.sum(np.clip(np.minimum(self.end, until) - np.maximum(self.start, since), 0.0, None)))

    def of_jobs(self) -> HoldingsTable:
        return self.where(self.holder >= 0)

    def where(self, mask: npt.NDArray[np.bool_]) -> HoldingsTable:
        return HoldingsTable(self.server[mask], self.holder[mask], self.start[mask], self.end[mask],
                             self.outcome[mask])

    @staticmethod
    def empty() -> HoldingsTable:
        return HoldingsTable(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                             np.zeros(0, np.int64))

    @staticmethod
    def concat(tables: list[HoldingsTable]) -> HoldingsTable:
        if not tables:
            return HoldingsTable.empty()
        return HoldingsTable(*(np.concatenate([getattr(t, name) for t in tables])
                               for name in ("server", "holder", "start", "end", "outcome")))


NOBODY = -100
"""The holder of a free server."""


class Holdings:
    """The holdings of one pool: closed ones as rows of a compact ledger (``rows``: server, holder, start, end,
    outcome, five floats a holding, in the order they ended), open ones per server (``holder_of[server]``,
    ``since[server]``; ``NOBODY`` when free). The pool writes them on its hot path, directly: one ``extend`` a
    holding."""

    COLUMNS = ("server", "holder", "start", "end", "outcome")

    def __init__(self) -> None:
        self.rows = array("d")
        self.holder_of: list[int] = []
        self.since: list[float] = []

    def __len__(self) -> int:
        """How many holdings have ended."""
        return len(self.rows) // len(self.COLUMNS)

    def closed(self, first: int = 0, stop: int | None = None) -> HoldingsTable:
        """The ended holdings ``first`` to ``stop`` (default: all), as a table."""
        ledger = np.frombuffer(self.rows, dtype=np.float64).reshape(-1, len(self.COLUMNS))[first:stop]
        return HoldingsTable(ledger[:, 0].astype(np.int64), ledger[:, 1].astype(np.int64), ledger[:, 2].copy(),
                             ledger[:, 3].copy(), ledger[:, 4].astype(np.int64))

    def open(self) -> dict[int, int]:
        """Server -> holder, for the servers held now."""
        return {server: holder for server, holder in enumerate(self.holder_of) if holder != NOBODY}

    def table(self, now: float) -> HoldingsTable:
        """Every holding, the open ones as held until ``now``."""
        held = self.open()
        n = len(held)
        still = HoldingsTable(np.fromiter(held, dtype=np.int64, count=n),
                              np.fromiter(held.values(), dtype=np.int64, count=n),
                              np.array([self.since[s] for s in held], dtype=np.float64), np.full(n, now),
                              np.full(n, Outcome.OPEN, dtype=np.int64))
        return HoldingsTable.concat([self.closed(), still])


class TimeColumn(Protocol):
    """The times of one status, job by job (a writable view of a column of ``JobRecords.times``)."""

    def __getitem__(self, job: int, /) -> float: ...

    def __setitem__(self, job: int, t: float, /) -> None: ...


class JobRecords:
    """Columns of per-job state for ``n`` jobs with ids 0 .. n-1."""

    def __init__(self, n: int) -> None:
        self.times = np.full((n, N_STATUSES), np.nan, order="F")
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
        self.holdings: dict[str, Holdings] = {}
        """Each pool's holdings, by pool name (the five stages, then ``execution``: the instruments)."""

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Each job's time at each status (jobs x statuses, NaN where it never got there), stored status by
        status (Fortran order) so that each status's times are also a writable view, ``columns[code]``: what
        the job process writes on its hot path (``columns[code][job] = t``, a quarter of the cost of a 2-D
        numpy item assignment), after checking the move as ``advance`` does."""
        return self._times

    @times.setter
    def times(self, times: npt.NDArray[np.float64]) -> None:
        self._times = np.asfortranarray(times)
        self.columns = [cast(TimeColumn, self._times[:, code].data) for code in range(N_STATUSES)]

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["columns"]  # views of ``times``, rebuilt on unpickling
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.times = self._times

    def holdings_of(self, pool: str) -> Holdings:
        """The holdings of ``pool`` (a new, empty record the first time)."""
        return self.holdings.setdefault(pool, Holdings())

    def holdings_tables(self, now: float) -> dict[str, HoldingsTable]:
        """Every pool's holdings as tables, the open ones as held until ``now``."""
        return {name: holdings.table(now) for name, holdings in self.holdings.items()}

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
        self.columns[code][job_id] = t

    def fail(self, job_id: int, code: int, t: float, stage: str, user_message: str, log: str) -> None:
        """Record a failure in ``stage`` with its error (``code`` is FAILED)."""
        self.advance(job_id, code, t)
        self.failed_stage[job_id] = stage
        self.user_error_message[job_id] = user_message
        self.full_error_log[job_id] = log

    def final_status(self) -> npt.NDArray[np.int64]:
        """Each job's last status code (NOT_RECEIVED for jobs the run never received)."""
        return np.asarray(self.status, dtype=np.int64)
