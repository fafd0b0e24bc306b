"""The calibration service: it owns the calibration sets, serves the fetches, and recalibrates the instruments.

A job's FETCH_CALIBRATION stage reads the *current* set (fast when the service has it cached, slower when it
must be read from the database; ``hardware_mock.calibration.fetch_time``) and the job records the set's id.

Each instrument is recalibrated on its own schedule (``CalibrationPlan.for_instrument``: the fleet's times of day
staggered, or its own) and when the set its last recalibration made expires
(``hardware_mock.calibration.next_recalibration``). A recalibration claims its instrument ahead of the
execution queue (as its current holder gives it back: real stations interleave calibration with user jobs),
holds it for a drawn duration (the plan's ``duration``, a number or a distribution, from the instrument's own
stream), then makes a new set, which becomes the station's current set. The station keeps one sequence of sets:
the current one holds every instrument's latest parameters, so a recalibration of any instrument makes a new one.
``new_set()`` is an event triggered then: a job whose set expired waits for it before it is compiled again, so
that it never fetches the expired set a second time. The other instruments go on serving jobs meanwhile: a
staggered fleet never has more than one instrument calibrating when the schedules do not overlap.

With restarts (documented rule): a recalibration is work of the service, so a restart ends it like any job
(its holding ends at the restart); it is requested again as soon as the service is up (with the same drawn
length), and its set is made when a whole recalibration has finished. A scheduled time that passes while the
service is down is honoured the same way: the recalibration starts when the service is up. A scheduled time
that passes while the instrument's previous recalibration is still running or waiting is skipped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import simpy

from hardware_mock.calibration import CalibrationPlan, CalibrationSet, fetch_time, initial_set, next_recalibration
from sim.model.pools import RESTARTED, Pool
from sim.model.records import Holder, InstrumentPeriod, JobRecords
from sim.model.service import EventLog, Service
from sim.scenario.streams import RandomStreams

Process = Generator[simpy.Event, object, None]


class CalibrationService:
    """The calibration sets of one station and the recalibrations of its instruments (``pool``)."""

    def __init__(self, env: simpy.Environment, plan: CalibrationPlan, pool: Pool, service: Service,
                 records: JobRecords, log: EventLog, finished: Callable[[], bool], streams: RandomStreams) -> None:
        self.env = env
        self.plan = plan
        self.pool = pool
        self.service = service
        self.records = records
        self.log = log
        self.finished = finished
        self.streams = streams
        self.plans = [plan.for_instrument(i) for i in range(int(pool.capacity))]
        """Each instrument's own plan (its times of day)."""
        self.last = [initial_set(own) for own in self.plans]
        """The set each instrument's last recalibration made (before the run: its last scheduled one)."""
        latest = max(self.last, key=lambda made: made.created_at)
        self.sets: list[CalibrationSet] = [CalibrationSet(0, latest.created_at, plan.valid_for)]
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

    def next_recalibration(self, now: float, instrument: int | None = None) -> float:
        """When the next recalibration of ``instrument`` (None: of any) is requested, at ``now`` or later (inf:
        never)."""
        if instrument is not None:
            return next_recalibration(self.plans[instrument], self.last[instrument], now)[0]
        return min(next_recalibration(own, last, now)[0] for own, last in zip(self.plans, self.last, strict=True))

    def last_recalibrated(self, instrument: int) -> float:
        """When ``instrument``'s last recalibration ended (before the run: its last scheduled one's end)."""
        return self.last[instrument].created_at

    # --- recalibration -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every instrument's recalibrations."""
        for instrument in range(len(self.plans)):
            self.env.process(self.recalibrations(instrument))

    def recalibrations(self, instrument: int) -> Process:
        """The process that requests ``instrument``'s recalibrations and makes their sets."""
        env, plan = self.env, self.plans[instrument]
        lengths = self.streams(f"calibration.duration.{instrument}")
        while True:
            at, reason = next_recalibration(plan, self.last[instrument], env.now)
            if math.isinf(at):
                return
            yield env.timeout(max(at - env.now, 0.0))
            if self.finished():
                return
            self.log("recalibration_requested", None, f"instrument {instrument}: {reason}")
            seconds = plan.draw_duration(lengths)
            while True:
                if not self.service.up:
                    yield self.service.came_up()
                epoch = self.service.epoch
                yield from self._calibrate(instrument, seconds, epoch)
                if self.service.epoch == epoch:
                    break
                self.log("recalibration_interrupted", None,
                         f"instrument {instrument}: the service restarted; requested again once up")
            made = CalibrationSet(len(self.sets), env.now, self.plan.valid_for)
            self.sets.append(made)
            self.last[instrument] = made
            self.log("calibration_set", None, f"set {made.id} current (instrument {instrument}, {reason})")
            if self._new_set is not None:
                new_set, self._new_set = self._new_set, None
                new_set.succeed()

    def _calibrate(self, instrument: int, seconds: float, epoch: int) -> Process:
        claim = self.pool.claim(instrument, Holder.CALIBRATION)
        if not isinstance(claim, int) and (yield claim) == RESTARTED:
            return
        if self.service.epoch != epoch:  # granted by a release in the restart's own instant
            return
        start = self.env.now
        self.log("calibration_start", None, f"instrument {instrument}")
        yield self.env.timeout(seconds)
        if self.service.epoch != epoch:  # a restart ended it
            return
        self.records.instrument_periods.append(InstrumentPeriod(instrument, "calibration", start, self.env.now))
        self.log("calibration_end", None, f"instrument {instrument}")
        self.pool.release(instrument)
