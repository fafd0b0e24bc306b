"""The results database: runs, jobs, status transitions and station events in SQLite.

Schema (a contract that notebooks and users' scripts rely on; columns may be added, none renamed). Times are
simulated seconds from the start of the run; statuses are the lower-case values (``received``)::

    runs(run_id, scenario_name, scenario_json, seed, jobs, started_at, finished_at, complete, sim_time,
         wall_seconds, version)
    jobs(run_id, job_id, job_class, job_type, circuits, shots, depth, sweep_points, user, priority,
         submitted_at, final_status, instrument, failed_stage, user_error_message, full_error_log)
    transitions(run_id, job_id, status, t)
    events(run_id, t, kind, job_id, detail)

A run's row is written first with ``complete = 0`` and set to 1 only after every row of the run is committed,
so a database left by a run that died says so. Rows go in large batches, one transaction each, in WAL mode.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sim.results import RunResult

BATCH_ROWS = 100_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, scenario_name TEXT, scenario_json TEXT NOT NULL, seed INTEGER NOT NULL,
    jobs INTEGER, started_at TEXT NOT NULL, finished_at TEXT, complete INTEGER NOT NULL DEFAULT 0,
    sim_time REAL, wall_seconds REAL, version TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id INTEGER NOT NULL, job_id INTEGER NOT NULL, job_class TEXT, job_type TEXT, circuits INTEGER,
    shots INTEGER, depth INTEGER, sweep_points INTEGER, user TEXT, priority INTEGER, submitted_at REAL,
    final_status TEXT, instrument INTEGER, failed_stage TEXT, user_error_message TEXT, full_error_log TEXT,
    PRIMARY KEY (run_id, job_id)
);
CREATE TABLE IF NOT EXISTS transitions (
    run_id INTEGER NOT NULL, job_id INTEGER NOT NULL, status TEXT NOT NULL, t REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS transitions_by_job ON transitions (run_id, job_id);
CREATE TABLE IF NOT EXISTS events (
    run_id INTEGER NOT NULL, t REAL NOT NULL, kind TEXT NOT NULL, job_id INTEGER, detail TEXT
);
"""
JOB_COLUMNS = ("job_id", "job_class", "job_type", "circuits", "shots", "depth", "sweep_points", "user",
               "priority", "submitted_at", "final_status", "instrument", "failed_stage", "user_error_message",
               "full_error_log")


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if need be) a results database in WAL mode with the schema in place."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.executescript(SCHEMA)
    return connection


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _batches(rows: Iterable[Sequence[Any]], size: int = BATCH_ROWS) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def _insert(connection: sqlite3.Connection, table: str, width: int, rows: Iterable[Sequence[Any]]) -> None:
    statement = f"INSERT INTO {table} VALUES ({', '.join('?' * width)})"
    for batch in _batches(rows):
        with connection:
            connection.executemany(statement, batch)


def write_run(connection: sqlite3.Connection, result: RunResult) -> int:
    """Store one run; returns its ``run_id``. The run is marked complete only once every row is committed."""
    from sim import __version__

    with connection:
        cursor = connection.execute(
            "INSERT INTO runs (scenario_name, scenario_json, seed, jobs, started_at, complete, version) "
            "VALUES (?, ?, ?, ?, ?, 0, ?)",
            (result.scenario.name, result.scenario.to_json(), result.seed, len(result.workload), _now(),
             __version__))
    run_id = cursor.lastrowid
    assert run_id is not None
    jobs = result.job_columns()
    job_rows = zip(*(jobs[name].tolist() for name in JOB_COLUMNS), strict=True)
    _insert(connection, "jobs", len(JOB_COLUMNS) + 1, ((run_id, *row) for row in job_rows))
    transitions = result.transition_columns()
    _insert(connection, "transitions", 4, ((run_id, *row) for row in zip(
        transitions["job_id"].tolist(), transitions["status"].tolist(), transitions["t"].tolist(), strict=True)))
    _insert(connection, "events", 5, ((run_id, e.t, e.kind, e.job_id, e.detail) for e in result.records.events))
    with connection:
        connection.execute(
            "UPDATE runs SET finished_at = ?, complete = 1, sim_time = ?, wall_seconds = ? WHERE run_id = ?",
            (_now(), result.sim_time, result.wall_seconds, run_id))
    return run_id
