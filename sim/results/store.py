"""The results database: runs, jobs, status transitions and station events in SQLite.

The schema is a contract that notebooks and users' scripts rely on: columns, tables and views may be added, none
renamed. Times are simulated seconds from the start of the run, as REAL; statuses are the lower-case values
(``received``); NULL means "none" (never reached, no instrument, no calibration set, no error)::

    runs(run_id, scenario_name, scenario_json, seed, jobs, started_at, finished_at, complete, sim_time,
         wall_seconds, version, lost_work)
    jobs(run_id, job_id, job_class, job_type, circuits, shots, depth, sweep_points, user, priority,
         submitted_at, final_status, instrument, failed_stage, user_error_message, full_error_log,
         interrupted, execution_progress, qubits, calibration_set_id, project, use_timeslot,
         t_received, ..., t_aborted)
    transitions(run_id, job_id, status, t, status_rank)     a view: one row per status each job reached
    job_stages(run_id, job_id, stage, queued_at, started_at, ended_at, wait, service, outcome)
                                                            a view: one row per job and stage it entered
    statuses(status, status_rank, stage)                    the lifecycle, in order
    stages(stage, stage_rank, queued_status, started_status, ended_status)
                                                            which statuses bound each stage's wait and service
    events(run_id, t, kind, job_id, detail)
    instrument_periods(run_id, instrument, kind, start, end)   time an instrument spent on other than user jobs
    measurements(run_id, job_id, circuit, bitstring, count)   synthetic counts, when the scenario asks for them

- ``runs.complete`` is 0 until every row of the run is committed; ``runs.jobs`` is the jobs the run was to
  submit, so a run with ``complete = 0`` holds ``COUNT(*)`` of them in ``jobs``. ``sim_time``, ``wall_seconds``,
  ``finished_at`` and ``lost_work`` (service seconds discarded by restarts) are NULL until then.
  ``started_at`` and ``finished_at`` are UTC times in ISO 8601; ``scenario_json`` is the validated scenario
  (``Scenario.from_dict`` reads it back); ``version`` is stationsim's.
- ``jobs.job_type`` is ``circuit`` or ``pulse``; ``use_timeslot`` is 0 or 1; ``final_status`` is the status
  the job was in when the run ended (NULL: submitted but never received, for example after the horizon);
  ``failed_stage`` the stage it failed in: a stage of ``stages``, ``receive`` (waiting for validation),
  ``queue`` (waiting in PENDING_EXECUTION for an instrument, for example cleaned up by a restart) or NULL;
  ``interrupted`` is 1 for an aborted job; ``instrument`` and ``calibration_set_id`` are NULL when the job
  never had one; ``execution_progress`` is the share of its execution an aborted job had done (NULL
  otherwise); ``t_<status>`` is when the job reached each status (NULL if it never did).
- ``transitions`` has no order of its own (no view has): ``ORDER BY job_id, status_rank`` is each job's
  timeline in order.
- ``job_stages``: ``queued_at`` is when the job became ready for the stage (the status before its start),
  ``started_at`` and ``ended_at`` its start and end; ``wait = started_at - queued_at`` and ``service =
  ended_at - started_at`` (NULL when not reached). ``outcome`` is ``done`` (the stage ended), ``failed`` or
  ``aborted`` (the job ended in this stage, waiting or served), or ``in_progress`` (the run ended with the
  job in it).
- ``events.kind``: ``abort``, ``abort_ignored``, ``abort_before_receipt``, ``restart_begin``, ``restart``,
  ``calibration_start``, ``calibration_end``, ``calibration_set``, ``recalibration_requested``,
  ``expired_set``, ``recompile``, ``outage_start``, ``outage_end``, ``execution_timeout``; ``job_id`` is NULL
  for station-wide events. ``instrument_periods.kind``: ``calibration``, ``outage``, ``reset``,
  ``timed_out``, ``stopping``.

pandas gives an all-NULL column the object dtype; ask for floats with ``pd.read_sql(query, db,
dtype={"t_failed": float})`` (or ``.astype(float)``).

Each job's status times are stored in its ``jobs`` row, one column per status, and ``transitions`` and
``job_stages`` are views over them. One row per job instead of sixteen makes the database five times smaller
and its writing several times faster; a job cannot hold a status twice.

A run's row is written first with ``complete = 0`` and set to 1 only after every row of the run is committed,
so a database left by a run that died says so. Rows go in large batches, one transaction each, in WAL mode,
while the run goes on (``RunWriter``, through the writer process of ``sim.results.writer``): a job's rows are
written once it has settled. A finished run leaves the database in rollback-journal mode, one file that can be
read from a read-only place. Reading is in ``sim.results.reading``.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.model.records import JobRecords
from sim.model.status import STAGE_OF_STATUS, STAGE_STARTS, STATUSES
from sim.model.workload import Workload
from sim.results.reading import TIME_COLUMNS, load_run, run_ids, run_info, snapshot
from sim.results.run import RunResult, job_columns
from sim.results.stored_holdings import SCHEMA as HOLDINGS_SCHEMA
from sim.results.stored_holdings import HoldingsCursor, HoldingsSlice, insert_holdings
from sim.results.writer import Writer, WriterError
from sim.scenario.scenario import Scenario

__all__ = ["BATCH_JOBS", "SEED_RANGE", "Batch", "RunWriter", "WriterError", "connect", "load_run", "run_ids",
           "run_info", "snapshot", "write_run"]

BATCH_JOBS = 20_000
"""Jobs per transaction (each job brings up to 16 transition rows)."""
SEED_RANGE = range(0, 2**63)
"""Seeds a database can hold: SQLite's INTEGER is signed 64-bit."""
JOB_COLUMNS = ("job_id", "job_class", "job_type", "circuits", "shots", "depth", "sweep_points", "user",
               "priority", "submitted_at", "final_status", "instrument", "failed_stage", "user_error_message",
               "full_error_log", "interrupted", "execution_progress", "qubits", "calibration_set_id", "project",
               "use_timeslot")
