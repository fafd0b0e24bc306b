"""The invariant checker: what must hold of every job's records, whatever happened during the run.

Station Control persists each job's timeline: the statuses it reached and when. However jobs were aborted,
failed or cleaned up on a restart, a correct run leaves timelines that obey the lifecycle, and this module
checks them, for a run in memory (a ``RunResult``) or in a results database (a path or connection and a
``run_id``). It reports every violation, each with the job it concerns; ``assert_invariants`` raises an
``AssertionError`` that lists them, for pytest suites.

Both sources are first read into one columnar ``History`` (the transitions in recorded order, and per job its
final status and instrument), so both are judged by the same code. The checks, by violation ``kind``:

``unknown_status``
    a database transition whose status names no status (the row is then left out of the other checks).
``status_order``
    along a job's timeline, in the order recorded, a status that does not come after the one before it (a
    repeat or a step back). Both the job records and the results database keep one time per status (the
    database's ``transitions`` view lists them in lifecycle order), so this holds by construction there and
    a status stamped earlier than a lower status is a ``time_order`` violation; a ``History`` built by other
    means (a user's own timeline) can break it.
``time_order``
    a status recorded at an earlier time than the status recorded before it.
``after_terminal``
    anything recorded after READY, FAILED or ABORTED, including a second terminal status.
``skipped_status``
    a status on the happy path reached without the one before it (RECEIVED has none), or FAILED or ABORTED
    reached without any non-terminal status before: every move is one step along the happy path, or from a
    non-terminal status to FAILED or ABORTED.
``aborted_ready``
    a job that was aborted and also reached READY.
``final_status``
    a job's final status (``jobs.final_status``, or the current status in memory) that is not the status of
    its last transition, or that names no status.
``unaccounted`` and ``count``
    nothing is lost: every received job ends in exactly one terminal status or is still in flight, so
    received = ready + failed + aborted + in flight. Received counts the jobs whose timeline holds RECEIVED;
    the others count final statuses. ``unaccounted`` names each job whose timeline and final status disagree
    on whether it was received at all (transitions but no final status, or a final status but no
    transitions); ``count`` (with no job id) reports the totals when the balance fails. A database run that did
    not complete (``runs.complete = 0``) holds only the jobs it committed, each whole (its ``jobs`` row with
    all its transitions, in one transaction), and the census holds over them.
``no_instrument``
    a job that started executing with no instrument recorded (for a job the source lists).
``overlap``
    two executions on one instrument at once. A job holds its instrument from EXECUTION_STARTED to its first
    later status (EXECUTION_ENDED, or FAILED or ABORTED if it ended while executing) or, if it is still
    executing, to the end of the run. The later-starting job is reported, naming the one it overlaps.

A ``RunResult`` and a database are also checked for the *accounting* invariants of ``sim.results.accounting``
(holdings, downtimes, lost work, utilisation); a ``History`` has no holdings, so only its timelines are checked.

Everything is vectorised over numpy columns: a million jobs in memory check in one to three seconds. From a
database, reading the rows dominates (about a microsecond per transition row, sqlite3's row fetching).
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from sim.model.status import ABORTED, FAILED, NOT_RECEIVED, READY, RECEIVED, STAGE_STARTS, STATUSES
from sim.results.accounting import ACCOUNTING_KINDS, check_accounting
from sim.results.reading import load_run, open_readonly, snapshot
from sim.results.run import RunResult
from sim.results.violation import Violation

Ints: TypeAlias = npt.NDArray[np.int64]
Floats: TypeAlias = npt.NDArray[np.float64]
Source: TypeAlias = "RunResult | History | sqlite3.Connection | str | os.PathLike[str]"

UNLISTED = -2
"""Final status of a job that has transitions but no row in the jobs table."""
UNKNOWN = -3
"""Code of a status text that names no status."""
EXECUTION_STARTED = STAGE_STARTS["execution"].code
N_CODES = len(STATUSES)

KINDS: tuple[str, ...] = ("unknown_status", "status_order", "time_order", "after_terminal", "skipped_status",
                          "aborted_ready", "final_status", "unaccounted", "count", "no_instrument", "overlap",
                          *ACCOUNTING_KINDS)
"""Every violation kind, in the order the checks report them (see the module docstring, and
``sim.results.accounting`` for the accounting kinds)."""


@dataclass(frozen=True)
class History:
    """A run's records in the columnar form the checks read, whichever source they came from.

    Per job (ascending ``job_ids``): its final status code (``NOT_RECEIVED`` if it has none, ``UNLISTED`` if
    the source does not list the job, ``UNKNOWN`` if it names no status) and its instrument (-1 if none). Per
    transition: the job's index into ``job_ids``, the status code (``UNKNOWN`` for text that names no status)
    and the time; grouped by job and, within a job, in recorded order.
    """

    job_ids: Ints
    final_status: Ints
    instrument: Ints
    job: Ints
    status: Ints
    t: Floats

    @classmethod
    def from_result(cls, result: RunResult) -> History:
        """A run in memory, its statuses taken in status order (each job keeps one time per status)."""
        times = result.times
        job, status = np.nonzero(~np.isnan(times))
        return cls(job_ids=np.arange(len(times), dtype=np.int64),
                   final_status=np.asarray(result.records.status, dtype=np.int64),
                   instrument=np.asarray(result.records.instrument, dtype=np.int64),
                   job=job.astype(np.int64, copy=False), status=status.astype(np.int64, copy=False),
                   t=times[job, status])

    @classmethod
    def from_database(cls, connection: sqlite3.Connection, run_id: int) -> History:
        """Run ``run_id`` of a results database, each job's transitions in lifecycle order."""
        if connection.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
            raise ValueError(f"no run with run_id {run_id} in the results database")
        jobs = np.fromiter(connection.execute(
            f"SELECT job_id, {_code_sql('final_status', NOT_RECEIVED)}, COALESCE(instrument, -1) FROM jobs "
            "WHERE run_id = ? ORDER BY job_id", (run_id,)), dtype=[("id", "i8"), ("final", "i8"), ("inst", "i8")])
        rows = np.fromiter(connection.execute(
            f"SELECT job_id, {_code_sql('status', UNKNOWN)}, t FROM transitions WHERE run_id = ? "
            "ORDER BY job_id, status_rank", (run_id,)), dtype=[("id", "i8"), ("status", "i8"), ("t", "f8")])
        first = _group_starts(rows["id"])
        job_ids = np.union1d(jobs["id"], rows["id"][first])
        final = np.full(len(job_ids), UNLISTED, dtype=np.int64)
        instrument = np.full(len(job_ids), -1, dtype=np.int64)
        listed = np.searchsorted(job_ids, jobs["id"])
        final[listed] = jobs["final"]
        instrument[listed] = jobs["inst"]
        job = np.searchsorted(job_ids, rows["id"][first])[np.cumsum(first) - 1]
        return cls(job_ids=job_ids, final_status=final, instrument=instrument, job=job.astype(np.int64, copy=False),
                   status=rows["status"].copy(), t=rows["t"].copy())


