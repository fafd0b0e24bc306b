"""Ordering assertions: did the execution queue start jobs in the order its policy promises?

Every promise here is about *overtaking*. Job K overtakes job J when K takes an instrument at ``s_K`` while J
waits in the execution queue: J entered PENDING_EXECUTION before (``e_J < s_K``) and leaves the queue after
(``s_K < leave_J``, J's own start, or the abort or failure that took it out; never, if it still waits when the run
ends). Jobs that enter or leave in the very instant K starts do not count: within one instant the order of
events is not the policy's. A policy's order is a *rank* per job (more urgent first), or the policy's own *key*
(a function of a job, least first, as ``KeyPolicy.key``: ``key_rank`` turns it into a rank, ties broken by
queue-entry time and job id as the key policies do); an ``Overtaking`` is a start while a more urgent job
waited. ``overtakings`` finds them all in O(n log n) (one sweep over time with a
heap of waiting jobs); the ``assert_*`` functions raise an ``AssertionError`` that says which rule broke and
shows the first cases.

Jobs sent back from the instrument to be recompiled (their calibration set expired) leave the queue for a while
without a record of it; they are left out as waiting jobs (``recompiled``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware_mock.calibration import CalibrationSet, initial_set, next_recalibration
from hardware_mock.timing import execution_time
from sim.model.status import ABORTED, EXECUTION_STARTED, FAILED, PENDING_EXECUTION
from sim.results.run import RunResult
from sim.scenario.streams import RandomStreams

Floats = npt.NDArray[np.float64]
SHOW = 10
"""Cases shown in an assertion's message."""


@dataclass(frozen=True)
class Overtaking:
    """Job ``job`` started at ``started`` while the more urgent job ``waiting`` waited."""

    job: int
    started: float
    entered: float
    waiting: int
    waiting_entered: float
    waiting_until: float

    def __str__(self) -> str:
        return self.describe()

    def describe(self, about: Callable[[int], str] | None = None) -> str:
        """One line; ``about(job)`` adds what the rule is about (``"priority 2"``) to each job."""
        def job(j: int, entered: float) -> str:
            extra = f"{about(j)}, " if about is not None else ""
            return f"job {j} ({extra}entered t={entered:.6g})"

        until = "the end of the run" if math.isinf(self.waiting_until) else f"t={self.waiting_until:.6g}"
        return (f"{job(self.job, self.entered)} started at t={self.started:.6g} while "
                f"{job(self.waiting, self.waiting_entered)} waited until {until}")


@dataclass(frozen=True)
class QueueTimes:
    """Per job: when it entered the execution queue, started on an instrument and left the queue (NaN: never
    entered or never started; ``left`` is inf for a job still waiting at the end)."""

    entered: Floats
    started: Floats
    left: Floats

    @classmethod
    def of(cls, result: RunResult) -> QueueTimes:
        times = result.times
        entered = times[:, PENDING_EXECUTION].copy()
        started = times[:, EXECUTION_STARTED].copy()
        ended = np.fmin(started, np.fmin(times[:, FAILED], times[:, ABORTED]))
        left = np.where(np.isnan(ended), np.inf, ended)
        left[np.isnan(entered)] = np.nan
        return cls(entered, started, left)


def recompiled(result: RunResult) -> set[int]:
    """Jobs that went back to compilation from the execution queue."""
    return {e.job_id for e in result.records.events if e.kind == "recompile" and e.job_id is not None}


