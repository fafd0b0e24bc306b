"""The served station's persistent queue: every job in the results database as it happens, and the clean-up of
the jobs a dead server left in progress.

Each start of the server is one run of the results database (``runs``, ``jobs``, ``events``,
``instrument_periods``: the schema of ``sim.results.store``), with ``complete = 0`` while it serves and 1 after
a clean stop. Rows are written as the station changes, not when jobs settle: after every step of the clock (and
before any request is answered) the rows of every job whose status changed are written again
(``INSERT OR REPLACE``) and committed, so whatever a client has been told survives a ``kill -9``. Two tables
are the server's own:

    serve_runs(run_id, epoch, speed, sim_time, cleaned_up)
        the run's clock (wall time = epoch + simulated seconds / speed) and the last simulated time committed
    client_jobs(id, run_id, job_id, created, payload, results, messages, deleted)
        each client job by its UUID: where its row is, the request as sent, its measurement results (JSON, per
        circuit: key -> shots x qubits) and its messages

When the server starts on a database whose last serving run did not stop cleanly, that run's in-progress jobs
are cleaned up by the scenario's restart policy before anything else:

- ``fail`` (IQM's documented behaviour): every job of the dead run in an in-progress status, and every client
  job it had accepted but not yet received, is FAILED "cleaned up on restart" at the last committed time, its
  failed stage the stage it was in (as ``sim.model.recovery`` does);
- ``requeue``: every such *client* job is submitted again to the new run, from the start (its work is redone;
  the model's finer rule of resuming from the last durable point needs the lost in-memory station); its old row
  stays as the dead run left it. The dead run's background jobs are the scenario's load, not carried over: their
  rows stay as the dead run left them, and its ``complete = 0`` says it died.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.model.faults import CLEANED_UP
from sim.model.records import JobRecords
from sim.model.status import STAGE_OF_STATUS, STATUSES, JobStatus
from sim.model.workload import Workload
from sim.results.reading import TIME_COLUMNS
from sim.results.run import job_columns
from sim.results.store import JOB_COLUMNS, JOB_INSERT, NONE_IS_NEGATIVE, connect, insert_run, mark_complete
from sim.scenario.scenario import Scenario

SCHEMA = """
CREATE TABLE IF NOT EXISTS serve_runs (
    run_id INTEGER PRIMARY KEY, epoch REAL NOT NULL, speed REAL NOT NULL, sim_time REAL NOT NULL,
    cleaned_up INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS client_jobs (
    id TEXT PRIMARY KEY, run_id INTEGER NOT NULL, job_id INTEGER NOT NULL, created REAL NOT NULL,
    payload TEXT NOT NULL, results TEXT, messages TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0
);
"""
UPSERT = JOB_INSERT.replace("INSERT INTO", "INSERT OR REPLACE INTO", 1)
IN_PROGRESS = tuple(sorted((s.value for s in JobStatus.in_progress_statuses()), key=lambda v: JobStatus(v).code))


@dataclass(frozen=True)
class ClientJob:
    """A client job as the database keeps it."""

    id: str
    run_id: int
    job_id: int
    created: float
    payload: str
    results: list[dict[str, list[list[int]]]] | None
    messages: list[str]
    deleted: bool


@dataclass(frozen=True)
class StoredJob:
    """A job's row: its last status and times, its error and calibration set."""

    status: int | None
    times: list[float | None]
    failed_stage: str | None
    user_error_message: str | None
    full_error_log: str | None
    calibration_set: int | None


class ServeStore:
    """The results database of a served station (``:memory:`` when the server keeps nothing)."""

    def __init__(self, path: Path | str) -> None:
        self.connection = connect(path)
        self.connection.executescript(SCHEMA)
        self.connection.commit()
        self.run_id = -1
        self._status = np.zeros(0, dtype=np.int64)
        self._events = 0
        self._periods = 0

    def close(self) -> None:
        self.connection.close()

    # --- after a dead server ------------------------------------------------------------------------------------

    def clean_up_dead_runs(self, policy: str) -> list[ClientJob]:
        """Clean up every serving run that did not stop cleanly (see the module docstring); returns the client
        jobs to submit again (policy ``requeue``)."""
        db = self.connection
        dead = [(int(r), float(t)) for r, t in db.execute(
            "SELECT s.run_id, s.sim_time FROM serve_runs s JOIN runs USING (run_id) "
            "WHERE runs.complete = 0 AND s.cleaned_up = 0 ORDER BY s.run_id")]
        again: list[ClientJob] = []
        for run_id, t in dead:
            marks = ",".join("?" * len(IN_PROGRESS))
            client = {job_id for (job_id,) in db.execute(
                "SELECT job_id FROM client_jobs WHERE run_id = ? AND deleted = 0", (run_id,))}
            rows = db.execute(f"SELECT job_id, final_status FROM jobs WHERE run_id = ? AND (final_status IN ({marks}) "
                              "OR final_status IS NULL)", (run_id, *IN_PROGRESS)).fetchall()
            unfinished = [(int(j), s) for j, s in rows if s is not None or int(j) in client]
            if policy == "requeue":
                requeued = {j for j, _ in unfinished if j in client}
                again += [job for job in self._client_jobs_of(run_id) if job.job_id in requeued]
                detail = f"server started again: policy requeue, {len(requeued)} client jobs submitted again"
            else:
                for job_id, status in unfinished:
                    stage = "receive" if status is None else STAGE_OF_STATUS[JobStatus(status).code]
                    db.execute("UPDATE jobs SET final_status = 'failed', t_failed = ?, failed_stage = ?, "
                               "user_error_message = ?, full_error_log = ? WHERE run_id = ? AND job_id = ?",
                               (t, stage, CLEANED_UP.user_message, CLEANED_UP.full_log, run_id, job_id))
                detail = f"server started again: policy fail, cleaned up {len(unfinished)} in-progress jobs"
            db.execute("INSERT INTO events VALUES (?, ?, 'restart', NULL, ?)", (run_id, t, detail))
            db.execute("UPDATE serve_runs SET cleaned_up = 1 WHERE run_id = ?", (run_id,))
        db.commit()
        return again

    def _client_jobs_of(self, run_id: int) -> list[ClientJob]:
        ids = [i for (i,) in self.connection.execute(
            "SELECT id FROM client_jobs WHERE run_id = ? AND deleted = 0 ORDER BY job_id", (run_id,))]
        return [job for i in ids if (job := self.client_job(i)) is not None]

    # --- the serving run ----------------------------------------------------------------------------------------

    def begin(self, scenario: Scenario, seed: int, jobs: int, epoch: float, speed: float) -> int:
        self.run_id = insert_run(self.connection, scenario.name, scenario.to_json(), seed, jobs)
        self.connection.execute("INSERT INTO serve_runs VALUES (?, ?, ?, 0.0, 0)", (self.run_id, epoch, speed))
        self.connection.commit()
        self._status = np.full(jobs, -1, dtype=np.int64)
        return self.run_id

    def write(self, workload: Workload, records: JobRecords, now: float, force: Sequence[int] = ()) -> None:
        """Write the rows of every job whose status changed since the last write (and of ``force``), the events
        and instrument periods recorded since, and the time; one commit."""
        status = np.asarray(records.status, dtype=np.int64)
        changed = np.flatnonzero(status != self._status)
        if len(force):
            changed = np.union1d(changed, np.asarray(force, dtype=np.int64))
        events = records.events[self._events:]
        periods = records.instrument_periods[self._periods:]
        if not (len(changed) or events or periods):
            return
        db, run_id = self.connection, self.run_id
        if len(changed):
            db.executemany(UPSERT, _rows(run_id, workload, records, changed))
            self._status[changed] = status[changed]
        db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                       [(run_id, e.t, e.kind, e.job_id, e.detail) for e in events])
        db.executemany("INSERT INTO instrument_periods VALUES (?, ?, ?, ?, ?)",
                       [(run_id, p.instrument, p.kind, p.start, p.end) for p in periods])
        self._events += len(events)
        self._periods += len(periods)
        db.execute("UPDATE serve_runs SET sim_time = ? WHERE run_id = ?", (now, run_id))
        db.commit()

    def finish(self, sim_time: float, wall_seconds: float, lost_work: float) -> None:
        """A clean stop: the run is complete (``runs.jobs`` says how many jobs it wrote)."""
        db = self.connection
        db.execute("UPDATE runs SET jobs = (SELECT COUNT(*) FROM jobs WHERE run_id = ?) WHERE run_id = ?",
                   (self.run_id, self.run_id))
        db.execute("UPDATE serve_runs SET sim_time = ? WHERE run_id = ?", (sim_time, self.run_id))
        mark_complete(db, self.run_id, sim_time, wall_seconds, lost_work)
        db.commit()

    # --- client jobs --------------------------------------------------------------------------------------------

    def add_client_job(self, job: ClientJob) -> None:
        self.connection.execute("INSERT OR REPLACE INTO client_jobs VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                                (job.id, job.run_id, job.job_id, job.created, job.payload,
                                 None if job.results is None else json.dumps(job.results, separators=(",", ":")),
                                 json.dumps(job.messages)))

    def delete(self, job_id: str) -> None:
        self.connection.execute("UPDATE client_jobs SET deleted = 1 WHERE id = ?", (job_id,))
        self.connection.commit()

    def client_job(self, job_id: str) -> ClientJob | None:
        row = self.connection.execute("SELECT id, run_id, job_id, created, payload, results, messages, deleted "
                                      "FROM client_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        return ClientJob(row[0], int(row[1]), int(row[2]), float(row[3]), row[4],
                         None if row[5] is None else json.loads(row[5]), json.loads(row[6]), bool(row[7]))

    def stored_job(self, run_id: int, job_id: int) -> StoredJob | None:
        row = self.connection.execute(
            f"SELECT final_status, failed_stage, user_error_message, full_error_log, calibration_set_id, "
            f"{', '.join(TIME_COLUMNS)} FROM jobs WHERE run_id = ? AND job_id = ?", (run_id, job_id)).fetchone()
        if row is None:
            return None
        status = None if row[0] is None else JobStatus(row[0]).code
        return StoredJob(status, list(row[5:5 + len(STATUSES)]), row[1], row[2], row[3],
                         None if row[4] is None else int(row[4]))

    def clock_of(self, run_id: int) -> tuple[float, float]:
        """The ``(epoch, speed)`` of a serving run."""
        row = self.connection.execute("SELECT epoch, speed FROM serve_runs WHERE run_id = ?", (run_id,)).fetchone()
        return (float(row[0]), float(row[1])) if row is not None else (0.0, 1.0)


def _rows(run_id: int, workload: Workload, records: JobRecords, jobs: np.ndarray) -> list[tuple[Any, ...]]:
    """The ``jobs`` rows of ``jobs``, as ``sim.results.store`` writes them."""
    columns = job_columns(workload, records, jobs)
    for name in NONE_IS_NEGATIVE:
        values = columns[name].astype(object)
        values[columns[name] < 0] = None
        columns[name] = values
    times = records.times[jobs].T.tolist()  # NaN binds as NULL: a status never reached has no time
    return list(zip([run_id] * len(jobs), *(columns[name].tolist() for name in JOB_COLUMNS), *times, strict=True))
