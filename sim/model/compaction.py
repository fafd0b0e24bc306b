"""Compaction of a finished run's records: the same records, in less memory.

While a run goes on, the records are shaped for the job process's hot path: each pool's ended holdings are five
float64 a holding in a growing ``array`` (server, holder, start, end, outcome), each job's status a Python list
entry. Once the run has ended nothing writes them any more, and ``compact_records`` stores them again, exactly:

- a pool's holdings (``CompactHoldings``): a job's holding of a stage that ended ``DONE`` at the times the
  job's record gives for the stage's STARTED and ENDED statuses (checked bit for bit, row by row) keeps only
  its server and its job, the narrowest integer type that holds them (the job as the step from the previous
  such row's job where that is narrower), and reads its start and end from the job's times; every other holding
  (calibrations, outages, failures, aborts, restarts, returned workers, a resumed job's earlier holding) is
  kept whole as an exception, by its row;
- the jobs' current statuses become one byte each (``StatusCodes``, indexed and compared like the list), the
  instruments and calibration sets the narrowest integer type that holds them;
- of the workload (``compact_workload``), the columns that only name something (job class, kind, user, project:
  indices into tuples of names, never counted with) take the narrowest integer type that holds them. The
  columns readers count with (circuits, shots, depth, sweep points, qubits, priority: ``circuits * shots``,
  ``-priority``, ``priority * step``) keep int64, where such arithmetic cannot overflow as it could in a narrow
  type.

Readers see the same records: ``closed()``, ``table()`` and ``holdings_tables()`` give the same rows in the same
order with the same values and dtypes. Because a compacted pool's holdings are read from the job times, the
times become read-only: a record that could still be edited in place would let one of the two records change
under the other. A deep copy (``copy.deepcopy``, what a test does before it corrupts records) is a writable,
uncompacted copy with its own holdings.
"""

from __future__ import annotations

import contextlib
from array import array
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.model.records import Holdings, HoldingsTable, JobRecords, Outcome
from sim.model.status import STAGE_STARTS
from sim.model.workload import Workload

_NARROW = (np.int8, np.int16, np.int32)


def narrowest(values: npt.NDArray[Any]) -> npt.NDArray[np.integer[Any]]:
    """``values`` (integers, or floats that hold integers) in the narrowest signed integer type that holds every
    one of them exactly."""
    values = np.asarray(values)
    if values.size == 0:
        return values.astype(np.int8)
    low, high = int(values.min()), int(values.max())
    for dtype in _NARROW:
        info = np.iinfo(dtype)
        if info.min <= low and high <= info.max:
            return values.astype(dtype)
    return values.astype(np.int64)


