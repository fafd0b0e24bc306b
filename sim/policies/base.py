"""Two easy ways to write a scheduling policy: a key per job, or a choice among the waiting jobs.

- ``KeyPolicy``: least key first, the key fixed when the job joins the queue. Define ``key(job)``, a tuple; the
  queue adds the job's queue-entry time and id to it, so ties are always broken explicitly (earlier entry first,
  then lower id). Every operation is O(log n) and positions are exact. FIFO, strict priority, shortest expected
  execution first and linear aging are key policies.
- ``SelectPolicy``: define ``select(queued, now)``, which gets every waiting job in queue-entry order and
  returns the one to start now, or None to start none; optionally ``next_change(now)``, the time at which it
  may want to start one (a window opens). It costs O(n) per start: for prototypes and small queues. Positions
  are counted in queue-entry order.

Both take the run's ``QueueContext`` as their first constructor argument; a subclass adds its options as
keyword arguments after it::

    class BigJobsLast(KeyPolicy):
        def __init__(self, context: QueueContext, threshold: float = 60.0) -> None:
            super().__init__(context)
            self.threshold = threshold

        def key(self, job: int) -> tuple[float, ...]:
            return (self.context.expected[job] > self.threshold,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from sim.policies.context import QueueContext
from sim.policies.ranked import RankedList

Key = tuple[Any, ...]


class _RankedQueue:
    """The waiting jobs ranked by a key ending with the job id: O(log n) to add, remove or rank one."""

    def __init__(self, context: QueueContext) -> None:
        self.context = context
        self._order: RankedList[Key] = RankedList()
        self._keys: dict[int, Key] = {}

    def _add(self, job: int, key: Key) -> None:
        self._keys[job] = key
        self._order.add(key)

    def remove(self, job: int) -> None:
        self._order.remove(self._keys.pop(job))

    def position(self, job: int, now: float) -> int:
        return self._order.rank(self._keys[job])

    def next_change(self, now: float) -> float | None:
        return None

    def __len__(self) -> int:
        return len(self._keys)


class KeyPolicy(_RankedQueue):
    """Least ``key(job) + (queue-entry time, job id)`` first; subclasses define ``key``."""

    sees_every_job: ClassVar[bool] = False
    """A key policy never holds a job back: a job that finds a free instrument and nobody waiting starts at
    once, without the queue being asked."""

    def key(self, job: int) -> Key:
        """The job's place in the queue, least first (before its queue-entry time and id). FIFO: ``()``."""
        return ()

    def push(self, job: int, now: float) -> None:
        self._add(job, (*self.key(job), self.context.entered(job), job))

    def pop(self, now: float) -> int | None:
        if not self._keys:
            return None
        job: int = self._order.pop_first()[-1]
        del self._keys[job]
        return job


class SelectPolicy(_RankedQueue):
    """``select(queued, now)`` picks the job to start among all waiting jobs (in queue-entry order)."""

    sees_every_job: ClassVar[bool] = True
    """Every job is offered to ``select``, even one that finds an instrument free."""

    def select(self, queued: Sequence[int], now: float) -> int | None:
        """The job in ``queued`` to start now, or None to start none yet."""
        raise NotImplementedError(f"{type(self).__name__} must define select(queued, now)")

    def push(self, job: int, now: float) -> None:
        self._add(job, (self.context.entered(job), job))

    def pop(self, now: float) -> int | None:
        if not self._keys:
            return None
        job = self.select([key[1] for key in self._order], now)
        if job is not None and job in self._keys:
            self._order.remove(self._keys.pop(job))
        return job  # a job that does not wait is reported by the pool