NONE_IS_NEGATIVE = ("instrument", "calibration_set_id")
"""Columns whose in-memory arrays say "none" with -1; the database says NULL."""
JOB_INSERT = (f"INSERT INTO jobs ({', '.join(('run_id', *JOB_COLUMNS, *TIME_COLUMNS))}) "
              f"VALUES ({', '.join('?' * (1 + len(JOB_COLUMNS) + len(TIME_COLUMNS)))})")
TRANSITIONS_VIEW = "CREATE VIEW IF NOT EXISTS transitions (run_id, job_id, status, t, status_rank) AS\n" + \
    "\nUNION ALL\n".join(f"SELECT run_id, job_id, '{status.value}', t_{status.value}, {status.code} FROM jobs "
                        f"WHERE t_{status.value} IS NOT NULL" for status in STATUSES) + ";"
STAGES = tuple((stage, STATUSES[start.code - 1].value, start.value, STATUSES[start.code + 1].value)
               for stage, start in STAGE_STARTS.items())
"""Each stage with the statuses that bound it: (stage, queued, started, ended)."""


def _stage_select(stage: str, queued: str, started: str, ended: str) -> str:
    q, s, e = (f"CAST(t_{status} AS REAL)" for status in (queued, started, ended))
    return (f"SELECT run_id, job_id, '{stage}', {q}, {s}, {e}, {s} - {q}, {e} - {s}, "
            f"CASE WHEN t_{ended} IS NOT NULL THEN 'done' WHEN t_failed IS NOT NULL THEN 'failed' "
            f"WHEN t_aborted IS NOT NULL THEN 'aborted' ELSE 'in_progress' END FROM jobs WHERE t_{queued} IS NOT NULL")


JOB_STAGES_VIEW = ("CREATE VIEW IF NOT EXISTS job_stages (run_id, job_id, stage, queued_at, started_at, ended_at, "
                   "wait, service, outcome) AS\n" + "\nUNION ALL\n".join(_stage_select(*row) for row in STAGES) + ";")
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
{JOB_STAGES_VIEW}
CREATE TABLE IF NOT EXISTS statuses (status TEXT PRIMARY KEY, status_rank INTEGER NOT NULL, stage TEXT NOT NULL);
INSERT OR IGNORE INTO statuses VALUES {", ".join(f"('{s.value}', {s.code}, '{STAGE_OF_STATUS[s.code]}')"
                                                 for s in STATUSES)};