def _same_bits(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Element-wise identity of two float64 arrays (NaN is NaN, -0.0 is not 0.0): what "exactly" means here."""
    same: npt.NDArray[np.bool_] = a.view(np.int64) == b.view(np.int64)
    return same


class CompactHoldings(Holdings):
    """The holdings of one pool after its run, stored compactly (see the module docstring); read-only.

    ``statuses`` are the codes of the pool's STARTED and ENDED statuses (None: no holding is read from the job
    times). Open holdings stay as they were (``holder_of``, ``since``): one entry a server."""

    def __init__(self, ledger: npt.NDArray[np.float64], holder_of: list[int], since: list[float],
                 times: npt.NDArray[np.float64], statuses: tuple[int, int] | None) -> None:
        """``ledger``: the ended holdings as ``Holdings.rows`` holds them, one row of five floats a holding."""
        server, holder, start, end, outcome = ledger.T  # views: the ledger is not copied whole
        self.holder_of = holder_of
        self.since = since
        self._times = times
        self._statuses = statuses
        self._server = narrowest(server)
        derived = self._derivable(ledger, times, statuses)
        exceptions = np.flatnonzero(~derived)
        self._exceptions = narrowest(exceptions)
        """Rows kept whole, in row order; each of the others is a job's DONE holding read from its times."""
        self._exception_holder = narrowest(holder[exceptions])
        self._exception_start = start[exceptions]
        self._exception_end = end[exceptions]
        self._exception_outcome = outcome[exceptions].astype(np.int8)
        # The jobs of the derived rows, in the order they ended, are nearly consecutive (a pool serves in about
        # the order jobs arrive): each as the step from the one before takes a byte where the id takes four.
        jobs = holder[derived].astype(np.int64)
        steps = narrowest(np.diff(jobs, prepend=0))
        plain = narrowest(jobs)
        self._steps = steps.itemsize < plain.itemsize
        self._jobs = steps if self._steps else plain
        """The derived rows' holders (as steps from the previous one if ``_steps``)."""

    @classmethod
    def of(cls, holdings: Holdings, times: npt.NDArray[np.float64],
           statuses: tuple[int, int] | None) -> CompactHoldings:
        """``holdings`` (an ordinary, finished record) stored compactly."""
        ledger = np.frombuffer(holdings.rows, dtype=np.float64).reshape(-1, len(Holdings.COLUMNS))
        return cls(ledger, list(holdings.holder_of), list(holdings.since), times, statuses)

    @staticmethod
    def _derivable(ledger: npt.NDArray[np.float64], times: npt.NDArray[np.float64],
                   statuses: tuple[int, int] | None) -> npt.NDArray[np.bool_]:
        """The rows that are a job's DONE holding at exactly its stage's STARTED and ENDED times."""
        _, holder, start, end, outcome = ledger.T
        derived: npt.NDArray[np.bool_] = (outcome == Outcome.DONE) & (holder >= 0) & (holder < len(times))
        if statuses is None or not derived.any():
            return np.zeros(len(ledger), dtype=bool)
        rows = np.flatnonzero(derived)
        jobs = holder[rows].astype(np.int64)
        started, ended = statuses
        derived[rows] = _same_bits(start[rows], times[jobs, started]) & _same_bits(end[rows], times[jobs, ended])
        return derived

    @property
    def rows(self) -> array[float]:  # type: ignore[override]
        raise TypeError("the holdings of a finished, compacted run are read-only (no pool writes them any more)")

    @property
    def exceptions(self) -> int:
        """How many rows are stored whole rather than read from the job times."""
        return len(self._exceptions)

    def __len__(self) -> int:
        return len(self._server)

    def closed(self, first: int = 0, stop: int | None = None) -> HoldingsTable:
        lo, hi, _ = slice(first, stop).indices(len(self))
        hi = max(lo, hi)
        n = hi - lo
        server = self._server[lo:hi].astype(np.int64)
        exceptions = self._exceptions.astype(np.int64)
        i, j = np.searchsorted(exceptions, (lo, hi))
        kept = exceptions[i:j] - lo  # the slice's rows kept whole
        holder = np.empty(n, dtype=np.int64)
        derived = np.ones(n, dtype=bool)
        derived[kept] = False
        before = lo - int(i)  # derived rows ahead of the slice
        jobs = np.cumsum(self._jobs[:before + n - len(kept)], dtype=np.int64) if self._steps else self._jobs
        holder[derived] = jobs[before:before + n - len(kept)]
        holder[kept] = self._exception_holder[i:j]
        if self._statuses is not None and len(self._times) and n:
            started, ended = self._statuses
            rows = np.clip(holder, 0, len(self._times) - 1)  # the kept rows' own values replace what this reads
            start, end = self._times[rows, started], self._times[rows, ended]
        else:
            start, end = np.empty(n), np.empty(n)
        outcome = np.full(n, Outcome.DONE, dtype=np.int64)
        start[kept] = self._exception_start[i:j]
        end[kept] = self._exception_end[i:j]
        outcome[kept] = self._exception_outcome[i:j]
        return HoldingsTable(server, holder, start, end, outcome)

    def expanded(self) -> Holdings:
        """The same holdings as an ordinary, writable record of its own."""
        table = self.closed()
        plain = Holdings()
        ledger = np.column_stack([getattr(table, name).astype(np.float64) for name in Holdings.COLUMNS])
        plain.rows.frombytes(np.ascontiguousarray(ledger).tobytes())
        plain.holder_of = list(self.holder_of)
        plain.since = list(self.since)
        return plain

    def __deepcopy__(self, memo: dict[int, Any]) -> Holdings:
        # A copy is made to be changed: it must not read its rows from times that its owner may then edit.
        plain = self.expanded()
        memo[id(self)] = plain
        return plain

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._times.flags.writeable = False  # an unpickled array is writable again; the same rule holds


class StatusCodes(array):  # type: ignore[type-arg]
    """Each job's current status code, one signed byte a job: indexed, iterated and compared (also with a list)
    like the list it replaces, and read by numpy without a copy."""

    def __new__(cls, codes: Any = ()) -> StatusCodes:
        codes_: StatusCodes = super().__new__(cls, "b", codes)
        return codes_

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return array.__eq__(self, other)  # NotImplemented (from a numpy array) lets numpy compare

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    def __copy__(self) -> StatusCodes:
        return StatusCodes(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> StatusCodes:
        return StatusCodes(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return StatusCodes, (self.tobytes(),)


def _release(holdings: Holdings) -> None:
    """Empty the ledger that ``holdings`` (now replaced in the records) still holds for the pool that wrote it, so
    that its memory goes as each pool is compacted rather than when the station goes."""
    with contextlib.suppress(BufferError):  # someone still holds a view of it: it goes with them
        del holdings.rows[:]


def compact_records(records: JobRecords) -> None:
    """Store the records of a run that has ended compactly, in place (see the module docstring). Only for a run
    that has ended: each pool's ledger is emptied as it is compacted (its rows move to the records' new holdings),
    and nothing may write the records afterwards. Compacting twice changes nothing."""
    records.times.flags.writeable = False
    records.times = records.times  # the records' views of the times (if any) are made again, read-only
    times = records.times
    times.flags.writeable = False  # (again, should the records have stored them anew)
    for name, holdings in list(records.holdings.items()):
        if isinstance(holdings, CompactHoldings):
            continue
        start = STAGE_STARTS.get(name)
        statuses = None if start is None else (start.code, start.code + 1)
        records.holdings[name] = CompactHoldings.of(holdings, times, statuses)
        _release(holdings)
    if not isinstance(records.status, StatusCodes):
        records.status = StatusCodes(records.status)  # type: ignore[assignment]
    records.instrument = narrowest(records.instrument)  # type: ignore[assignment]
    records.calibration_set = narrowest(records.calibration_set)  # type: ignore[assignment]


NAMING_COLUMNS = ("job_class", "kind", "user", "project")
"""The workload's columns that index tuples of names; nothing counts with them."""


def compact_workload(workload: Workload) -> Workload:
    """The same workload with its naming columns in the narrowest integer type that holds them."""
    narrowed: dict[str, Any] = {name: narrowest(getattr(workload, name)) for name in NAMING_COLUMNS}
    return replace(workload, **narrowed)
