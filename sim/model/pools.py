"""Pools of servers (a stage's workers, the station's instruments), the record of who held each server, and the
dispatching of waiting jobs to them.

A job asks its pool for a server. If one is free and nobody waits, it gets it at once, with no SimPy event at
all: the common case costs nothing. Otherwise the job joins the pool's queue with an event that the pool
triggers when it hands over a server; the event's value is the server's index (which instrument, say).

**Holdings** are the one record of who held what. From the moment a server is handed over until it is given
back, the pool knows its holder (a job, or one of the station's own activities: a calibration, an outage, a
reset) and since when; giving it back closes the holding with how it ended (``Outcome``: done, failed,
aborted, restart, outage, timeout). Utilisation, service and execution times, progress and lost work are all
computed from holdings. When the service goes down (``shutdown``) every open holding ends at that moment with
``Outcome.RESTART``, so that no holding ever spans a downtime, and the pool forgets its queue and claims (they
were volatile state).

The queue is a scheduling policy (``sim.policies.protocol``): the pool tells it that a job joined (``push``) or
gave up (``remove``: an aborted job, withdrawn with ``cancel``, so that no server is ever handed to a job that
no longer waits), and whenever a server is free asks it which job starts now (``pop``). A policy may answer
"none now" (a reserved window belongs to someone else); the pool then keeps the server free and wakes itself at
the policy's ``next_change``, as well as at every arrival, release and withdrawal, to ask again. A policy that
must see every job (``sees_every_job``) is asked even when a job finds a free server and nobody waiting. A
policy that names a job that does not wait breaks the protocol: the pool raises the error its owner gave it.

Stage pools use ``FifoQueue``: first come, first served in the order the jobs asked. A pool of unlimited workers
has as many servers as jobs need (numbered as they are first used) and never queues. A *claim* asks for one
particular server ahead of every waiting job: the station's recalibrations and outages take an instrument that
way, as soon as its current holder gives it back.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from typing import ClassVar

import simpy

from sim.model.records import NOBODY, Holdings, Outcome
from sim.policies.protocol import SchedulingPolicy, pop_with_instrument
from sim.policies.ranked import RankedList

RESTARTED = -1
"""The value of a claim that a restart cancelled (a granted claim's value is the server index, 0 or more)."""


class FifoQueue:
    """First come, first served, in the order the jobs asked.

    Jobs wait in a deque (O(1) to join and to leave at the head). A withdrawn job is only marked (its entry
    number goes into a ``RankedList``) and skipped when it comes up. Entries are numbered as they join, so the
    jobs ahead of one are its number minus the head's, less the withdrawn entries between: O(log w) for w
    withdrawn jobs still in the deque.
    """

    sees_every_job: ClassVar[bool] = False

    def __init__(self) -> None:
        self._entries: deque[int] = deque()
        self._number: dict[int, int] = {}
        """Each waiting job's entry number (entries are numbered 0, 1, ... as they join)."""
        self._head = 0
        """The number of the entry at the head of the deque."""
        self._withdrawn: RankedList[int] = RankedList()
        """Numbers of withdrawn entries still in the deque."""
        self._skips = 0
        """How many (``len(self._withdrawn)``, kept as a plain number for the hot path)."""

    def push(self, job: int, now: float) -> None:
        self._number[job] = self._head + len(self._entries)
        self._entries.append(job)

    def pop(self, now: float, server: int = 0) -> int | None:
        if not self._number:
            return None
        if not self._skips:  # nobody withdrawn: the head waits
            job = self._entries.popleft()
            self._head += 1
            del self._number[job]
            return job
        while True:
            job = self._entries.popleft()
            number = self._head
            self._head = number + 1
            if self._skips and self._withdrawn.first() == number:
                self._withdrawn.pop_first()
                self._skips -= 1
                continue
            del self._number[job]
            return job

    def remove(self, job: int) -> None:
        self._withdrawn.add(self._number.pop(job))
        self._skips += 1

    def position(self, job: int, now: float) -> int:
        number = self._number[job]
        return number - self._head - self._withdrawn.rank(number)

    def next_change(self, now: float) -> float | None:
        return None

    def __len__(self) -> int:
        return len(self._number)


def _protocol_error(message: str, job: object = None) -> Exception:
    return RuntimeError(f"scheduling policy: {message}")


def _raised(error: Exception) -> str:
    return f"raised {type(error).__name__}: {error}"


class Pool:
    """``capacity`` servers (``math.inf``: as many as asked for), indexed from 0, handed out lowest index first,
    to the jobs ``queue`` picks. ``on_bad_choice(message, job)`` builds the error raised when the queue breaks the
    protocol or raises (``job``: the job it named, if any)."""

    def __init__(self, env: simpy.Environment, name: str, capacity: float, queue: SchedulingPolicy,
                 holdings: Holdings, on_bad_choice: Callable[[str, object], Exception] = _protocol_error) -> None:
        self.env = env
        self.name = name
        self.capacity = capacity
        self.unlimited = math.isinf(capacity)
        self.queue = queue
        self._push = queue.push
        self._pop, self._per_server = pop_with_instrument(queue)
        """``pop(now, server)``, and whether the answer may differ by server (else one None answers for all)."""
        self._bypass = self.unlimited or not getattr(queue, "sees_every_job", True)
        """Whether a job that finds a free server and nobody waiting may start without asking the queue."""
        self._bad_choice = on_bad_choice
        self.holdings = holdings
        self._holder_of = holdings.holder_of
        self._since = holdings.since
        self._record = holdings.rows.extend
        if not self.unlimited:
            holdings.holder_of.extend([NOBODY] * int(capacity))
            holdings.since.extend([0.0] * int(capacity))
        self._reset_volatile()

    def _reset_volatile(self) -> None:
        """Every server free, nobody waiting, no claims (the state after a restart)."""
        self._free: list[int] = [] if self.unlimited else list(range(int(self.capacity)))
        self._next_server = len(self._holder_of) if self.unlimited else 0
        """With unlimited servers: the index the next new server gets."""
        self._waiting: dict[int, simpy.Event] = {}
        self._claims: dict[int, deque[tuple[int, simpy.Event]]] = {}
        self._wake_at = math.inf
        self._wake: simpy.Event | None = None
        """The pending wake-up at ``_wake_at``, if any."""

    @property
    def idle(self) -> bool:
        return self.busy == 0 and not self._waiting and not self._claims

    @property
    def busy(self) -> int:
        return len(self._holder_of) - self._holder_of.count(NOBODY)

    def holder(self, server: int) -> int:
        """Who holds ``server`` now (``NOBODY`` if free)."""
        return self._holder_of[server] if 0 <= server < len(self._holder_of) else NOBODY

    def held_since(self, server: int) -> float:
        return self._since[server]

    def _begin(self, server: int, holder: int, now: float) -> None:
        self._holder_of[server] = holder
        self._since[server] = now

    def _close(self, server: int, now: float, outcome: int) -> None:
        self._record((server, self._holder_of[server], self._since[server], now, outcome))
        self._holder_of[server] = NOBODY

    # --- jobs --------------------------------------------------------------------------------------------------

    def acquire(self, job_id: int, now: float) -> int | simpy.Event:
        """A server index now (the current simulated time), or an event whose value will be the server index."""
        if self._bypass and not self._waiting:
            if self._free:
                server = heapq.heappop(self._free)
                self._holder_of[server] = job_id
                self._since[server] = now
                return server
            if self.unlimited:
                server = self._next_server
                self._next_server = server + 1
                self._holder_of.append(job_id)
                self._since.append(now)
                return server
        grant = self.env.event()
        self._waiting[job_id] = grant
        try:
            self._push(job_id, now)
        except Exception as error:  # the policy's own bug: stop the run naming it (zero cost when none)
            raise self._bad_choice(f"{_raised(error)} in push(job {job_id}, now={now:.9g})", job_id) from error
        if self._free:
            self._dispatch()
            if grant.triggered:  # the policy chose this very job: no need to wait for the event
                return int(grant.value)  # type: ignore[arg-type]  # a grant's value is its server index
        return grant

    def release(self, server: int, outcome: int = Outcome.DONE, now: float | None = None) -> None:
        """End the holding of ``server`` (at ``now``, the current simulated time, which a caller that has it may
        pass) and pass the server on: to a claim on it first, then to the job the queue picks, else to the free
        list."""
        self._record((server, self._holder_of[server], self._since[server], self.env.now if now is None else now,
                      outcome))
        self._holder_of[server] = NOBODY
        if self._claims or self._waiting:
            self._pass_on(server, self.env.now if now is None else now)
        else:
            heapq.heappush(self._free, server)

    def _pass_on(self, server: int, now: float) -> None:
        if self._claims and server in self._claims:
            claims = self._claims[server]
            holder, claim = claims.popleft()
            if not claims:
                del self._claims[server]
            self._begin(server, holder, now)
            claim.succeed(server)
        elif self._waiting:
            try:  # (inline, not ``_ask``: this is every start from a queue)
                job = self._pop(now, server)
            except Exception as error:
                raise self._raised_in_pop(error, now, server) from error
            grant = self._waiting.pop(job, None)  # type: ignore[arg-type]  # None when the policy holds back
            if grant is not None:
                self._holder_of[server] = job  # type: ignore[assignment]  # a job the queue named
                self._since[server] = now
                grant.succeed(server)
            elif job is None:
                heapq.heappush(self._free, server)
                self._ask_later()
            else:
                raise self._not_waiting(job, now, server)
        else:
            heapq.heappush(self._free, server)

    def waits(self, job_id: int) -> bool:
        """Whether ``job_id`` waits in this pool's queue now."""
        return job_id in self._waiting

    def waiting_jobs(self) -> list[int]:
        """The jobs waiting in the queue now, by id."""
        return sorted(self._waiting)

    def free_servers(self) -> list[int]:
        """The servers free now, by index."""
        return sorted(self._free)

    def position(self, job_id: int) -> int | None:
        """Jobs ahead of ``job_id`` in this pool's queue, or None if it does not wait here (or waits, but the
        queue's policy cannot say: see ``waits``)."""
        if job_id not in self._waiting:
            return None
        try:
            return self.queue.position(job_id, self.env.now)
        except Exception as error:
            raise self._bad_choice(f"{_raised(error)} in position(job {job_id}, now={self.env.now:.9g})",
                                   job_id) from error

    def wait(self, job_id: int, grant: simpy.Event) -> Generator[simpy.Event, object, int]:
        """Wait for the server ``acquire`` promised with ``grant``; a job interrupted while it waits (aborted,
        say) withdraws its request and the interrupt goes on."""
        try:
            server = yield grant
        except simpy.Interrupt:
            self.cancel(job_id, grant)
            raise
        assert isinstance(server, int)
        return server

    def cancel(self, job_id: int, grant: simpy.Event) -> None:
        """Withdraw a job's request: out of the queue if it still waits, or pass on a server granted to it that it
        never took up (it was interrupted in the same instant). A request from before a restart is gone already."""
        if self._waiting.get(job_id) is not grant:
            if grant.triggered and self.holder(grant.value) == job_id:  # type: ignore[arg-type]
                self.release(grant.value, Outcome.ABORTED)  # type: ignore[arg-type]  # its server index
            return
        del self._waiting[job_id]
        self._remove(job_id)
        if self._free and self._waiting:  # a policy that held jobs back may now start one
            self._dispatch()

    # --- the station's own activities ----------------------------------------------------------------------------

    def claim(self, server: int, holder: int) -> int | simpy.Event:
        """Ask for one particular server ahead of every waiting job, for ``holder`` (a recalibration or an outage
        of that instrument): the server now if it is free, else an event triggered when its current holder gives
        it back (its value: the server, or ``RESTARTED`` when a restart cancelled the claim). Claims on one
        server are served in the order made."""
        if server in self._free and server not in self._claims:
            self._free.remove(server)
            heapq.heapify(self._free)
            self._begin(server, holder, self.env.now)
            return server
        claim = self.env.event()
        self._claims.setdefault(server, deque()).append((holder, claim))
        return claim

    def hand_over(self, server: int, outcome: int, holder: int) -> None:
        """End the holding of ``server`` with ``outcome`` and let ``holder`` hold it from now (a timed-out run's
        instrument goes straight into its reset)."""
        now = self.env.now
        self._close(server, now, outcome)
        self._begin(server, holder, now)

    def withdraw(self, server: int, holder: int, claim: simpy.Event) -> None:
        """``holder`` no longer wants the server it claimed (an aborted job): drop the claim, or give the server
        back if it was granted in the same instant."""
        if claim.triggered:
            if claim.value == server and self.holder(server) == holder:
                self.release(server, Outcome.ABORTED)
            return
        claims = self._claims[server]
        claims.remove((holder, claim))
        if not claims:
            del self._claims[server]

    def shutdown(self) -> None:
        """The service went down: every holding ends now (``Outcome.RESTART``), claims are cancelled (their events
        get ``RESTARTED``), the waiting jobs leave the queue (the policy keeps its own accounts) and every server
        is free."""
        now = self.env.now
        for server in sorted(self.holdings.open()):
            self._close(server, now, Outcome.RESTART)
        for job in self._waiting:
            self._remove(job)
        claims = [claim for queue in self._claims.values() for _, claim in queue]
        self._reset_volatile()
        for claim in claims:
            claim.succeed(RESTARTED)

    # --- dispatching -------------------------------------------------------------------------------------------

    def _not_waiting(self, job: object, now: float, server: int) -> Exception:
        return self._bad_choice(f"broke the scheduling protocol: pop(now={now:.9g}, instrument={server}) returned "
                                f"job {job!r}, which is not waiting in the queue ({self._who_waits()})", job)

    def _who_waits(self) -> str:
        jobs = sorted(self._waiting)
        shown = ", ".join(map(str, jobs[:5])) + (", ..." if len(jobs) > 5 else "")
        return f"{len(jobs)} job{'s' if len(jobs) != 1 else ''} wait{'s' if len(jobs) == 1 else ''}: {shown}" \
            if jobs else "no job waits"

    def _ask(self, now: float, server: int) -> int | None:
        """The queue's choice for ``server`` (a policy that raises stops the run, naming it)."""
        try:
            return self._pop(now, server)
        except Exception as error:
            raise self._raised_in_pop(error, now, server) from error

    def _raised_in_pop(self, error: Exception, now: float, server: int) -> Exception:
        return self._bad_choice(f"{_raised(error)} in pop(now={now:.9g}, instrument={server}) ({self._who_waits()})",
                                None)

    def _remove(self, job: int) -> None:
        try:
            self.queue.remove(job)
        except Exception as error:
            raise self._bad_choice(f"{_raised(error)} in remove(job {job})", job) from error

    def _dispatch(self) -> None:
        """Hand the free servers to the jobs the queue picks now (asking for each free server, lowest first, when
        the queue's answer may depend on the server); when it picks none for some while jobs wait, wake up when
        it says the answer may change."""
        now = self.env.now
        held_back: list[int] = []
        while self._free and self._waiting:
            server = heapq.heappop(self._free)
            job = self._ask(now, server)
            if job is None:
                held_back.append(server)
                if self._per_server:
                    continue
                break
            grant = self._waiting.pop(job, None)
            if grant is None:
                heapq.heappush(self._free, server)
                raise self._not_waiting(job, now, server)
            self._begin(server, job, now)
            grant.succeed(server)
        if held_back:
            for server in held_back:
                heapq.heappush(self._free, server)
            if self._waiting:
                self._ask_later()

    def _ask_later(self) -> None:
        now = self.env.now
        try:
            at = self.queue.next_change(now)
        except Exception as error:
            raise self._bad_choice(f"{_raised(error)} in next_change(now={now:.9g}) ({self._who_waits()})",
                                   None) from error
        if at is None:
            return
        if not at > now:
            raise self._bad_choice(f"broke the scheduling protocol: next_change({now:.9g}) returned {at!r}; expected "
                                   "a time after now (or None)", None)
        if self._wake is not None and now < self._wake_at <= at:
            return  # a wake-up is already due no later
        self._wake_at = at
        wake = self._wake = self.env.timeout(at - now)
        wake.callbacks.append(self._woken)

    def _woken(self, event: simpy.Event) -> None:
        if event is self._wake:  # not a wake-up replaced by an earlier one, nor one from before a restart
            self._wake = None
            self._dispatch()