CREATE TABLE IF NOT EXISTS stages (
    stage TEXT PRIMARY KEY, stage_rank INTEGER NOT NULL, queued_status TEXT NOT NULL, started_status TEXT NOT NULL,
    ended_status TEXT NOT NULL
);
INSERT OR IGNORE INTO stages VALUES {", ".join(f"('{stage}', {rank}, '{q}', '{s}', '{e}')"
                                               for rank, (stage, q, s, e) in enumerate(STAGES))};
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
{HOLDINGS_SCHEMA}"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if need be) a results database for writing, in WAL mode with the schema in place."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
    except sqlite3.Error:
        connection.close()
        raise
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
    holdings: HoldingsSlice = field(default_factory=lambda: HoldingsSlice({}))
    """The pools' holdings closed since the previous batch (and, in the last, those still open)."""


def insert_batch(connection: sqlite3.Connection, batch: Batch) -> None:
    """The statements of one batch (the caller commits them as one transaction)."""
    run_id, ids = batch.run_id, batch.job_ids.tolist()
    columns = job_columns(batch.workload, batch.records, np.arange(len(ids)))
    columns["job_id"] = batch.job_ids
    for name in NONE_IS_NEGATIVE:
        values = columns[name].astype(object)
        values[columns[name] < 0] = None
        columns[name] = values
    # NaN binds as NULL: a status never reached has no time
    rows = zip(itertools.repeat(run_id), *(columns[name].tolist() for name in JOB_COLUMNS),
               *batch.records.times.T.tolist(), strict=False)  # the run id repeats without end
    counts = ((run_id, ids[i], c, bits, n) for i, circuits in batch.records.measurements.items()
              for c, circuit in enumerate(circuits) for bits, n in circuit.items())
    connection.executemany(JOB_INSERT, rows)
    connection.executemany("INSERT INTO measurements VALUES (?, ?, ?, ?, ?)", counts)
    connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)", batch.events)
    connection.executemany("INSERT INTO instrument_periods VALUES (?, ?, ?, ?, ?)", batch.periods)
    insert_holdings(connection, run_id, batch.holdings)


def insert_run(connection: sqlite3.Connection, name: str, scenario_json: str, seed: int, jobs: int) -> int:
    """The statement inserting a run's row, not complete yet; returns its ``run_id``."""
    from sim import __version__

    cursor = connection.execute(
        "INSERT INTO runs (scenario_name, scenario_json, seed, jobs, started_at, complete, version) "
        "VALUES (?, ?, ?, ?, ?, 0, ?)", (name, scenario_json, seed, jobs, _now(), __version__))
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def mark_complete(connection: sqlite3.Connection, run_id: int, sim_time: float, wall_seconds: float,
                  lost_work: float) -> None:
    """The statement marking a run complete: every row of it is committed."""
    connection.execute(
        "UPDATE runs SET finished_at = ?, complete = 1, sim_time = ?, wall_seconds = ?, lost_work = ? "
        "WHERE run_id = ?", (_now(), sim_time, wall_seconds, lost_work, run_id))


def leave_wal(connection: sqlite3.Connection) -> None:
    """Fold the write-ahead log into the database and go back to a rollback journal, so that the file alone holds
    the runs and opens from a read-only place. A reader holding the database open keeps it in WAL mode; the
    next run's end tries again."""
    connection.commit()
    with contextlib.suppress(sqlite3.OperationalError):
        connection.execute("PRAGMA journal_mode=DELETE")


def check_seed(seed: int) -> None:
    if seed not in SEED_RANGE:
        raise ValueError(f"seed {seed}: a results database holds seeds from 0 to {SEED_RANGE[-1]}")


