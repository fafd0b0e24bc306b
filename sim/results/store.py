"""The results database: runs, jobs, status transitions and station events in SQLite.

Schema (a contract that notebooks and users' scripts rely on; columns may be added, none renamed). Times are
simulated seconds from the start of the run; statuses are the lower-case values (``received``)::

    runs(run_id, scenario_name, scenario_json, seed, jobs, started_at, finished_at, complete, sim_time,
         wall_seconds, version, lost_work)
    jobs(run_id, job_id, job_class, job_type, circuits, shots, depth, sweep_points, user, priority,
         submitted_at, final_status, instrument, failed_stage, user_error_message, full_error_log,
         interrupted, execution_progress, qubits, calibration_set_id, project, use_timeslot,
         t_received, ..., t_aborted)
    transitions(run_id, job_id, status, t, status_rank)     a view: one row per status each job reached
    events(run_id, t, kind, job_id, detail)
    instrument_periods(run_id, instrument, kind, start, end)   time an instrument spent on other than user jobs
    measurements(run_id, job_id, circuit, bitstring, count)   synthetic counts, when the scenario asks for them

Each job's status times are stored in its ``jobs`` row, one column per status (``t_received`` ...), and
``transitions`` is a view that turns them into IQM's timeline entries, ``status_rank`` giving each status's
place in the lifecycle (``ORDER BY job_id, status_rank`` is a job's timeline in order). One row per job instead
of sixteen makes the database five times smaller and its writing several times faster; a job cannot hold a
status twice.

A run's row is written first with ``complete = 0`` and set to 1 only after every row of the run is committed,
so a database left by a run that died says so. Rows go in large batches, one transaction each, in WAL mode,
while the run goes on (``RunWriter``): a job's rows are written once it has settled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.model.records import Event, InstrumentPeriod, JobRecords
from sim.results.run import RunResult, job_columns
from sim.scenario.scenario import JOB_KINDS, Scenario
from sim.model.status import N_STATUSES, NOT_RECEIVED, STATUSES
from sim.model.workload import Workload

BATCH_JOBS = 20_000
"""Jobs per transaction (each job brings up to 16 transition rows)."""
TIME_COLUMNS = tuple(f"t_{status.value}" for status in STATUSES)
"""One column per status in ``jobs``: when the job reached it (NULL if it never did)."""
JOB_COLUMNS = ("job_id", "job_class", "job_type", "circuits", "shots", "depth", "sweep_points", "user",
               "priority", "submitted_at", "final_status", "instrument", "failed_stage", "user_error_message",
               "full_error_log", "interrupted", "execution_progress", "qubits", "calibration_set_id", "project",
               "use_timeslot")
JOB_INSERT = (f"INSERT INTO jobs ({', '.join(('run_id', *JOB_COLUMNS, *TIME_COLUMNS))}) "
              f"VALUES ({', '.join('?' * (1 + len(JOB_COLUMNS) + len(TIME_COLUMNS)))})")
TRANSITIONS_VIEW = "CREATE VIEW IF NOT EXISTS transitions (run_id, job_id, status, t, status_rank) AS\n" + \
    "\nUNION ALL\n".join(f"SELECT run_id, job_id, '{status.value}', t_{status.value}, {status.code} FROM jobs "
                        f"WHERE t_{status.value} IS NOT NULL" for status in STATUSES) + ";"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, scenario_name TEXT, scenario_json TEXT NOT NULL, seed INTEGER NOT NULL,
    jobs INTEGER, started_at TEXT NOT NULL, finished_at TEXT, complete INTEGER NOT NULL DEFAULT 0,
    sim_time REAL, wall_seconds REAL, version TEXT, lost_work REAL
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id INTEGER NOT NULL, job_id INTEGER NOT NULL, job_class TEXT, job_type TEXT, circuits INTEGER,
    shots INTEGER, depth INTEGER, sweep_points INTEGER, user TEXT, priority INTEGER, submitted_at REAL,
    final_status TEXT, instrument INTEGER, failed_stage TEXT, user_error_message TEXT, full_error_log TEXT,
    interrupted INTEGER, execution_progress REAL, qubits INTEGER, calibration_set_id INTEGER, project TEXT,
    use_timeslot INTEGER,
    {", ".join(f"{column} REAL" for column in TIME_COLUMNS)},
    PRIMARY KEY (run_id, job_id)
);
{TRANSITIONS_VIEW}
CREATE TABLE IF NOT EXISTS events (
    run_id INTEGER NOT NULL, t REAL NOT NULL, kind TEXT NOT NULL, job_id INTEGER, detail TEXT
);
CREATE TABLE IF NOT EXISTS measurements (
    run_id INTEGER NOT NULL, job_id INTEGER NOT NULL, circuit INTEGER NOT NULL, bitstring TEXT NOT NULL,
    count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS instrument_periods (
    run_id INTEGER NOT NULL, instrument INTEGER NOT NULL, kind TEXT NOT NULL, start REAL NOT NULL, end REAL NOT NULL
);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if need be) a results database in WAL mode with the schema in place."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    return connection


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Batch:
    """Rows to commit together: whole jobs (their workload fields and records) and the station's events and
    instrument periods recorded since the previous batch."""

    run_id: int
    job_ids: npt.NDArray[np.int64]
    workload: Workload
    """The batch's jobs only, in ``job_ids`` order."""
    records: JobRecords
    """Likewise."""
    events: list[tuple[Any, ...]]
    periods: list[tuple[Any, ...]]