def overtakings(result: RunResult, rank: Rank, *, exclude: Iterable[int] = ()) -> list[Overtaking]:
    """Every start of a job while a job of higher ``rank`` (one number per job: more urgent = higher; or a
    policy's key function, least first) waited, in order of start time. Jobs in ``exclude`` (and recompiled
    jobs) do not count as waiting."""
    q = QueueTimes.of(result)
    urgency = np.asarray(_as_rank(result, rank), dtype=np.float64)
    skip = np.zeros(len(q.entered), dtype=bool)
    skip[list({*exclude, *recompiled(result)})] = True
    waiting = np.flatnonzero(~np.isnan(q.entered) & ~skip)
    starting = np.flatnonzero(~np.isnan(q.started))
    # events: (time, order within an instant: leave 0 < start 1 < enter 2, job)
    times = np.concatenate([q.left[waiting], q.started[starting], q.entered[waiting]])
    kinds = np.concatenate([np.zeros(len(waiting)), np.ones(len(starting)), np.full(len(waiting), 2)])
    jobs = np.concatenate([waiting, starting, waiting])
    order = np.lexsort((jobs, kinds, times))
    found: list[Overtaking] = []
    heap: list[tuple[float, float, int]] = []
    gone = np.zeros(len(q.entered), dtype=bool)
    urgency_of, entered_of = urgency.tolist(), q.entered.tolist()
    for t, kind, job in zip(times[order].tolist(), kinds[order].tolist(), jobs[order].tolist(), strict=True):
        if kind == 2:
            heapq.heappush(heap, (-urgency_of[job], entered_of[job], job))
        elif kind == 0:
            gone[job] = True
        else:
            while heap and gone[heap[0][2]]:
                heapq.heappop(heap)
            if heap and -heap[0][0] > urgency_of[job]:
                j = heap[0][2]
                found.append(Overtaking(job, t, entered_of[job], j, entered_of[j], float(q.left[j])))
    return found


def _fail(rule: str, found: Sequence[Overtaking], result: RunResult,
          about: Callable[[int], str] | None = None) -> None:
    __tracebackhide__ = True  # pytest: show the message, not the kit's frames
    if not found:
        return
    started = int(np.count_nonzero(~np.isnan(result.times[:, EXECUTION_STARTED])))
    lines = [f"{rule}: {len(found)} of {started:,} starts overtook a job that should have gone first "
             f"(first {min(len(found), SHOW)}):"]
    lines += [f"  {case.describe(about)}" for case in found[:SHOW]]
    raise AssertionError("\n".join(lines))


def entry_rank(result: RunResult, *first: npt.ArrayLike) -> Floats:
    """Urgency by a lexicographic key (``first`` keys, least first), then queue-entry time, then job id:
    the least key gets the highest rank."""
    entered = result.times[:, PENDING_EXECUTION]
    ids = np.arange(len(entered))
    order = np.lexsort((ids, np.nan_to_num(entered, nan=np.inf), *reversed([np.asarray(k) for k in first])))
    rank = np.empty(len(entered))
    rank[order] = -np.arange(len(entered), dtype=np.float64)
    return rank


def assert_fifo_order(result: RunResult, *, exclude: Iterable[int] = ()) -> None:
    """Jobs start in queue-entry order (then by job id): no start while a job that entered before waited."""
    __tracebackhide__ = True
    _fail("FIFO order broken", overtakings(result, entry_rank(result), exclude=exclude), result)


def assert_priority_order(result: RunResult, *, fifo_within_class: bool = False,
                          exclude: Iterable[int] = ()) -> None:
    """No job waits behind a lower-priority job that started after it was queued (and, with
    ``fifo_within_class``, none behind a job of its own class that entered after it)."""
    __tracebackhide__ = True
    priority = result.workload.priority
    rank = entry_rank(result, -priority) if fifo_within_class else priority.astype(np.float64)
    _fail("priority order broken", overtakings(result, rank, exclude=exclude), result,
          lambda job: f"priority {priority[job]}")


def key_rank(result: RunResult, key: Callable[[int], Sequence[object]]) -> Floats:
    """A rank from a policy's key (``key(job)``, a tuple, least first; then queue-entry time, then job id): the
    jobs that entered the execution queue ranked as a key policy orders them (the others last)."""
    entered = result.times[:, PENDING_EXECUTION]
    queued = np.flatnonzero(~np.isnan(entered)).tolist()
    entered_of = entered.tolist()
    order = sorted(queued, key=lambda job: (*key(job), entered_of[job], job))
    rank = np.full(len(entered), -math.inf)
    rank[order] = -np.arange(len(order), dtype=np.float64)
    return rank


