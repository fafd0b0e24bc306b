"""The calibration service: it owns the calibration sets, serves the fetches, and recalibrates the instruments.

A job's FETCH_CALIBRATION stage reads the *current* set (fast when the service has it cached, slower when it
must be read from the database; ``hardware_mock.calibration.fetch_time``) and the job records the set's id.
A recalibration is requested at the plan's scheduled times and when the current set expires
(``hardware_mock.calibration.next_recalibration``). It claims every instrument ahead of the execution queue
(each as its current holder gives it back: real stations interleave calibration with user jobs), calibrates
each for the plan's duration, and only when every instrument is done creates the new set, which becomes
current. ``new_set()`` is an event triggered then: a job whose set expired waits for it before it is compiled
again, so that it never fetches the expired set a second time.

With restarts (documented rule): a recalibration is work of the service, so a restart ends it like any job
(its holdings end at the restart); it is requested again as soon as the service is up, and its set is made
when a whole recalibration has finished. A scheduled time that passes while the service is down is honoured the
same way: the recalibration starts when the service is up.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import simpy

from hardware_mock.calibration import CalibrationPlan, CalibrationSet, fetch_time, initial_set, next_recalibration
from sim.model.pools import RESTARTED, Pool
from sim.model.records import Holder, InstrumentPeriod, JobRecords
from sim.model.service import EventLog, Service

Process = Generator[simpy.Event, object, None]


class CalibrationService:
    """The calibration sets of one station and the recalibrations of its instruments (``pool``)."""

    def __init__(self, env: simpy.Environment, plan: CalibrationPlan, pool: Pool, service: Service,
                 records: JobRecords, log: EventLog, finished: Callable[[], bool]) -> None:
        self.env = env
        self.plan = plan
        self.pool = pool
        self.service = service
        self.records = records
        self.log = log
        self.finished = finished
        self.sets: list[CalibrationSet] = [initial_set(plan)]
        self._cached: int | None = None
        """The set the service has cached (the last one fetched)."""
        self._new_set: simpy.Event | None = None

    @property
    def current(self) -> CalibrationSet:
        return self.sets[-1]

    def fetch(self, job_id: int) -> float:
        """A job fetches the current set: it compiles against it; returns the seconds the fetch takes."""
        current = self.sets[-1]
        self.records.calibration_set[job_id] = current.id
        seconds = fetch_time(self.plan, current.id, self._cached)
        self._cached = current.id
        return seconds

    def is_valid(self, set_id: int) -> bool:
        return self.sets[set_id].is_valid_at(self.env.now)

    def new_set(self) -> simpy.Event:
        """An event triggered when the next set becomes current."""
        if self._new_set is None:
            self._new_set = self.env.event()
        return self._new_set

    def valid_set(self) -> Generator[simpy.Event, object, None]:
        """Wait until the current set is valid (at once, if it is)."""
        while not self.current.is_valid_at(self.env.now):
            yield self.new_set()

    # --- recalibration -----------------------------------------------------------------------------------------

    def recalibrations(self) -> Process:
        """The process that requests recalibrations and makes the new sets."""
        env = self.env
        while True:
            at, reason = next_recalibration(self.plan, self.sets[-1], env.now)
            if math.isinf(at):
                return
            yield env.timeout(max(at - env.now, 0.0))
            if self.finished():
                return
            self.log("recalibration_requested", None, reason)
            while True:
                if not self.service.up:
                    yield self.service.came_up()
                epoch = self.service.epoch
                yield env.all_of([env.process(self._calibrate(i, epoch)) for i in range(int(self.pool.capacity))])
                if self.service.epoch == epoch:
                    break
                self.log("recalibration_interrupted", None, "the service restarted; requested again once up")
            self.sets.append(CalibrationSet(len(self.sets), env.now, self.plan.valid_for))
            self.log("calibration_set", None, f"set {len(self.sets) - 1} current ({reason})")
            if self._new_set is not None:
                new_set, self._new_set = self._new_set, None
                new_set.succeed()

    def _calibrate(self, instrument: int, epoch: int) -> Process:
        claim = self.pool.claim(instrument, Holder.CALIBRATION)
        if not isinstance(claim, int) and (yield claim) == RESTARTED:
            return
        start = self.env.now
        self.log("calibration_start", None, f"instrument {instrument}")
        yield self.env.timeout(self.plan.duration)
        if self.service.epoch != epoch:  # a restart ended it
            return
        self.records.instrument_periods.append(InstrumentPeriod(instrument, "calibration", start, self.env.now))
        self.log("calibration_end", None, f"instrument {instrument}")
        self.pool.release(instrument)