def _code_sql(column: str, null: int) -> str:
    """SQL giving the status code of a status-value column (``null`` for NULL, ``UNKNOWN`` for other text)."""
    cases = " ".join(f"WHEN '{status.value}' THEN {status.code}" for status in STATUSES)
    return f"CASE WHEN {column} IS NULL THEN {null} ELSE CASE {column} {cases} ELSE {UNKNOWN} END END"


def _group_starts(job: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Where each job's run of transitions begins (transitions grouped by job)."""
    starts = np.ones(len(job), dtype=bool)
    starts[1:] = job[1:] != job[:-1]
    return starts


def _name(code: int) -> str:
    if code == NOT_RECEIVED:
        return "none"
    if code == UNKNOWN:
        return "an unknown status"
    return STATUSES[code].value


# --- the checks -----------------------------------------------------------------------------------------------

def check(source: Source, run_id: int | None = None) -> list[Violation]:
    """Every invariant violation in a run: a ``RunResult``, a ``History``, or a results database.

    A database is a path or an open connection; ``run_id`` may be left out when it holds a single run.
    Violations come in the order of ``KINDS``, each kind by job id.
    """
    if isinstance(source, RunResult | History):
        if run_id is not None:
            raise ValueError("run_id applies only to a results database")
        if isinstance(source, History):
            return check_history(source)
        return check_history(History.from_result(source)) + check_accounting(source)
    if isinstance(source, sqlite3.Connection):
        with snapshot(source):  # one consistent state, even of a run still being written
            run = _only_run(source) if run_id is None else run_id
            return check_history(History.from_database(source, run)) + check_accounting(load_run(source, run))
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"no results database at {path}")
    connection = open_readonly(path)
    try:
        return check(connection, run_id)
    finally:
        connection.close()


