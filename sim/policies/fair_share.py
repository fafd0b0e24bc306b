"""Fair share: instrument time divided between users (or projects) by weight, on exponentially decayed usage.

Each group (a user, or a project with ``by = "project"``) has a weight (``weights = { alice = 2, bob = 1 }``;
``default_weight`` for the others, 1 unless given). Whenever a job starts, its group is charged the job's
expected instrument seconds. Charges decay with a half-life (``half_life``, default ``"1h"``): a group's usage
at time t is the sum of its charges c_i made at t_i, times 2^(-(t - t_i) / half_life). The next job to start is
the oldest waiting job (by queue-entry time, then id) of the group with the least usage / weight; ties between
groups go to the group whose oldest job entered first.

Promise: while every group has jobs waiting, each group's long-run share of the instrument seconds started
approaches weight / (sum of the weights of the waiting groups); a group with fewer jobs than its share takes
what it needs, and the others divide the rest. The policy never leaves an instrument idle while a job waits.

Cost: O(log n) per operation for n waiting jobs, plus O(log g) for g groups (a heap of groups, with stale entries
skipped). Usage is kept scaled by 2^((t - t_ref) / half_life), so that one charge touches one group only; the
scale is reset (every group rescaled once) before it could overflow.

``position`` is an estimate: the group's own jobs ahead of the job, plus, from every other waiting group, as many
jobs as its weight lets start meanwhile (at most all of its waiting jobs).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import ClassVar

from sim.policies import options
from sim.policies.context import QueueContext
from sim.policies.ranked import RankedList

EntryKey = tuple[float, int]
"""A waiting job within its group: (queue-entry time, job id)."""
GroupEntry = tuple[float, EntryKey, int]
"""A group in the heap: (usage / weight, its oldest job's key, group)."""
RESCALE_AFTER = 512.0
"""Half-lives after which the usage scale is reset (2^512 is far from float overflow at 2^1024)."""


class FairShare:
    """The oldest job of the group with the least decayed usage per weight starts next."""

    sees_every_job: ClassVar[bool] = True
    """Every start is charged, so every job passes through the queue."""

    def __init__(self, context: QueueContext, by: object = "user", weights: Mapping[str, object] | None = None,
                 default_weight: object = 1.0, half_life: object = "1h") -> None:
        self.context = context
        self.by = options.grouping("by", by)
        self.half_life = options.duration("half_life", half_life)
        fallback = options.positive("default_weight", default_weight)
        given = options.weights("weights", weights)
        names, self._group = context.groups(self.by)
        self.weights = [given.get(name, fallback) for name in names]
        self._expected = context.expected
        self._usage = [0.0] * len(names)
        """Each group's usage, scaled by 2^((t - reference) / half_life)."""
        self._reference = 0.0
        self._lanes: dict[int, RankedList[EntryKey]] = {}
        self._keys: dict[int, EntryKey] = {}
        self._heap: list[GroupEntry] = []
        self._current: dict[int, GroupEntry] = {}
        """The live heap entry of each group with waiting jobs (other entries in the heap are stale)."""

    def usage(self, now: float) -> dict[str, float]:
        """Each group's decayed usage at ``now``, in instrument seconds."""
        names, _ = self.context.groups(self.by)
        scale = 2.0 ** (-(now - self._reference) / self.half_life)
        return {name: self._usage[g] * scale for g, name in enumerate(names)}

    # --- the protocol ------------------------------------------------------------------------------------------

    def push(self, job: int, now: float) -> None:
        key = (self.context.entered(job), job)
        self._keys[job] = key
        group = self._group[job]
        lane = self._lanes.get(group)
        if lane is None:
            lane = self._lanes[group] = RankedList()
        head = lane.first() if lane else None
        lane.add(key)
        if head is None or key < head:
            self._refresh(group)

    def pop(self, now: float, instrument: int = 0) -> int | None:
        heap, current = self._heap, self._current
        while heap:
            entry = heap[0]
            group = entry[2]
            if current.get(group) is entry:
                break
            heapq.heappop(heap)
        else:
            return None
        job = self._lanes[group].pop_first()[1]
        del self._keys[job]
        self._charge(group, self._expected[job], now)
        self._refresh(group)
        return job

    def remove(self, job: int) -> None:
        key = self._keys.pop(job)
        group = self._group[job]
        lane = self._lanes[group]
        was_head = lane.first() == key
        lane.remove(key)
        if was_head:
            self._refresh(group)

    def position(self, job: int, now: float) -> int:
        group = self._group[job]
        ahead = self._lanes[group].rank(self._keys[job])
        rounds = (ahead + 1) / self.weights[group]
        others = sum(min(len(lane), math.floor(rounds * self.weights[g]))
                     for g, lane in self._lanes.items() if g != group and lane)
        return ahead + others

    def next_change(self, now: float) -> float | None:
        return None

    def __len__(self) -> int:
        return len(self._keys)

    # --- accounts ----------------------------------------------------------------------------------------------

    def _charge(self, group: int, seconds: float, now: float) -> None:
        exponent = (now - self._reference) / self.half_life
        if exponent > RESCALE_AFTER:
            self._rescale(now)
            exponent = 0.0
        self._usage[group] += seconds * 2.0 ** exponent

    def _rescale(self, now: float) -> None:
        """Move the reference time to ``now``: every usage shrinks by the same factor, so the order of groups
        stays; the heap is rebuilt with the new figures."""
        factor = 2.0 ** (-(now - self._reference) / self.half_life)
        self._usage = [u * factor for u in self._usage]
        self._reference = now
        self._heap = []
        self._current = {}
        for group in sorted(g for g, lane in self._lanes.items() if lane):
            self._refresh(group)

    def _refresh(self, group: int) -> None:
        """Put the group's current standing into the heap (or take it out when it has no waiting job)."""
        lane = self._lanes[group]
        if not lane:
            self._current.pop(group, None)
            return
        entry = (self._usage[group] / self.weights[group], lane.first(), group)
        self._current[group] = entry
        heapq.heappush(self._heap, entry)
        if len(self._heap) > 4 * len(self._current) + 64:  # mostly stale entries: keep the live ones only
            self._heap = sorted(self._current.values())