Rank = npt.ArrayLike | Callable[[int], Sequence[object]]
"""One number per job (higher: more urgent), or a policy's key function (least first)."""


def _as_rank(result: RunResult, rank: Rank) -> npt.ArrayLike:
    return key_rank(result, rank) if callable(rank) else rank


def assert_no_overtaking(result: RunResult, rank: Rank, *, rule: str = "order broken",
                         exclude: Iterable[int] = (), about: Callable[[int], str] | None = None) -> None:
    """No job starts while a job of higher ``rank`` waits (``rank``: one number per job, or the policy's own key
    function, such as ``policy_of(result).key``, least first). The message names ``rule``; ``about(job)`` says
    what matters about each job shown (``"priority 2, short"``)."""
    __tracebackhide__ = True
    _fail(rule, overtakings(result, _as_rank(result, rank), exclude=exclude), result, about)


def assert_aging_order(result: RunResult, step: float, *, exclude: Iterable[int] = ()) -> None:
    """Aging's promise: no job J is overtaken by a job K that entered more than (priority_K - priority_J) x
    ``step`` seconds after it (equivalently, the least ``entered - priority x step`` goes first)."""
    __tracebackhide__ = True
    entered = result.times[:, PENDING_EXECUTION]
    priority = result.workload.priority
    key = np.nan_to_num(entered, nan=np.inf) - priority * step
    _fail(f"aging order (step {step:g} s) broken", overtakings(result, entry_rank(result, key), exclude=exclude),
          result, lambda job: f"priority {priority[job]}")


def expected_execution(result: RunResult) -> Floats:
    """Each job's expected seconds on the instruments, as the scheduling policies see it (the longest over the
    station's devices; the drawn time when the scenario gives a plain ``execution_time``)."""
    hardware, w = result.scenario.hardware, result.workload
    if hardware.execution_time is not None:
        drawn: Floats = hardware.execution_time.sample(RandomStreams(result.seed).fresh("hardware"), len(w))
        return drawn
    times = [execution_time(device, w.circuits, w.shots, w.depth, w.sweep_points) for device in set(hardware.devices)]
    longest: Floats = np.max(times, axis=0)
    return longest


def assert_shortest_first(result: RunResult, *, exclude: Iterable[int] = ()) -> None:
    """No job starts while a job with a shorter expected execution time (or as short, entered before) waits."""
    __tracebackhide__ = True
    expected = expected_execution(result)
    _fail("shortest-first order broken", overtakings(result, entry_rank(result, expected), exclude=exclude), result,
          lambda job: f"expected {expected[job]:.4g} s")


# --- reserved windows, fair shares, recalibrations -----------------------------------------------------------

def window_violations(result: RunResult) -> list[str]:
    """Starts in a reserved window by a job that is not the owner's, and timeslot starts outside the owner's
    windows (while the owner has windows to come), as messages."""
    scheduler, w = result.scenario.scheduler, result.workload
    windows = scheduler.windows
    clock = scheduler.start_time_of_day
    if clock is None:
        plan = result.scenario.calibration
        clock = plan.start_time_of_day if plan is not None else 0.0
    started = result.times[:, EXECUTION_STARTED]
    users = np.array(w.users, dtype=object)[w.user]
    projects = np.array(w.projects, dtype=object)[w.project]
    found: list[str] = []
    owns_open = np.zeros(len(w), dtype=bool)  # the job is an owner of a window open when it starts
    any_open = np.zeros(len(w), dtype=bool)
    for job in np.flatnonzero(~np.isnan(started)).tolist():
        t = float(started[job])
        for window in windows:
            if window.is_open(t, clock):
                any_open[job] = True
                mine = users[job] if window.by == "user" else projects[job]
                owns_open[job] |= mine == window.owner
    for job in np.flatnonzero(any_open & ~owns_open).tolist():
        found.append(f"job {job} (user {users[job]}, project {projects[job]}) started at t={started[job]:.6g} "
                     "in a window reserved for someone else")
    for job in np.flatnonzero(w.use_timeslot & ~np.isnan(started) & ~owns_open).tolist():
        owned = [wd for wd in windows if (users[job] if wd.by == "user" else projects[job]) == wd.owner]
        if any(wd.closes_for_good > started[job] for wd in owned):
            found.append(f"timeslot job {job} (user {users[job]}) started at t={started[job]:.6g}, outside its "
                         "owner's windows")
    return found