def assert_invariants(source: Source, run_id: int | None = None, *, show: int = 20) -> None:
    """Raise an ``AssertionError`` listing the violations (the first ``show``, then a count by kind), if any."""
    violations = check(source, run_id)
    if not violations:
        return
    by_kind = Counter(v.kind for v in violations)
    lines = [f"{len(violations)} invariant violation(s) ("
             + ", ".join(f"{kind}: {n}" for kind, n in by_kind.items()) + "):"]
    lines += [f"  {v}" for v in violations[:show]]
    if len(violations) > show:
        lines.append(f"  ... and {len(violations) - show} more")
    raise AssertionError("\n".join(lines))


def _only_run(connection: sqlite3.Connection) -> int:
    runs = [row[0] for row in connection.execute("SELECT run_id FROM runs ORDER BY run_id")]
    if len(runs) != 1:
        raise ValueError(f"the results database holds {len(runs)} runs ({runs[:10]}); name one with run_id")
    run: int = runs[0]
    return run


def check_history(h: History) -> list[Violation]:
    """Every invariant violation in ``h`` (see the module docstring for each kind)."""
    out: list[Violation] = []
    ids = h.job_ids
    unknown = h.status == UNKNOWN
    for i in np.flatnonzero(unknown).tolist():
        out.append(Violation("unknown_status", int(ids[h.job[i]]), f"a transition at t={h.t[i]:g} names no status"))
    job, status, t = (h.job, h.status, h.t) if not unknown.any() else (h.job[~unknown], h.status[~unknown],
                                                                       h.t[~unknown])

    # Along each timeline: pairs of consecutive transitions of one job (index i: the later one).
    same = job[1:] == job[:-1]
    before, after = status[:-1], status[1:]
    after_terminal = same & (before >= READY)
    order = np.flatnonzero(same & ~after_terminal & (after <= before)) + 1
    out += [Violation("status_order", int(ids[job[i]]), f"{_name(status[i])} recorded after {_name(status[i - 1])}")
            for i in order.tolist()]
    backwards = np.flatnonzero(same & (t[1:] < t[:-1])) + 1
    out += [Violation("time_order", int(ids[job[i]]), f"{_name(status[i])} at t={t[i]:g} recorded after "
                      f"{_name(status[i - 1])} at t={t[i - 1]:g}") for i in backwards.tolist()]
    out += [Violation("after_terminal", int(ids[job[i]]), f"{_name(status[i])} recorded after terminal "
                      f"{_name(status[i - 1])}") for i in (np.flatnonzero(after_terminal) + 1).tolist()]

    # Which statuses each job reached.
    reached = np.zeros((len(ids), N_CODES), dtype=bool)
    reached[job, status] = True
    gap_job, gap = np.nonzero(reached[:, 1:READY + 1] & ~reached[:, :READY])
    skipped = [(int(ids[j]), f"reached {_name(k + 1)} without {_name(k)}")
               for j, k in zip(gap_job.tolist(), gap.tolist(), strict=True)]
    orphan = (reached[:, FAILED] | reached[:, ABORTED]) & ~reached[:, :READY].any(axis=1)
    skipped += [(int(ids[j]), f"reached {_name(FAILED if reached[j, FAILED] else ABORTED)} without any "
                 "non-terminal status") for j in np.flatnonzero(orphan).tolist()]
    out += [Violation("skipped_status", j, detail) for j, detail in sorted(skipped)]
    out += [Violation("aborted_ready", int(ids[j]), "aborted and also reached ready")
            for j in np.flatnonzero(reached[:, ABORTED] & reached[:, READY]).tolist()]

    out += _final_status(h, job, status)
    out += _executions(h, job, status, t)
    return out


