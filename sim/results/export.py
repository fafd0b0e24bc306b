"""Job timelines out, in the form IQM's server gives a client: one job-data record per job.

``iqm_jobs(result)`` yields, for every job the station received, a JSON-able dict shaped like IQM's
``JobData`` (``GET /api/v1/jobs/{id}``)::

    {"id": "<uuid>", "job_id": 17, "status": "completed",
     "timeline": [{"source": "iqm-station-control", "status": "received", "timestamp": "2026-01-01T00:00:03.5Z"},
                  ...],
     "errors": [], "messages": [],
     "kind": "circuit", "job_class": "circuits", "shots": 1000, "circuits": 5, "depth": 20, "sweep_points": 1,
     "qubits": 5, "user": "alice", "project": "default", "priority": 0, "use_timeslot": false}

- ``id``: a UUID derived from the run and the job (``uuid5`` of ``stationsim/run/<run_id>/job/<job_id>`` in
  ``JOB_NAMESPACE``): the same job of the same run gets the same id in every export.
- ``status``: IQM's coarse status (``COARSE_STATUS``), the mapping of Station Control's own executor:
  RECEIVED -> ``waiting``; READY -> ``completed``; FAILED -> ``failed``; ABORTED -> ``cancelled``; every other
  of the 18 statuses (VALIDATION_STARTED ... POST_PROCESSING_ENDED) -> ``processing``. A job is described by
  the last status it reached when the run ended.
- ``timeline``: every status the job reached, in lifecycle order, each with source ``iqm-station-control``, its
  ``JobExecutorStatus`` value and an ISO 8601 UTC timestamp to the microsecond.
- ``errors``: for a failed job, ``[{"message": <user message>, "error_code": <the stage it failed in>,
  "source": "iqm-station-control"}]``, and ``messages`` carries the full error log; both empty otherwise.
- the workload fields: ``kind`` (``circuit`` or ``pulse``), ``job_class``, ``shots``, ``circuits``, ``depth``,
  ``sweep_points``, ``qubits``, ``user``, ``project``, ``priority``, ``use_timeslot``; ``job_id`` is the job's id
  in the results database.

Timestamps are the run's start plus the simulated seconds. A scenario has a time of day at which it starts
(``[scheduler] start_time_of_day``, else ``[calibration] start_time_of_day``, else midnight) but no date, so the
run starts on ``EPOCH_DATE`` (2026-01-01, UTC) at that time of day.

``csv_frame(result)`` is the same as a table: one row per job, the same fields, ``error_message``,
``error_code`` and ``error_log`` for a failed job, and one column per status value (``received`` ...
``aborted``) holding the time the job reached it, in the same ISO form (empty where it never did).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STATUSES
from sim.results.run import STATUS_VALUES, RunResult
from sim.scenario.scenario import Scenario

if TYPE_CHECKING:
    import pandas as pd

SOURCE = "iqm-station-control"
"""The ``source`` of every timeline entry and error: the job executor that recorded it."""
EPOCH_DATE = "2026-01-01"
"""The date on which every exported run starts (UTC): scenarios have a start time of day but no date."""
JOB_NAMESPACE = uuid.UUID("6f1d6c2e-4d0b-5c1e-9a57-7374617469bf")
"""The namespace of the jobs' ``uuid5`` ids."""
COARSE_STATUS: dict[str, str] = {
    s.value: ("waiting" if s.code == RECEIVED else "completed" if s.code == READY else "failed"
              if s.code == FAILED else "cancelled" if s.code == ABORTED else "processing") for s in STATUSES}
"""Each ``JobExecutorStatus`` value -> IQM's coarse job status, as Station Control maps them."""
WORKLOAD_FIELDS = ("kind", "job_class", "shots", "circuits", "depth", "sweep_points", "qubits", "user", "project",
                   "priority", "use_timeslot")
FORMATS = ("iqm-jobs", "csv")


def job_uuid(run_id: int, job_id: int) -> str:
    """The job's IQM-style id: the same for the same run and job in every export."""
    return str(uuid.uuid5(JOB_NAMESPACE, f"stationsim/run/{run_id}/job/{job_id}"))