def commit(connection: sqlite3.Connection, batch: Batch) -> None:
    """Write one batch in one transaction."""
    run_id, ids = batch.run_id, batch.job_ids.tolist()
    columns = job_columns(batch.workload, batch.records, np.arange(len(ids)))
    columns["job_id"] = batch.job_ids
    # NaN binds as NULL: a status never reached has no time
    rows = zip(itertools.repeat(run_id), *(columns[name].tolist() for name in JOB_COLUMNS),
               *batch.records.times.T.tolist(), strict=False)  # the run id repeats without end
    counts = ((run_id, ids[i], c, bits, n) for i, circuits in batch.records.measurements.items()
              for c, circuit in enumerate(circuits) for bits, n in circuit.items())
    with connection:
        connection.executemany(JOB_INSERT, rows)
        connection.executemany("INSERT INTO measurements VALUES (?, ?, ?, ?, ?)", counts)
        connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", batch.events)
        connection.executemany("INSERT INTO instrument_periods VALUES (?, ?, ?, ?, ?)", batch.periods)


def begin(connection: sqlite3.Connection, name: str, scenario_json: str, seed: int, jobs: int) -> int:
    """Insert a run's row, not complete yet; returns its ``run_id``."""
    from sim import __version__

    with connection:
        cursor = connection.execute(
            "INSERT INTO runs (scenario_name, scenario_json, seed, jobs, started_at, complete, version) "
            "VALUES (?, ?, ?, ?, ?, 0, ?)", (name, scenario_json, seed, jobs, _now(), __version__))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def complete(connection: sqlite3.Connection, run_id: int, sim_time: float, wall_seconds: float,
             lost_work: float) -> None:
    """Mark a run complete: every row of it is committed."""
    with connection:
        connection.execute(
            "UPDATE runs SET finished_at = ?, complete = 1, sim_time = ?, wall_seconds = ?, lost_work = ? "
            "WHERE run_id = ?", (_now(), sim_time, wall_seconds, lost_work, run_id))


_WRITER_CONNECTIONS: dict[str, sqlite3.Connection] = {}
"""The writer process's connections, by database path."""


def _in_writer(path: str, work: Callable[..., Any], *args: Any) -> Any:
    """Run ``work(connection, *args)`` in the writer process, on its own connection to ``path``."""
    connection = _WRITER_CONNECTIONS.get(path)
    if connection is None:
        connection = _WRITER_CONNECTIONS[path] = connect(path)
    return work(connection, *args)


def _close_in_writer(path: str) -> None:
    """Close the writer's connection: the last connection to close folds the write-ahead log into the
    database file, so that the file alone holds the run."""
    connection = _WRITER_CONNECTIONS.pop(path, None)
    if connection is not None:
        connection.close()