def _final_status(h: History, job: Ints, status: Ints) -> list[Violation]:
    """Final statuses against timelines, and the census received = ready + failed + aborted + in flight."""
    ids, final = h.job_ids, h.final_status
    out: list[Violation] = []
    last = np.ones(len(job), dtype=bool)
    last[:-1] = job[1:] != job[:-1]
    last_status = np.full(len(ids), NOT_RECEIVED, dtype=np.int64)
    last_status[job[last]] = status[last]
    has_timeline = np.zeros(len(ids), dtype=bool)
    has_timeline[job] = True
    wrong = (final == UNKNOWN) | ((final >= 0) & has_timeline & (final != last_status))
    out += [Violation("final_status", int(ids[j]), f"final status is {_name(final[j])} but the last transition "
                      f"is {_name(last_status[j])}") for j in np.flatnonzero(wrong).tolist()]
    is_status = final >= 0
    lost = has_timeline & ~is_status & (final != UNKNOWN)
    empty = is_status & ~has_timeline
    for j in np.flatnonzero(lost | empty).tolist():
        detail = (f"final status {_name(final[j])} but no transitions" if empty[j] else
                  "transitions but not listed in the jobs" if final[j] == UNLISTED else
                  f"transitions up to {_name(last_status[j])} but no final status")
        out.append(Violation("unaccounted", int(ids[j]), detail))
    was_received = np.zeros(len(ids), dtype=bool)
    was_received[job[status == RECEIVED]] = True
    received = int(np.count_nonzero(was_received))
    ready, failed, aborted = (int(np.count_nonzero(final == code)) for code in (READY, FAILED, ABORTED))
    in_flight = int(np.count_nonzero(is_status & (final < READY)))
    if received != ready + failed + aborted + in_flight:
        out.append(Violation("count", None, f"received {received} != ready {ready} + failed {failed} + aborted "
                             f"{aborted} + in flight {in_flight} (= {ready + failed + aborted + in_flight})"))
    return out


def _executions(h: History, job: Ints, status: Ints, t: Floats) -> list[Violation]:
    """Executions need an instrument, and one instrument runs one job at a time."""
    ids = h.job_ids
    start = np.full(len(ids), np.nan)
    first = status == EXECUTION_STARTED
    start[job[first][::-1]] = t[first][::-1]  # the first EXECUTION_STARTED of a job counts
    executed = ~np.isnan(start)
    out = [Violation("no_instrument", int(ids[j]), f"started executing at t={start[j]:g} on no instrument")
           for j in np.flatnonzero(executed & (h.instrument < 0) & (h.final_status != UNLISTED)).tolist()]
    # A job holds its instrument until its first later status, or to the end of the run.
    end = np.full(len(ids), np.inf)
    later = status > EXECUTION_STARTED
    if later.any():
        later_job = job[later]
        starts = np.flatnonzero(_group_starts(later_job))
        end[later_job[starts]] = np.minimum.reduceat(t[later], starts)
    jobs = np.flatnonzero(executed & (h.instrument >= 0))
    jobs = jobs[np.lexsort((end[jobs], start[jobs], h.instrument[jobs]))]
    instrument = h.instrument[jobs]
    for group in np.split(jobs, np.flatnonzero(instrument[1:] != instrument[:-1]) + 1):
        if len(group) < 2:
            continue
        s, e = start[group], end[group]
        held = np.maximum.accumulate(e)  # the latest end so far, and which job holds it
        holder = np.maximum.accumulate(np.where(e == held, np.arange(len(group)), 0))
        for i in (np.flatnonzero(s[1:] < held[:-1]) + 1).tolist():
            j, k = group[i], group[holder[i - 1]]
            out.append(Violation("overlap", int(ids[j]), f"on instrument {h.instrument[j]} from t={s[i]:g} to "
                                 f"t={e[i]:g}, while job {ids[k]} held it from t={start[k]:g} to t={end[k]:g}"))
    out.sort(key=lambda v: (v.kind != "no_instrument", v.job_id))
    return out
