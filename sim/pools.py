"""Pools of servers (a stage's workers, the station's instruments) and the queues of jobs waiting for them.

A job asks its pool for a server. If one is free and nobody waits, it gets it at once, with no SimPy event at
all: the common case costs nothing. Otherwise the job joins the pool's queue with an event that the pool
triggers when it hands over a server; the event's value is the server's index (which instrument, say). The
queue discipline decides who goes next: ``FifoQueue`` (first come, first served) or ``PriorityQueue`` (least
key first, ties broken by the key itself, which ends with the job id). A waiting job that gives up (it was
aborted) is withdrawn with ``cancel``, so no server is ever handed to a job that no longer waits.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy

Key = tuple[float, ...]


class WaitQueue(Protocol):
    def push(self, job_id: int, grant: simpy.Event) -> None: ...
    def pop(self) -> tuple[int, simpy.Event]: ...
    def remove(self, job_id: int) -> None: ...
    def position(self, job_id: int) -> int: ...
    def __len__(self) -> int: ...


class FifoQueue:
    """First come, first served; withdrawal is lazy so that it costs O(1)."""

    def __init__(self) -> None:
        self._entries: deque[tuple[int, simpy.Event]] = deque()
        self._withdrawn: set[int] = set()

    def push(self, job_id: int, grant: simpy.Event) -> None:
        self._entries.append((job_id, grant))

    def pop(self) -> tuple[int, simpy.Event]:
        while True:
            job_id, grant = self._entries.popleft()
            if job_id not in self._withdrawn:
                return job_id, grant
            self._withdrawn.discard(job_id)

    def remove(self, job_id: int) -> None:
        self._withdrawn.add(job_id)

    def position(self, job_id: int) -> int:
        """Waiting jobs ahead of ``job_id`` (a scan: for queries, not for the hot path)."""
        ahead = 0
        for other, _ in self._entries:
            if other == job_id:
                return ahead
            ahead += other not in self._withdrawn
        raise KeyError(job_id)

    def __len__(self) -> int:
        return len(self._entries) - len(self._withdrawn)


class PriorityQueue:
    """Least ``key(job_id, now)`` first, in O(log n); the key must end with the job id to break ties."""

    def __init__(self, key: Callable[[int], Key]) -> None:
        self._key = key
        self._heap: list[tuple[Key, int, simpy.Event]] = []
        self._withdrawn: set[int] = set()

    def push(self, job_id: int, grant: simpy.Event) -> None:
        heapq.heappush(self._heap, (self._key(job_id), job_id, grant))

    def pop(self) -> tuple[int, simpy.Event]:
        while True:
            _, job_id, grant = heapq.heappop(self._heap)
            if job_id not in self._withdrawn:
                return job_id, grant
            self._withdrawn.discard(job_id)

    def remove(self, job_id: int) -> None:
        self._withdrawn.add(job_id)

    def position(self, job_id: int) -> int:
        """Waiting jobs whose key is less than that of ``job_id`` (a scan: for queries, not the hot path)."""
        key = next(k for k, j, _ in self._heap if j == job_id)
        return sum(1 for k, j, _ in self._heap if k < key and j not in self._withdrawn)

    def __len__(self) -> int:
        return len(self._heap) - len(self._withdrawn)


class Pool:
    """``capacity`` servers, indexed 0 .. capacity-1, handed out lowest index first."""

    def __init__(self, env: simpy.Environment, capacity: int, queue: WaitQueue) -> None:
        self.env = env
        self.capacity = capacity
        self.queue = queue
        self._free = list(range(capacity))
        self._waiting: dict[int, simpy.Event] = {}

    @property
    def idle(self) -> bool:
        return len(self._free) == self.capacity and not self._waiting

    @property
    def busy(self) -> int:
        return self.capacity - len(self._free)

    def acquire(self, job_id: int) -> int | simpy.Event:
        """A server index now, or an event whose value will be the server index."""
        if self._free and not self._waiting:
            return heapq.heappop(self._free)
        grant = self.env.event()
        self._waiting[job_id] = grant
        self.queue.push(job_id, grant)
        return grant

    def release(self, server: int) -> None:
        """Give ``server`` back: to the next waiting job if there is one."""
        if self._waiting:
            job_id, grant = self.queue.pop()
            del self._waiting[job_id]
            grant.succeed(server)
        else:
            heapq.heappush(self._free, server)

    def position(self, job_id: int) -> int | None:
        """Jobs ahead of ``job_id`` in this pool's queue, or None if it does not wait here."""
        return self.queue.position(job_id) if job_id in self._waiting else None

    def seize(self, server: int) -> None:
        """Take a particular free server (recovery hands an instrument back to the job that was on it)."""
        self._free.remove(server)
        heapq.heapify(self._free)

    def cancel(self, job_id: int, grant: simpy.Event) -> None:
        """Withdraw a job's request: out of the queue if it still waits, or pass on a server granted to it
        that it never took up (it was interrupted in the same instant)."""
        if grant.triggered:
            self.release(grant.value)  # type: ignore[arg-type]  # a granted event's value is its server index
        else:
            del self._waiting[job_id]
            self.queue.remove(job_id)