class RunWriter:
    """Writes one run into a results database while it runs.

    ``begin`` inserts the run's row with ``complete = 0``; ``write_jobs`` commits the rows of jobs that have
    settled (each job's row with its status times, and the station events so far), one transaction per batch;
    ``finish`` writes every job not yet written (those still in flight or never received) and only then marks
    the run complete. A run killed in between leaves a database whose committed rows are whole jobs and whose
    run says ``complete = 0``.

    The simulation only copies each batch's columns out of the records; a writer process of its own (forked, so
    it starts at once) turns them into rows and commits them, on the other core: SQLite's per-row work in
    Python's driver holds the interpreter lock, so a thread would not overlap it. Batches are committed in
    order, at most one waiting behind the one being written. Where no process can be started (a daemonic
    worker) the batches are committed in this process.
    """

    def __init__(self, path: str | Path, scenario: Scenario, seed: int, workload: Workload,
                 records: JobRecords) -> None:
        self.path = str(path)
        self.scenario = scenario
        self.seed = seed
        self.workload = workload
        self.records = records
        self.run_id = -1
        self._written = np.zeros(len(workload), dtype=bool)
        self._events_written = 0
        self._periods_written = 0
        self._process: ProcessPoolExecutor | None = None
        if not multiprocessing.current_process().daemon and "fork" in multiprocessing.get_all_start_methods():
            self._process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        self._pending: Future[Any] | None = None

    def _call(self, work: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``work(connection, *args)`` in the writer once the batch before it is committed (its errors
        surface here)."""
        if self._pending is not None:
            self._pending.result()
        if self._process is None:
            done: Future[Any] = Future()
            done.set_result(_in_writer(self.path, work, *args))
            self._pending = done
        else:
            self._pending = self._process.submit(_in_writer, self.path, work, *args)
        return self._pending

    def begin(self) -> int:
        self.run_id = self._call(begin, self.scenario.name, self.scenario.to_json(), self.seed,
                                 len(self.workload)).result()
        return self.run_id

    def write_jobs(self, job_ids: Sequence[int]) -> None:
        """Commit the rows of ``job_ids`` and of the station events recorded since the last write."""
        jobs = np.asarray(job_ids, dtype=np.int64)
        run_id = self.run_id
        events = [(run_id, e.t, e.kind, e.job_id, e.detail) for e in self.records.events[self._events_written:]]
        periods = [(run_id, p.instrument, p.kind, p.start, p.end)
                   for p in self.records.instrument_periods[self._periods_written:]]
        self._written[jobs] = True
        self._events_written += len(events)
        self._periods_written += len(periods)
        self._call(commit, Batch(run_id, jobs, self.workload.take(jobs), self.records.take(jobs), events, periods))

    def finish(self, sim_time: float, wall_seconds: float) -> None:
        """Write every remaining job, in batches, then mark the run complete."""
        remaining = np.flatnonzero(~self._written)
        for start in range(0, max(len(remaining), 1), BATCH_JOBS):
            self.write_jobs(remaining[start:start + BATCH_JOBS].tolist())
        self._call(complete, self.run_id, sim_time, wall_seconds, self.records.lost_work)
        self.close()

    def flush(self) -> None:
        """Wait until every batch handed over so far is committed."""
        if self._pending is not None:
            self._pending.result()

    def close(self) -> None:
        """Wait for the batches handed over so far, then stop the writer process (once)."""
        try:
            self.flush()
        finally:
            process, self._process = self._process, None  # closing twice does nothing more
            if process is not None:
                with contextlib.suppress(BrokenExecutor):
                    process.submit(_close_in_writer, self.path).result()
                process.shutdown(wait=True)
            _close_in_writer(self.path)


def write_run(connection: sqlite3.Connection, result: RunResult) -> int:
    """Store a finished run through ``connection``; returns its ``run_id``."""
    run_id = begin(connection, result.scenario.name, result.scenario.to_json(), result.seed, len(result.workload))
    records = result.records
    events = [(run_id, e.t, e.kind, e.job_id, e.detail) for e in records.events]
    periods = [(run_id, p.instrument, p.kind, p.start, p.end) for p in records.instrument_periods]
    everyone = np.arange(len(result.workload))
    for start in range(0, max(len(everyone), 1), BATCH_JOBS):
        jobs = everyone[start:start + BATCH_JOBS]
        commit(connection, Batch(run_id, jobs, result.workload.take(jobs), records.take(jobs),
                                 events if start == 0 else [], periods if start == 0 else []))
    complete(connection, run_id, result.sim_time, result.wall_seconds, records.lost_work)
    return run_id


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


def run_ids(connection: sqlite3.Connection) -> list[int]:
    return [row[0] for row in connection.execute("SELECT run_id FROM runs ORDER BY run_id")]


def run_info(connection: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """The run's row of the ``runs`` table as a dict."""
    cursor = connection.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,))
    row = cursor.fetchone()
    if row is None:
        raise KeyError(f"no run {run_id} in the results database")
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def load_run(connection: sqlite3.Connection, run_id: int) -> RunResult:
    """Read a stored run back as a ``RunResult`` (for reports, invariant checks and notebooks).

    A run that did not finish (``complete = 0``) has rows only for the jobs it had written; the others come back
    as never received, with no workload figures.
    """
    info = run_info(connection, run_id)
    raw = json.loads(info["scenario_json"])
    source, name = raw.pop("source", "<database>"), raw.pop("name", info["scenario_name"])
    scenario = Scenario.from_dict(raw, source=source, name=name)
    n = int(info["jobs"])
    jobs = pd.read_sql_query("SELECT * FROM jobs WHERE run_id = ? ORDER BY job_id", connection, params=(run_id,))
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
    records.lost_work = info.get("lost_work") or 0.0
    workload = _workload(jobs, ids, n, scenario)
    sim_time = info["sim_time"] if info["sim_time"] is not None else float(np.nanmax(records.times, initial=0.0))
    return RunResult(scenario=scenario, seed=int(info["seed"]), workload=workload, records=records,
                     sim_time=sim_time, wall_seconds=info["wall_seconds"] or float("nan"), run_id=run_id)
