"""The job-executor service itself: up, down or recovering, and the restarts that take it down.

The service is a small state machine::

    UP --restart--> DOWN --downtime over--> RECOVERING --in-progress jobs cleaned up--> UP

Every transition is logged (``transitions``) and each downtime is kept as an interval (``downtimes``). Each
time the service goes down its *epoch* grows: a process of the station's own (a recalibration, an outage, a
reset) that finds a new epoch after a wait knows that the restart already ended what it held. ``came_up()`` is
an event triggered when the service is next up (at once, if it is up now).

Restarts fall due at the scenario's scheduled times and at random ones. The rules, by design:

- the time between random restarts is *uptime*: each gap (exponential, mean ``mean_time_between``) is drawn
  when the service comes up and counted from then;
- a scheduled restart that falls due while the service is down (or recovering) is *absorbed*: the service is
  already restarting, so it is recorded as a ``restart_absorbed`` event and causes no second downtime;
- the downtime of each restart is drawn from ``downtime`` when it begins.

A station that makes no progress across many restarts (no job settled over ``STALLED_RESTARTS`` restarts in a
row, as when the uptime between restarts is shorter than any job) stops with ``NoProgress`` rather than
restarting for ever.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Generator
from enum import Enum

import simpy

from sim.model.records import Event, JobRecords
from sim.scenario.faults import Restarts
from sim.scenario.streams import RandomStreams

STALLED_RESTARTS = 200
"""Restarts in a row with no job settled, after which the run stops with ``NoProgress``."""


class NoProgress(RuntimeError):
    """The station can make no further progress: the run stops, saying why (not a hang)."""


class ServiceState(Enum):
    UP = "up"
    DOWN = "down"
    RECOVERING = "recovering"


class EventLog:
    """Station-level happenings, appended to the job records' ``events`` with the current simulated time."""

    def __init__(self, env: simpy.Environment, records: JobRecords) -> None:
        self.env = env
        self.events = records.events

    def __call__(self, kind: str, job_id: int | None = None, detail: str = "") -> None:
        self.events.append(Event(self.env.now, kind, job_id, detail))


class Service:
    """The service's state, its log of transitions and its downtimes."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.state = ServiceState.UP
        self.epoch = 0
        self.transitions: list[tuple[float, ServiceState]] = [(0.0, ServiceState.UP)]
        self.downtimes: list[tuple[float, float]] = []
        """(went down, came up) of every restart that has ended."""
        self.down_since = math.nan
        self._up_again: simpy.Event | None = None

    @property
    def up(self) -> bool:
        return self.state is ServiceState.UP

    def came_up(self) -> simpy.Event:
        """An event triggered when the service is next up (already triggered if it is up now)."""
        if self.up:
            event = self.env.event()
            event.succeed()
            return event
        if self._up_again is None:
            self._up_again = self.env.event()
        return self._up_again

    def _enter(self, state: ServiceState) -> None:
        self.state = state
        self.transitions.append((self.env.now, state))

    def go_down(self) -> None:
        assert self.up, "the service can only go down from up"
        self.epoch += 1
        self.down_since = self.env.now
        self._enter(ServiceState.DOWN)

    def recover(self) -> None:
        assert self.state is ServiceState.DOWN
        self._enter(ServiceState.RECOVERING)

    def come_up(self) -> None:
        assert self.state is ServiceState.RECOVERING
        self.downtimes.append((self.down_since, self.env.now))
        self._enter(ServiceState.UP)
        if self._up_again is not None:
            up_again, self._up_again = self._up_again, None
            up_again.succeed()


def restart_driver(env: simpy.Environment, service: Service, restarts: Restarts, streams: RandomStreams,
                   log: EventLog, go_down: Callable[[], None], recover: Callable[[], None],
                   finished: Callable[[], bool], settled: Callable[[], int]) -> Generator[simpy.Event, object, None]:
    """The process that restarts the service: ``go_down()`` at each restart, ``recover()`` once the downtime is
    over (the station cleans up and comes up)."""
    scheduled = sorted(restarts.times)
    next_scheduled = 0
    mean_gap = restarts.mean_time_between
    gaps = streams("restarts") if mean_gap is not None else None
    downtime = streams("restarts.downtime")
    stalled, settled_before = 0, settled()
    while True:
        random_due = env.now + float(gaps.exponential(mean_gap)) if gaps is not None and mean_gap else math.inf
        scheduled_due = scheduled[next_scheduled] if next_scheduled < len(scheduled) else math.inf
        due = min(random_due, scheduled_due)
        if math.isinf(due):
            return
        if due > env.now:
            yield env.timeout(due - env.now)
        if finished():
            return
        if due == scheduled_due:
            next_scheduled += 1
        go_down()
        yield env.timeout(float(restarts.downtime.sample(downtime, 1)[0]))
        while next_scheduled < len(scheduled) and scheduled[next_scheduled] <= env.now:
            log("restart_absorbed", None, f"restart due at {scheduled[next_scheduled]:.9g} s fell in the downtime "
                f"that began at {service.down_since:.9g} s")
            next_scheduled += 1
        recover()
        stalled = stalled + 1 if settled() == settled_before else 0
        settled_before = settled()
        if stalled >= STALLED_RESTARTS:
            raise NoProgress(f"no job finished over {stalled} restarts in a row (the service was up for "
                             f"{_mean_uptime(service, stalled):.3g} s on average between them)")


def _mean_uptime(service: Service, last: int) -> float:
    downs = service.downtimes[-last:]
    ups = [later[0] - earlier[1] for earlier, later in itertools.pairwise(downs)]
    return sum(ups) / len(ups) if ups else 0.0