def assert_windows_respected(result: RunResult) -> None:
    """During a reserved window only its owner's jobs start, and timeslot jobs start only in their owner's
    windows."""
    __tracebackhide__ = True
    found = window_violations(result)
    if found:
        raise AssertionError(f"reserved windows broken: {len(found)} starts (first {min(len(found), SHOW)}):\n"
                             + "\n".join(f"  {line}" for line in found[:SHOW]))


def instrument_shares(result: RunResult, by: str = "user", *, start: float = 0.0,
                      end: float = math.inf) -> dict[str, float]:
    """Each group's share of the instrument seconds of the jobs that started in [start, end)."""
    w = result.workload
    names, group = (w.users, w.user) if by == "user" else (w.projects, w.project)
    started = result.times[:, EXECUTION_STARTED]
    chosen = ~np.isnan(started) & (started >= start) & (started < end)
    seconds = expected_execution(result)
    totals = np.bincount(group[chosen], weights=seconds[chosen], minlength=len(names))
    whole = float(totals.sum())
    return {name: float(totals[i]) / whole if whole else math.nan for i, name in enumerate(names)}


def assert_shares(result: RunResult, weights: Mapping[str, float], *, by: str = "user", tolerance: float = 0.02,
                  start: float = 0.0, end: float = math.inf) -> dict[str, float]:
    """Each group's share of instrument seconds started in [start, end) is within ``tolerance`` (absolute) of
    its weight over the sum of the weights; returns the shares."""
    __tracebackhide__ = True
    shares = instrument_shares(result, by, start=start, end=end)
    total = sum(weights.values())
    wrong = [f"  {name}: share {shares.get(name, 0.0):.4f}, weight share {weight / total:.4f}"
             for name, weight in weights.items() if not abs(shares.get(name, 0.0) - weight / total) <= tolerance]
    if wrong:
        raise AssertionError(f"instrument shares by {by} from t={start:g} to t={end:g} off by more than "
                             f"{tolerance:g}:\n" + "\n".join(wrong))
    return shares


def recalibration_overruns(result: RunResult) -> list[str]:
    """Jobs that started although their expected end came after the next recalibration request (other than
    jobs longer than their whole calibration period: from the current set's creation to that request)."""
    plan = result.scenario.calibration
    if plan is None:
        return []
    events = result.records.events
    requests = np.array([e.t for e in events if e.kind == "recalibration_requested"])
    new_sets = np.array([initial_set(plan).created_at, *(e.t for e in events if e.kind == "calibration_set")])
    started = result.times[:, EXECUTION_STARTED]
    expected = expected_execution(result)
    found = []
    for job in np.flatnonzero(~np.isnan(started)).tolist():
        t = float(started[job])
        created = float(new_sets[new_sets <= t].max())
        later = requests[requests >= t]
        current = CalibrationSet(0, created, plan.valid_for)
        deadline = float(later[0]) if len(later) else next_recalibration(plan, current, t)[0]
        if t + expected[job] > deadline and expected[job] <= deadline - created:
            found.append(f"job {job} started at t={t:.6g}, expected to run {expected[job]:.6g} s, past the "
                         f"recalibration requested at t={deadline:.6g}")
    return found


def assert_recalibrations_respected(result: RunResult) -> None:
    """The calibration-aware promise: no job starts whose expected end comes after the next recalibration
    request (unless it is longer than its whole calibration period)."""
    __tracebackhide__ = True
    found = recalibration_overruns(result)
    if found:
        raise AssertionError(f"jobs ran into a recalibration: {len(found)} (first {min(len(found), SHOW)}):\n"
                             + "\n".join(f"  {line}" for line in found[:SHOW]))
