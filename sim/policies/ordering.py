"""The built-in policies that order jobs by a key fixed when they join: FIFO, priority, shortest first, aging.

Each promise is about *starts*: when an instrument takes a job, which waiting jobs it may not pass.

- ``fifo`` (IQM's shared queue, the default): jobs start in queue-entry order (then by job id).
- ``priority``: strict priority classes, higher ``priority`` first, FIFO within a class. A queued job never
  waits behind a lower-priority job that started after it was queued. Low classes can starve under load.
- ``shortest_first``: least expected execution time first (then FIFO): the least mean wait, at the cost of
  the long jobs.
- ``aging``: priority with aging against starvation. A job's effective priority grows by one level for every
  ``step`` it waits (option ``step``, default ``"10min"``): ``priority + (now - entered) / step``. Since every
  waiting job ages at the same rate, the order of two jobs never changes while they wait, and the most urgent
  job is the one with the least ``entered - priority x step``: a key fixed at entry, so aging costs no more
  than FIFO. Promise: a job J is never overtaken by a job K that entered the queue more than
  ``(priority_K - priority_J) x step`` after it; so a job waits at most the time to serve the jobs that entered
  before it plus ``(highest - lowest priority) x step`` of later arrivals.
"""

from __future__ import annotations

from sim.policies import options
from sim.policies.base import Key, KeyPolicy
from sim.policies.context import QueueContext


class Fifo(KeyPolicy):
    """First come, first served: by queue-entry time, then job id."""

    def __init__(self, context: QueueContext) -> None:
        super().__init__(context)
        self._entered = context.entered

    def push(self, job: int, now: float) -> None:  # the default policy's hot path: no key() call
        key = (self._entered(job), job)
        self._keys[job] = key
        self._order.add(key)


class StrictPriority(KeyPolicy):
    """Higher ``priority`` first; FIFO within a priority class."""

    def __init__(self, context: QueueContext) -> None:
        super().__init__(context)
        self._priority = context.priority

    def key(self, job: int) -> Key:
        return (-self._priority[job],)


class ShortestFirst(KeyPolicy):
    """Least expected execution time first; FIFO among equal times."""

    def __init__(self, context: QueueContext) -> None:
        super().__init__(context)
        self._expected = context.expected

    def key(self, job: int) -> Key:
        return (self._expected[job],)


class Aging(KeyPolicy):
    """Priority that grows by one level per ``step`` of waiting: least ``entered - priority x step`` first."""

    def __init__(self, context: QueueContext, step: object = "10min") -> None:
        super().__init__(context)
        self.step = options.duration("step", step)
        self._priority = context.priority

    def key(self, job: int) -> Key:
        return (self.context.entered(job) - self._priority[job] * self.step,)
