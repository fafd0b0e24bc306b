"""Scheduling policies of the execution queue: which job waiting in PENDING_EXECUTION gets the next instrument.

A policy is a key function over waiting jobs: the job with the least key goes next. Keys end with the job's
queue-entry time and id so that ties are broken explicitly, never by container order.

- ``fifo``: first come, first served in queue-entry order (IQM's shared queue).
- ``priority``: higher ``priority`` first, FIFO within a priority class.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.pools import Key
from sim.records import JobRecords
from sim.status import PENDING_EXECUTION
from sim.workload import Workload

KeyFunction = Callable[[int], Key]


def execution_key(policy: str, records: JobRecords, workload: Workload) -> KeyFunction:
    """The key function of ``policy``; a job's queue-entry time is when it reached PENDING_EXECUTION."""
    entered = records.times[:, PENDING_EXECUTION]
    if policy == "fifo":
        return lambda job_id: (entered[job_id], job_id)
    if policy == "priority":
        priority = workload.priority.tolist()
        return lambda job_id: (-priority[job_id], entered[job_id], job_id)
    raise ValueError(f"unknown scheduling policy {policy!r}")