class RunWriter:
    """Writes one run into a results database while it runs.

    ``begin`` inserts the run's row with ``complete = 0``; ``write_jobs`` commits the rows of jobs that have
    settled (each job's row with its status times, and the station events so far), one transaction per batch;
    ``finish`` writes every job not yet written (those still in flight or never received) and only then marks
    the run complete. A run killed in between leaves a database whose committed rows are whole jobs and whose
    run says ``complete = 0``; ``abort`` stops the writer at once (a database this run created and left without
    a run is removed).

    The simulation only copies each batch's columns out of the records; the writer process turns them into rows
    and commits them (``sim.results.writer``), at most one batch behind.
    """

    def __init__(self, path: str | Path, scenario: Scenario, seed: int, workload: Workload,
                 records: JobRecords) -> None:
        check_seed(seed)
        self.path = str(path)
        self.scenario = scenario
        self.seed = seed
        self.workload = workload
        self.records = records
        self.run_id = -1
        self._created = not Path(path).exists()
        self._written = np.zeros(len(workload), dtype=bool)
        self._events_written = 0
        self._periods_written = 0
        self._holdings = HoldingsCursor(records)
        self._writer = Writer(self.path, connect)

    @property
    def pid(self) -> int | None:
        """The writer process's id, if the rows are written by one."""
        return self._writer.pid

    def begin(self) -> int:
        self._writer.call(insert_run, self.scenario.name, self.scenario.to_json(), self.seed, len(self.workload))
        self.run_id = int(self._writer.wait())
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
        self._writer.call(insert_batch, Batch(run_id, jobs, self.workload.take(jobs), self.records.take(jobs),
                                              events, periods, self._holdings.take()))

    def finish(self, sim_time: float, wall_seconds: float) -> None:
        """Write every remaining job, in batches, then mark the run complete."""
        remaining = np.flatnonzero(~self._written)
        for start in range(0, max(len(remaining), 1), BATCH_JOBS):
            self.write_jobs(remaining[start:start + BATCH_JOBS].tolist())
        self._writer.call(insert_holdings, self.run_id, self._holdings.take_open(sim_time))
        self._writer.call(mark_complete, self.run_id, sim_time, wall_seconds, self.records.lost_work)
        self._writer.call(leave_wal)
        self.close()

    def flush(self) -> None:
        """Wait until every batch handed over so far is committed."""
        self._writer.wait()

    def close(self) -> None:
        """Wait for the batches handed over so far, then stop the writer process (once)."""
        self._writer.close()

    def abort(self) -> None:
        """Stop the writer at once: a batch being committed finishes, one not yet handed over whole is dropped."""
        self._writer.abort()
        if self.run_id < 0 and self._created:
            _remove_database(Path(self.path))


def _remove_database(path: Path) -> None:
    """Remove a database file that holds no run, with its journal files."""
    with contextlib.suppress(OSError):
        if path.is_file():
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                if connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0]:
                    return
            except sqlite3.Error:
                pass
            finally:
                connection.close()
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(OSError):
            Path(f"{path}{suffix}").unlink()


def write_run(connection: sqlite3.Connection, result: RunResult) -> int:
    """Store a finished run through ``connection``; returns its ``run_id``."""
    check_seed(result.seed)
    with connection:
        run_id = insert_run(connection, result.scenario.name, result.scenario.to_json(), result.seed,
                            len(result.workload))
    records = result.records
    events = [(run_id, e.t, e.kind, e.job_id, e.detail) for e in records.events]
    periods = [(run_id, p.instrument, p.kind, p.start, p.end) for p in records.instrument_periods]
    everyone = np.arange(len(result.workload))
    for start in range(0, max(len(everyone), 1), BATCH_JOBS):
        jobs = everyone[start:start + BATCH_JOBS]
        with connection:
            insert_batch(connection, Batch(run_id, jobs, result.workload.take(jobs), records.take(jobs),
                                           events if start == 0 else [], periods if start == 0 else [],
                                           HoldingsSlice(result.holdings if start == 0 else {})))
    with connection:
        mark_complete(connection, run_id, result.sim_time, result.wall_seconds, records.lost_work)
    return run_id
