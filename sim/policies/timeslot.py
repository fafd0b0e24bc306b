"""IQM's timeslot queue: a priority queue of booked jobs beside the shared FIFO, with reserved windows.

A job submitted with ``use_timeslot = true`` (IQM's ``submit_job(..., use_timeslot=True)``) goes to the timeslot
queue of its owner, the user or project that booked windows (``[[scheduler.windows]]``, see
``sim.policies.windows``); every other job goes to the shared FIFO. Then:

- while an owner's window is open, only that owner's jobs start: first its timeslot jobs, oldest first, then
  (with ``shared_jobs_in_window = true``, the default) its jobs from the shared queue. If it has none waiting,
  the instruments stay idle: the time is reserved. Windows of different owners that overlap are shared by
  their owners, oldest job first;
- outside every window, the shared FIFO runs; timeslot jobs wait for their owner's next window;
- a timeslot job whose owner has no window to come (none booked, or the last one has closed) is a shared job.

Promise: a job starts in a reserved window only if it belongs to the window's owner, and a timeslot job starts
only in one of its owner's windows (while the owner has windows to come). A job running when a window opens is
not stopped. The pool wakes itself at every opening and closing (``next_change``) while jobs wait.

``position``: the jobs ahead of the job in its own lane: the shared FIFO, or its owner's timeslot queue.
Every operation is O(log n) for n waiting jobs, plus O(w) for w windows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import ClassVar

from sim.policies.context import QueueContext
from sim.policies.ranked import RankedList
from sim.scenario.distributions import FieldError

EntryKey = tuple[float, int]


class Timeslot:
    """The shared FIFO outside reserved windows; the window owner's jobs, timeslot queue first, inside them."""

    sees_every_job: ClassVar[bool] = True
    """Holds jobs back during windows, so every job must be asked about."""

    def __init__(self, context: QueueContext, shared_jobs_in_window: object = True) -> None:
        if not isinstance(shared_jobs_in_window, bool):
            raise FieldError("shared_jobs_in_window", f"expected true or false, got {shared_jobs_in_window!r}")
        self.context = context
        self.shared_jobs_in_window = shared_jobs_in_window
        self.clock = context.start_time_of_day
        self.windows = context.windows
        owners = list(dict.fromkeys((w.by, w.owner) for w in self.windows))
        self.owners = owners
        self._window_owner = [owners.index((w.by, w.owner)) for w in self.windows]
        self._last_close = [max(w.closes_for_good for w in self.windows if (w.by, w.owner) == o) for o in owners]
        self._open_for_good = [True] * len(owners)
        self._owner_of_user = [owners.index(("user", u)) if ("user", u) in owners else -1 for u in context.users]
        self._owner_of_project = [owners.index(("project", p)) if ("project", p) in owners else -1
                                  for p in context.projects]
        self._shared: RankedList[EntryKey] = RankedList()
        self._slots: list[RankedList[EntryKey]] = [RankedList() for _ in owners]
        self._owners_shared: list[RankedList[EntryKey]] = [RankedList() for _ in owners]
        self._lanes: dict[int, tuple[EntryKey, tuple[RankedList[EntryKey], ...]]] = {}
        """Each waiting job's key and the lanes it waits in (its first lane is the one ``position`` counts)."""
        self._next_expiry = min(self._last_close, default=math.inf)

    def _owners_of(self, job: int) -> list[int]:
        """The window owners ``job`` belongs to (its user's and its project's), lowest index first."""
        found = {self._owner_of_user[self.context.user[job]], self._owner_of_project[self.context.project[job]]}
        return sorted(o for o in found if o >= 0)

    def _place(self, job: int, key: EntryKey) -> None:
        owners = self._owners_of(job)
        booked = [o for o in owners if self._open_for_good[o]] if self.context.use_timeslot[job] else []
        if booked:
            lanes = tuple(self._slots[o] for o in booked)
        else:
            extra = tuple(self._owners_shared[o] for o in owners) if self.shared_jobs_in_window else ()
            lanes = (self._shared, *extra)
        for lane in lanes:
            lane.add(key)
        self._lanes[job] = (key, lanes)

    def push(self, job: int, now: float) -> None:
        self._place(job, (self.context.entered(job), job))

    def pop(self, now: float, instrument: int = 0) -> int | None:
        if now >= self._next_expiry:
            self._expire(now)
        open_owners = sorted({self._window_owner[i] for i, w in enumerate(self.windows) if w.is_open(now, self.clock)})
        if open_owners:
            key = self._oldest(self._slots[o] for o in open_owners)
            if key is None and self.shared_jobs_in_window:
                key = self._oldest(self._owners_shared[o] for o in open_owners)
        else:
            key = self._shared.first() if self._shared else None
        if key is None:
            return None
        job = key[1]
        self._take(job)
        return job

    def remove(self, job: int) -> None:
        self._take(job)

    def position(self, job: int, now: float) -> int:
        key, lanes = self._lanes[job]
        return lanes[0].rank(key)

    def next_change(self, now: float) -> float | None:
        edge = min((w.next_edge(now, self.clock) for w in self.windows), default=math.inf)
        return None if math.isinf(edge) else edge

    def __len__(self) -> int:
        return len(self._lanes)

    # --- lanes -------------------------------------------------------------------------------------------------

    @staticmethod
    def _oldest(lanes: Iterable[RankedList[EntryKey]]) -> EntryKey | None:
        heads = [lane.first() for lane in lanes if lane]
        return min(heads) if heads else None

    def _take(self, job: int) -> None:
        key, lanes = self._lanes.pop(job)
        for lane in lanes:
            lane.remove(key)

    def _expire(self, now: float) -> None:
        """Owners whose last window has closed: their timeslot jobs become shared jobs."""
        for owner, closes in enumerate(self._last_close):
            if self._open_for_good[owner] and closes <= now:
                self._open_for_good[owner] = False
                for key in list(self._slots[owner]):
                    self._take(key[1])
                    self._place(key[1], key)
        self._next_expiry = min((c for o, c in enumerate(self._last_close) if self._open_for_good[o]),
                                default=math.inf)
