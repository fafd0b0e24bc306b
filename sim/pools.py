"""Pools of servers (a stage's workers, the station's instruments) and the queues of jobs waiting for them.

A job asks its pool for a server. If one is free and nobody waits, it gets it at once, with no SimPy event at
all: the common case costs nothing. Otherwise the job joins the pool's queue with an event that the pool
triggers when it hands over a server; the event's value is the server's index (which instrument, say). The
queue discipline decides who goes next: ``FifoQueue`` (first come, first served) or ``PriorityQueue`` (least
key first, ties broken by the key itself, which ends with the job id). A waiting job that gives up (it was
aborted) is withdrawn with ``cancel``, so no server is ever handed to a job that no longer waits. A *claim* asks
for one particular server ahead of every waiting job: the station's recalibrations and outages take an
instrument that way, as soon as its current job gives it back.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy

Key = tuple[float, ...]


class WaitQueue(Protocol):
    def push(self, job_id: int, grant: simpy.Event) -> None: ...
    def pop(self) -> tuple[int, simpy.Event]: ...
    def remove(self, grant: simpy.Event) -> None: ...
    def position(self, grant: simpy.Event) -> int: ...
    def __len__(self) -> int: ...


class FifoQueue:
    """First come, first served. A withdrawn request is only marked (O(1)) and skipped when it comes up."""

    def __init__(self) -> None:
        self._entries: deque[tuple[int, simpy.Event]] = deque()
        self._withdrawn: set[simpy.Event] = set()

    def push(self, job_id: int, grant: simpy.Event) -> None:
        self._entries.append((job_id, grant))

    def pop(self) -> tuple[int, simpy.Event]:
        while True:
            job_id, grant = self._entries.popleft()
            if grant not in self._withdrawn:
                return job_id, grant
            self._withdrawn.discard(grant)

    def remove(self, grant: simpy.Event) -> None:
        self._withdrawn.add(grant)

    def position(self, grant: simpy.Event) -> int:
        """Waiting requests ahead of ``grant`` (a scan: for queries, not for the hot path)."""
        ahead = 0
        for _, other in self._entries:
            if other is grant:
                return ahead
            ahead += other not in self._withdrawn
        raise KeyError(grant)

    def __len__(self) -> int:
        return len(self._entries) - len(self._withdrawn)


class PriorityQueue:
    """Least ``key(job_id)`` first, in O(log n); the key ends with the job id, and a running count breaks the
    remaining ties (one job asking twice) in the order asked."""

    def __init__(self, key: Callable[[int], Key]) -> None:
        self._key = key
        self._heap: list[tuple[Key, int, int, simpy.Event]] = []
        self._withdrawn: set[simpy.Event] = set()
        self._count = itertools.count()

    def push(self, job_id: int, grant: simpy.Event) -> None:
        heapq.heappush(self._heap, (self._key(job_id), next(self._count), job_id, grant))

    def pop(self) -> tuple[int, simpy.Event]:
        while True:
            _, _, job_id, grant = heapq.heappop(self._heap)
            if grant not in self._withdrawn:
                return job_id, grant
            self._withdrawn.discard(grant)

    def remove(self, grant: simpy.Event) -> None:
        self._withdrawn.add(grant)

    def position(self, grant: simpy.Event) -> int:
        """Waiting requests that come before ``grant`` (a scan: for queries, not the hot path)."""
        mine = next(entry[:2] for entry in self._heap if entry[3] is grant)
        return sum(1 for entry in self._heap if entry[:2] < mine and entry[3] not in self._withdrawn)

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
        self._claims: dict[int, deque[simpy.Event]] = {}

    @property
    def idle(self) -> bool:
        return len(self._free) == self.capacity and not self._waiting and not self._claims

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
        """Give ``server`` back: to a claim on it first, then to the next waiting job, else to the free list."""
        if self._claims and server in self._claims:
            claims = self._claims[server]
            claim = claims.popleft()
            if not claims:
                del self._claims[server]
            claim.succeed(server)
        elif self._waiting:
            job_id, grant = self.queue.pop()
            del self._waiting[job_id]
            grant.succeed(server)
        else:
            heapq.heappush(self._free, server)

    def position(self, job_id: int) -> int | None:
        """Jobs ahead of ``job_id`` in this pool's queue, or None if it does not wait here."""
        grant = self._waiting.get(job_id)
        return None if grant is None else self.queue.position(grant)

    def claim(self, server: int) -> int | simpy.Event:
        """Ask for one particular server ahead of every waiting job (a recalibration or an outage of that
        instrument): the server now if it is free, else an event triggered when its current user gives it back.
        Claims on one server are served in the order made."""
        if server in self._free and server not in self._claims:
            self._free.remove(server)
            heapq.heapify(self._free)
            return server
        claim = self.env.event()
        self._claims.setdefault(server, deque()).append(claim)
        return claim

    def cancel(self, job_id: int, grant: simpy.Event) -> None:
        """Withdraw a job's request: out of the queue if it still waits, or pass on a server granted to it
        that it never took up (it was interrupted in the same instant)."""
        if grant.triggered:
            self.release(grant.value)  # type: ignore[arg-type]  # a granted event's value is its server index
        else:
            del self._waiting[job_id]
            self.queue.remove(grant)
