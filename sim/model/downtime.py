"""Instruments out of service: random outages of the hardware, and scheduled maintenance of named instruments.

Both take the instrument away from the execution queue for a period, through the instrument pool (a claim
ahead of every waiting job), and both are the hardware's or the operators' time, not the service's: they
happen at their times whether the service is up or not.

- **Outages** (``[hardware.faults]``, or an instrument's own rates in ``[hardware.outages.NAME]``): each
  instrument goes down after an exponential time of operation and is back after a log-normal repair time,
  drawn from its own stream. The job running on it fails with the outage error.
- **Maintenance** (``[[maintenance]]``, ``sim.scenario.maintenance``): the window is honoured to the second. A
  job still running when it opens is stopped and fails with the maintenance message (the operators took the
  instrument; the model does not drain the queue before a window). Queued jobs wait, or run on the other
  instruments.

Rules where they meet (documented, not an accident of event order):
- one that falls due while the other holds the instrument waits for it: an outage that starts during
  maintenance takes the instrument when the window ends, until the outage's own end (at once given back if that
  has passed), and a window that opens during an outage starts when the outage ends and still closes on time;
- a recalibration due meanwhile waits for both (its claim is served in the order made);
- while the service is down nothing holds the instrument; when it comes up, an instrument still out of service
  is taken again before any job is readmitted (by the period that ends last, when both are in effect).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator

import simpy

from hardware_mock.errors import ErrorRecord, log_lines
from hardware_mock.faults import draw_outages, outage_error
from sim.model.faults import Cause
from sim.model.pools import Pool
from sim.model.records import Holder, InstrumentPeriod, JobRecords
from sim.model.service import EventLog, Service
from sim.scenario.maintenance import MaintenanceWindow
from sim.scenario.scenario import Scenario
from sim.scenario.streams import RandomStreams

Process = Generator[simpy.Event, object, None]
KINDS = {Holder.OUTAGE: "outage", Holder.MAINTENANCE: "maintenance"}


def maintenance_error(device: str, elapsed: float) -> ErrorRecord:
    """The error record of a run stopped because its instrument's maintenance window opened."""
    return ErrorRecord("Execution failed: the instrument was taken for scheduled maintenance.", log_lines(
        "Execution stopped: scheduled maintenance window opened.", {"stage": "execution", "device": device,
                                                                     "stopped after": f"{elapsed:.6g} s"}))


class Downtime:
    """The outages and maintenance windows of a station's instruments (``pool``).

    Collaborators: the pool, ``running`` (the job whose run is under way on each instrument, kept by the
    instruments), ``interrupt(job, cause)`` to stop it, the service (its state), the event log and the records
    (``instrument_periods``), and ``finished()``.
    """

    def __init__(self, env: simpy.Environment, scenario: Scenario, pool: Pool, running: list[int | None],
                 streams: RandomStreams, service: Service, log: EventLog, records: JobRecords,
                 interrupt: Callable[[int, Cause], None], finished: Callable[[], bool]) -> None:
        self.env = env
        self.scenario = scenario
        self.pool = pool
        self.running = running
        self.streams = streams
        self.service = service
        self.log = log
        self.records = records
        self.interrupt = interrupt
        self.finished = finished
        instruments = len(scenario.hardware.devices)
        self.until: dict[Holder, list[float]] = {kind: [-math.inf] * instruments for kind in KINDS}
        """When each instrument's current outage or maintenance window ends (whatever the service's state)."""

    def start(self) -> None:
        """Start the outage process of each instrument that has outages, and one per maintenance window."""
        hardware = self.scenario.hardware
        for instrument in range(len(hardware.devices)):
            if hardware.outage_model(instrument).has_outages:
                self.env.process(self._out_of_service(instrument, Holder.OUTAGE, self._outage_times(instrument)))
        for window in self.scenario.maintenance:
            self.env.process(self._out_of_service(window.instrument, Holder.MAINTENANCE, _periods(window)))

    def is_out(self, instrument: int) -> Holder | None:
        """Why ``instrument`` is out of service now (None: it is not)."""
        now = self.env.now
        for kind, until in self.until.items():
            if until[instrument] > now:
                return kind
        return None

    def failure(self, instrument: int, elapsed: float) -> ErrorRecord:
        """The error of the job whose run the instrument's outage or maintenance stopped after ``elapsed`` s."""
        device = self.scenario.hardware.devices[instrument].name
        if self.until[Holder.MAINTENANCE][instrument] > self.env.now:
            return maintenance_error(device, elapsed)
        return outage_error(device, elapsed)

    def _outage_times(self, instrument: int) -> Iterator[tuple[float, float]]:
        """(start, end) of every outage of ``instrument``, without end: drawn for a growing horizon (the draws
        come in fixed blocks, so a longer horizon only adds outages after the earlier ones)."""
        model = self.scenario.hardware.outage_model(instrument)
        horizon, seen = 30 * model.mean_time_between_outages, 0
        while True:
            outages = draw_outages(model, horizon, self.streams.fresh(f"hardware.outages.{instrument}"))
            yield from zip(outages.starts[seen:].tolist(), outages.ends[seen:].tolist(), strict=True)
            seen, horizon = len(outages), 2 * horizon

    def _out_of_service(self, instrument: int, kind: Holder, periods: Iterator[tuple[float, float]]) -> Process:
        env, name = self.env, KINDS[kind]
        for start, end in periods:
            if end <= env.now:
                continue
            if start > env.now:
                yield env.timeout(start - env.now)
            if self.finished():
                return
            self.until[kind][instrument] = end
            self.log(f"{name}_start", None, f"instrument {instrument}")
            if self.service.up:
                claim = self.pool.claim(instrument, kind)
                job_id = self.running[instrument]
                if job_id is not None:
                    self.interrupt(job_id, Cause.OUTAGE)
                if not isinstance(claim, int):
                    yield claim  # (cancelled if the service goes down: ``came_up`` takes the instrument again)
            held_from = env.now
            yield env.timeout(max(end - env.now, 0.0))
            self.until[kind][instrument] = -math.inf
            if self.pool.holder(instrument) == kind:
                held_from = max(held_from, self.pool.held_since(instrument))
                self.records.instrument_periods.append(InstrumentPeriod(instrument, name, held_from, env.now))
                self.pool.release(instrument)
            self.log(f"{name}_end", None, f"instrument {instrument}")

    def came_up(self) -> None:
        """The service is up again: every instrument still out of service is held again, before any job."""
        now = self.env.now
        for instrument in range(len(self.scenario.hardware.devices)):
            ends = {kind: until[instrument] for kind, until in self.until.items() if until[instrument] > now}
            if ends:
                granted = self.pool.claim(instrument, max(ends, key=lambda kind: ends[kind]))
                assert isinstance(granted, int), "every instrument is free when the service comes up"


def _periods(window: MaintenanceWindow) -> Iterator[tuple[float, float]]:
    """Every (start, end) of the window, from its first (one already over is skipped by the process)."""
    start = window.first
    while math.isfinite(start):
        yield start, start + window.duration
        start += window.every
