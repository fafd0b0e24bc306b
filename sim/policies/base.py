"""Two easy ways to write a scheduling policy: a key per job, or a choice among the waiting jobs.

- ``KeyPolicy``: least key first, the key fixed when the job joins the queue. Define ``key(job)``, a tuple; the
  queue adds the job's queue-entry time and id to it, so ties are always broken explicitly (earlier entry first,
  then lower id). Every operation is O(log n) and positions are exact. FIFO, strict priority, shortest expected
  execution first and linear aging are key policies.
- ``SelectPolicy``: define ``select(queued, now)`` (or ``select(queued, now, instrument)`` to know which
  instrument is free), which gets every waiting job in queue-entry order and returns the one to start now, or
  None to start none; optionally ``next_change(now)``, the time at which it may want to start one (a window
  opens). It costs O(n) per start: for prototypes and small queues. A job's position is counted by the policy's
  own order: ``select`` is asked again and again, as if instrument 0 took each chosen job in turn, until it
  chooses the job (so ``select`` must only choose, never change the policy's state); when it chooses none, or
  the queue is longer than ``position_limit``, or the class sets ``positions_by_select = False``, the policy
  cannot say and the position is None.

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

import inspect
from collections.abc import Callable, Sequence
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

    def position(self, job: int, now: float) -> int | None:
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

    def pop(self, now: float, instrument: int = 0) -> int | None:
        if not self._keys:
            return None
        job: int = self._order.pop_first()[-1]
        del self._keys[job]
        return job


class SelectPolicy(_RankedQueue):
    """``select(queued, now)`` picks the job to start among all waiting jobs (in queue-entry order)."""

    sees_every_job: ClassVar[bool] = True
    """Every job is offered to ``select``, even one that finds an instrument free."""
    positions_by_select: ClassVar[bool] = True
    """Positions come from asking ``select`` repeatedly (False: the policy cannot say; positions are None)."""
    position_limit: ClassVar[int] = 500
    """The longest queue whose positions are counted by asking ``select`` (O(n) per job ahead)."""

    def __init__(self, context: QueueContext) -> None:
        super().__init__(context)
        self._select = _select_with_instrument(self.select)

    def select(self, queued: Sequence[int], now: float) -> int | None:
        """The job in ``queued`` to start now, or None to start none yet (a subclass may take a third argument,
        the free instrument's index)."""
        raise NotImplementedError(f"{type(self).__name__} must define select(queued, now)")

    def push(self, job: int, now: float) -> None:
        self._add(job, (self.context.entered(job), job))

    def pop(self, now: float, instrument: int = 0) -> int | None:
        if not self._keys:
            return None
        job = self._select([key[1] for key in self._order], now, instrument)
        if job is not None and job in self._keys:
            self._order.remove(self._keys.pop(job))
        return job  # a job that does not wait is reported by the pool

    def position(self, job: int, now: float) -> int | None:
        """Jobs ``select`` would choose before ``job``, one instrument taking them in turn (None: it cannot
        say: it would choose none first, or the queue is too long to ask, or the class turned it off)."""
        if job not in self._keys:
            raise KeyError(job)
        if not self.positions_by_select or len(self._keys) > self.position_limit:
            return None
        queued = [key[1] for key in self._order]
        for ahead in range(len(queued)):
            chosen = self._select(list(queued), now, 0)
            if chosen == job:
                return ahead
            if chosen is None or chosen not in self._keys:
                return None
            queued.remove(chosen)
        return None


def _select_with_instrument(select: Callable[..., int | None]) -> Callable[[Sequence[int], float, int], int | None]:
    """``select`` as ``select(queued, now, instrument)``; one that takes no instrument gets a wrapper (decided
    once, when the policy is built)."""
    try:
        parameters = [p for p in inspect.signature(select).parameters.values()
                      if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return select
    if len(parameters) >= 3:
        return select

    def two(queued: Sequence[int], now: float, instrument: int) -> int | None:
        return select(queued, now)

    return two