def start_of_run(scenario: Scenario) -> np.datetime64:
    """When the run starts, in UTC: ``EPOCH_DATE`` at the scenario's start time of day."""
    clock = scenario.scheduler.start_time_of_day
    if clock is None and scenario.calibration is not None:
        clock = scenario.calibration.start_time_of_day
    return np.datetime64(EPOCH_DATE, "us") + np.timedelta64(round((clock or 0.0) * 1e6), "us")


def timestamps(result: RunResult) -> npt.NDArray[np.str_]:
    """Every job's status times as ISO 8601 UTC strings (jobs x statuses; empty where never reached)."""
    times = result.times
    reached = np.isfinite(times)
    micros = np.where(reached, np.round(np.where(reached, times, 0.0) * 1e6), 0).astype(np.int64)
    stamps = start_of_run(result.scenario) + micros.astype("timedelta64[us]")
    text = np.char.add(np.datetime_as_string(stamps, unit="us"), "Z")
    return np.where(reached, text, "")


def _received(result: RunResult) -> list[int]:
    return np.flatnonzero(np.isfinite(result.times[:, RECEIVED])).tolist()


def _workload(columns: dict[str, npt.NDArray[Any]], job: int) -> dict[str, Any]:
    return {"kind": str(columns["job_type"][job]), "job_class": str(columns["job_class"][job]),
            **{name: int(columns[name][job]) for name in ("shots", "circuits", "depth", "sweep_points", "qubits",
                                                          "priority")},
            "user": str(columns["user"][job]), "project": str(columns["project"][job]),
            "use_timeslot": bool(columns["use_timeslot"][job])}


def _last_status(stamps: npt.NDArray[np.str_]) -> str:
    return STATUS_VALUES[int(np.flatnonzero(stamps != "")[-1])]


def iqm_jobs(result: RunResult, run_id: int | None = None) -> Iterator[dict[str, Any]]:
    """The job-data record of every job the station received, in job order (see the module's docstring)."""
    run = result.run_id if run_id is None else run_id
    columns = result.job_columns()
    stamps = timestamps(result)
    for job in _received(result):
        row = stamps[job]
        last = _last_status(row)
        failed = last == "failed"
        message, log = columns["user_error_message"][job], columns["full_error_log"][job]
        yield {
            "id": job_uuid(run or 0, job), "job_id": job, "status": COARSE_STATUS[last],
            "timeline": [{"source": SOURCE, "status": STATUS_VALUES[code], "timestamp": str(row[code])}
                         for code in np.flatnonzero(row != "").tolist()],
            "errors": [{"message": message or "", "error_code": columns["failed_stage"][job] or "",
                        "source": SOURCE}] if failed else [],
            "messages": [{"source": SOURCE, "message": log}] if failed and log else [],
            **_workload(columns, job)}


def csv_frame(result: RunResult, run_id: int | None = None) -> pd.DataFrame:
    """The jobs as a table: id, coarse status, workload fields, error, and one column per status time."""
    import pandas as pd

    run = result.run_id if run_id is None else run_id
    columns = result.job_columns()
    stamps = timestamps(result)
    jobs = _received(result)
    rows = []
    for job in jobs:
        last = _last_status(stamps[job])
        failed = last == "failed"
        rows.append({"id": job_uuid(run or 0, job), "job_id": job, "status": COARSE_STATUS[last],
                     **_workload(columns, job),
                     "error_message": (columns["user_error_message"][job] or "") if failed else "",
                     "error_code": (columns["failed_stage"][job] or "") if failed else "",
                     "error_log": (columns["full_error_log"][job] or "") if failed else ""})
    frame = pd.DataFrame(rows, columns=["id", "job_id", "status", *WORKLOAD_FIELDS, "error_message", "error_code",
                                        "error_log"])
    times = pd.DataFrame(stamps[jobs], columns=list(STATUS_VALUES))
    return pd.concat([frame, times], axis=1)


def write_export(result: RunResult, path: str | Path, fmt: str = "iqm-jobs", run_id: int | None = None) -> int:
    """Write the run's jobs to ``path`` as IQM job-data JSON lines (``iqm-jobs``) or ``csv``; returns the number
    of jobs written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "csv":
        frame = csv_frame(result, run_id)
        frame.to_csv(path, index=False)
        return len(frame)
    written = 0
    with path.open("w", encoding="utf-8") as stream:
        for record in iqm_jobs(result, run_id):
            stream.write(json.dumps(record) + "\n")
            written += 1
    return written
