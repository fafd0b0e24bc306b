"""Calibration-aware FIFO: do not start a job that cannot finish before the next recalibration.

Recalibrations (``[calibration]``) take each instrument at its own scheduled times; a job started shortly before
one delays it (the recalibration waits for the job to end) or, on a real station, runs on a drifting
calibration. This policy is FIFO, except that a job whose expected execution time does not fit in the time left
before the free instrument's next recalibration is requested is held back, and the gap is filled with the
longest waiting job that still fits (best fit; ties by queue-entry time, then job id). When nothing fits, the
instrument idles until its recalibration, after which the held-back jobs start in FIFO order.

A job longer than the instrument's whole calibration period (from its last recalibration to its next) would
never fit: it starts when it is first in line, as under FIFO.

Promise: no job starts (other than such an over-long one) whose expected end comes after the next recalibration
request. Without a calibration plan the policy is FIFO. ``position`` counts in FIFO order. O(log n) per
operation: jobs are kept both in FIFO order and by expected execution time.
"""

from __future__ import annotations

import math
from typing import ClassVar

from sim.policies.context import QueueContext
from sim.policies.ranked import RankedList

FifoKey = tuple[float, int]
LengthKey = tuple[float, float, float]
"""(expected seconds, queue-entry time, job id)."""


class CalibrationAware:
    """FIFO with the jobs that would run into the next recalibration held back, and the gap best-filled."""

    sees_every_job: ClassVar[bool] = True
    """Holds jobs back before a recalibration, so every job must be asked about."""

    def __init__(self, context: QueueContext) -> None:
        self.context = context
        self._expected = context.expected
        self._fifo: RankedList[FifoKey] = RankedList()
        self._by_length: RankedList[LengthKey] = RankedList()
        self._keys: dict[int, FifoKey] = {}

    def push(self, job: int, now: float) -> None:
        key = (self.context.entered(job), job)
        self._keys[job] = key
        self._fifo.add(key)
        self._by_length.add((self._expected[job], *key))

    def pop(self, now: float, instrument: int = 0) -> int | None:
        if not self._keys:
            return None
        head = self._fifo.first()[1]
        deadline = self.context.next_recalibration(now, instrument)  # the free instrument's own schedule
        if now + self._expected[head] <= deadline or self._longer_than_period(head, deadline, instrument):
            job = head
        else:
            fitting = self._by_length.before((deadline - now, math.inf, math.inf))  # the longest that fits
            if fitting is None:
                return None
            # the first to enter the queue among the jobs of that length (``before`` gives the last)
            earliest = self._by_length.at(self._by_length.rank((fitting[0], -math.inf, -math.inf)))
            job = int(earliest[2])
        self.remove(job)
        return job

    def remove(self, job: int) -> None:
        key = self._keys.pop(job)
        self._fifo.remove(key)
        self._by_length.remove((self._expected[job], *key))

    def position(self, job: int, now: float) -> int:
        return self._fifo.rank(self._keys[job])

    def next_change(self, now: float) -> float | None:
        """After the coming recalibration (its instruments are given back then, which starts the queue anyway)."""
        plan = self.context.calibration
        deadline = self.context.next_recalibration(now)
        if plan is None or math.isinf(deadline):
            return None
        return max(deadline, now) + plan.mean_duration

    def __len__(self) -> int:
        return len(self._keys)

    def _longer_than_period(self, job: int, deadline: float, instrument: int) -> bool:
        return self._expected[job] > deadline - self.context.calibration_period_start(instrument)
