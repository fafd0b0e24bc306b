"""What ``GET jobs/{id}`` answers: IQM's ``JobData`` for a client job, from the live station or the database.

- ``status``: the coarse status, mapped from the 18 statuses as Station Control maps them (``COARSE_STATUS``
  of ``sim.results.export``): RECEIVED -> ``waiting``, READY -> ``completed``, FAILED -> ``failed``, ABORTED ->
  ``cancelled``, every other status -> ``processing``. A job the server accepted while the modelled service was
  down (its client retrying the submission) is ``waiting``.
- ``queue_position``: while the job waits in a queue (for a stage's worker, for an instrument in
  PENDING_EXECUTION, for post-processing), the number of jobs ahead of it there; None otherwise. (IQM documents
  it for ``waiting`` jobs; here the longest wait, PENDING_EXECUTION, is ``processing`` by the mapping above, and
  the position is given there too, which is what the client's queue progress bar reads.)
- ``timeline``: ``created`` from ``iqm-server`` when the server accepted the job, then every status the job
  reached in lifecycle order, source ``iqm-station-control``, our status values, ISO 8601 UTC times (wall
  time: the run's start plus simulated seconds / speed).
- ``execution.progress``: while EXECUTION_STARTED, the hardware mock's sweep progress per label.
- ``compilation.calibration_set_id``: the set the job fetched, once it did.
- ``errors``: for a failed job its user message, with the stage it failed in as ``error_code``; ``messages``:
  the full error log of a failure, and notes (synthetic results, a resubmission after a restart).
- ``artifacts``: ``measurement_counts`` and ``measurements`` once completed.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sim.model.status import EXECUTION_STARTED, FAILED, NOT_RECEIVED, READY, STATUSES, JobStatus
from sim.results.export import COARSE_STATUS, SOURCE
from sim.serve.architecture import Architecture
from sim.serve.live import LiveStation
from sim.serve.persistence import ClientJob, StoredJob

ARTIFACTS = ("measurement_counts", "measurements")
FETCHED = JobStatus.FETCH_CALIBRATION_ENDED.code


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def coarse(code: int | None) -> str:
    return "waiting" if code is None or code == NOT_RECEIVED else COARSE_STATUS[STATUSES[code].value]


def queue_position(live: LiveStation, job_id: int) -> int | None:
    """Jobs ahead of ``job_id`` in the queue it waits in; None when it waits in none."""
    for pool in live.station.pools:
        ahead = pool.position(job_id)
        if ahead is not None:
            return int(ahead)
    return None


def live_job(live: LiveStation, job: ClientJob) -> dict[str, Any]:
    """The job data of a client job of the serving run, now."""
    station, job_id = live.station, job.job_id
    records = station.records
    code = records.status[job_id]
    progress = None
    if code == EXECUTION_STARTED:
        progress = {label: {"value": int(v), "max_value": int(m)}
                    for label, v, m in station.instruments.progress(job_id)}
    failed = None
    if code == FAILED:
        failed = (records.failed_stage[job_id], records.user_error_message[job_id], records.full_error_log[job_id])
    cal = int(records.calibration_set[job_id])
    times = [None if math.isnan(t) else live.wall(float(t)) for t in records.times[job_id].tolist()]
    return _job_data(job, None if code == NOT_RECEIVED else code, times, failed, cal if cal >= 0 else None,
                     queue_position(live, job_id), progress, live.architecture)


def stored_job(stored: StoredJob, job: ClientJob, epoch: float, speed: float,
               architecture: Architecture) -> dict[str, Any]:
    """The job data of a client job of an earlier run, from its row."""
    failed = None
    if stored.status == FAILED:
        failed = (stored.failed_stage or "", stored.user_error_message or "", stored.full_error_log or "")
    times = [None if t is None else epoch + float(t) / speed for t in stored.times]
    return _job_data(job, stored.status, times, failed, stored.calibration_set, None, None, architecture)


def _job_data(job: ClientJob, code: int | None, times: list[float | None], failed: tuple[str, str, str] | None,
              calibration_set: int | None, position: int | None, progress: dict[str, Any] | None,
              architecture: Architecture) -> dict[str, Any]:
    timeline = [{"source": "iqm-server", "status": "created", "timestamp": iso(job.created)}]
    timeline += [{"source": SOURCE, "status": STATUSES[c].value, "timestamp": iso(t)}
                 for c, t in enumerate(times) if t is not None]
    errors, messages = [], [{"source": "iqm-server", "message": m} for m in job.messages]
    if failed is not None:
        stage, message, log = failed
        errors.append({"message": message, "error_code": stage, "source": SOURCE})
        messages.append({"source": SOURCE, "message": log})
    data: dict[str, Any] = {
        "id": job.id, "type": "circuit", "status": coarse(code), "queue_position": position, "timeline": timeline,
        "messages": messages, "errors": errors,
        "artifacts": [{"type": kind} for kind in ARTIFACTS] if code == READY else [],
    }
    if progress is not None:
        data["execution"] = {"progress": progress}
    if calibration_set is None and times[FETCHED] is not None:
        calibration_set = 0  # a scenario without a calibration plan has the one set, 0
    if calibration_set is not None:
        data["compilation"] = {"calibration_set_id": str(architecture.calibration_set_id(calibration_set))}
    return data
