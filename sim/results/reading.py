"""Reading the results database back: runs as ``RunResult`` objects, read-only and from one snapshot.

``open_readonly(path)`` opens a database without any right to change it (``mode=ro``), so that reading never
creates a file, never takes a write lock, and works from a read-only place once the run is finished (it is then
in rollback-journal mode). ``snapshot(connection)`` holds one read transaction, so that every query inside it sees
the same committed state even while a run is still writing: a report never mixes two moments of a live run.
``load_run`` reads inside one.

A run that did not finish (``complete = 0``) comes back with ``complete = False`` and ``written``, the jobs it
had committed; the others are neither received nor not received: they are not known.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.model.records import Event, InstrumentPeriod, JobRecords
from sim.model.status import N_STATUSES, NOT_RECEIVED, STATUSES
from sim.model.workload import Workload
from sim.results.run import RunResult
from sim.results.stored_holdings import read_holdings
from sim.scenario.scenario import JOB_KINDS, Scenario

if TYPE_CHECKING:
    import pandas as pd

TIME_COLUMNS = tuple(f"t_{status.value}" for status in STATUSES)
"""One column per status in ``jobs``: when the job reached it (NULL if it never did)."""
SQLITE_HEADER = b"SQLite format 3\x00"


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` is an SQLite database file (an empty file counts: SQLite makes it one)."""
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except OSError:
        return False
    return head in (b"", SQLITE_HEADER)


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a database for reading only (raises ``sqlite3.Error`` if it cannot be opened)."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)


@contextlib.contextmanager
def snapshot(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One read transaction around every query inside (unless the connection is in one already)."""
    if connection.in_transaction:
        yield connection
        return
    connection.execute("BEGIN")
    try:
        yield connection
    finally:
        connection.rollback()


def run_ids(connection: sqlite3.Connection) -> list[int]:
    return [row[0] for row in connection.execute("SELECT run_id FROM runs ORDER BY run_id")]


def run_info(connection: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """The run's row of the ``runs`` table as a dict, with ``jobs_written``: its rows in ``jobs``."""
    cursor = connection.execute("SELECT *, (SELECT COUNT(*) FROM jobs WHERE jobs.run_id = runs.run_id) "
                                "AS jobs_written FROM runs WHERE run_id = ?", (run_id,))
    row = cursor.fetchone()
    if row is None:
        raise KeyError(f"no run {run_id} in the results database")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _codes(values: pd.Series, names: Sequence[str]) -> tuple[npt.NDArray[np.int64], tuple[str, ...]]:
    """Each value's index among ``names`` followed by any other values met (in order of appearance)."""
    known = tuple(dict.fromkeys([*names, *values.dropna().astype(str)]))
    index = {name: i for i, name in enumerate(known)}
    return np.array([index[str(v)] for v in values], dtype=np.int64), known


def _workload(jobs: pd.DataFrame, ids: npt.NDArray[np.int64], n: int, scenario: Scenario) -> Workload:
    """The workload columns of the stored jobs (a job without a row has zeros and no submission time)."""
    def column(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        full = np.zeros(n, dtype=np.int64)
        full[ids] = values
        return full

    class_codes, class_names = _codes(jobs["job_class"], [c.name for c in scenario.workload])
    user_codes, users = _codes(jobs["user"], [u for c in scenario.workload for u in c.users])
    project_codes, projects = _codes(jobs["project"], ())
    submitted = np.full(n, np.nan)
    submitted[ids] = jobs["submitted_at"].to_numpy(dtype=np.float64)
    timeslot = np.zeros(n, dtype=bool)
    timeslot[ids] = jobs["use_timeslot"].fillna(0).to_numpy(dtype=bool)
    return Workload(
        submitted_at=submitted, job_class=column(class_codes), class_names=class_names, users=users,
        kind=column([JOB_KINDS.index(k) for k in jobs["job_type"]]), user=column(user_codes),
        **{name: column(jobs[name].to_numpy(dtype=np.int64)) for name in (
            "circuits", "shots", "depth", "sweep_points", "priority", "qubits")},
        duration_over_t2=np.full(n, np.nan), project=column(project_codes), projects=projects or ("default",),
        use_timeslot=timeslot)


def _records(connection: sqlite3.Connection, run_id: int, jobs: pd.DataFrame, n: int) -> JobRecords:
    ids = jobs["job_id"].to_numpy(dtype=np.int64)
    records = JobRecords(n)
    times = jobs[list(TIME_COLUMNS)].to_numpy(dtype=np.float64, na_value=np.nan)
    records.times[ids] = times
    reached = ~np.isnan(times)
    last = np.where(reached.any(axis=1), N_STATUSES - 1 - np.argmax(reached[:, ::-1], axis=1), NOT_RECEIVED)
    for job_id, code in zip(ids.tolist(), last.tolist(), strict=True):
        records.status[job_id] = code
    records.instrument[ids] = jobs["instrument"].fillna(-1).to_numpy(dtype=np.int64)
    records.calibration_set[ids] = jobs["calibration_set_id"].fillna(-1).to_numpy(dtype=np.int64)
    records.execution_progress[ids] = jobs["execution_progress"].to_numpy(dtype=np.float64, na_value=np.nan)
    failed = jobs[jobs["failed_stage"].notna()]
    for job_id, stage, message, log in zip(failed["job_id"].tolist(), failed["failed_stage"].tolist(),
                                           failed["user_error_message"].tolist(), failed["full_error_log"].tolist(),
                                           strict=True):
        records.failed_stage[job_id] = stage
        records.user_error_message[job_id] = message
        records.full_error_log[job_id] = log
    records.events.extend(Event(t, kind, job_id, detail) for t, kind, job_id, detail in connection.execute(
        "SELECT t, kind, job_id, detail FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)))
    records.instrument_periods.extend(InstrumentPeriod(*row) for row in connection.execute(
        "SELECT instrument, kind, start, end FROM instrument_periods WHERE run_id = ? ORDER BY rowid", (run_id,)))
    read_holdings(connection, run_id, records)
    return records


def load_run(connection: sqlite3.Connection, run_id: int) -> RunResult:
    """Read a stored run back as a ``RunResult`` (for reports, invariant checks and notebooks), from one snapshot.

    A run that did not finish (``complete = 0``) has rows only for the jobs it had written: the result says
    ``complete = False``, ``written`` marks those jobs, and the others have no records and no workload figures.
    """
    import pandas as pd

    with snapshot(connection):
        info = run_info(connection, run_id)
        raw = json.loads(info["scenario_json"])
        source, name = raw.pop("source", "<database>"), raw.pop("name", info["scenario_name"])
        scenario = Scenario.from_dict(raw, source=source, name=name)
        n = int(info["jobs"])
        jobs = pd.read_sql_query("SELECT * FROM jobs WHERE run_id = ? ORDER BY job_id", connection,
                                 params=(run_id,))
        records = _records(connection, run_id, jobs, n)
    records.lost_work = info.get("lost_work") or 0.0
    ids = jobs["job_id"].to_numpy(dtype=np.int64)
    workload = _workload(jobs, ids, n, scenario)
    complete = bool(info["complete"])
    written = None
    if not complete:
        written = np.zeros(n, dtype=bool)
        written[ids] = True
    sim_time = info["sim_time"] if info["sim_time"] is not None else float(np.nanmax(records.times, initial=0.0))
    wall = info["wall_seconds"] if info["wall_seconds"] is not None else float("nan")
    return RunResult(scenario=scenario, seed=int(info["seed"]), workload=workload, records=records,
                     sim_time=sim_time, wall_seconds=wall, run_id=run_id, complete=complete, written=written)
