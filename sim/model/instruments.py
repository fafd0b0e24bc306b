"""The station's instruments: the hardware mock's devices driven inside SimPy (the thin adapter).

Everything about *how long* and *what goes wrong* comes from ``hardware_mock`` (plain, deterministic
functions); this module only turns it into SimPy time:

- **the queue**: jobs wait in PENDING_EXECUTION in the order of the scenario's scheduling policy
  (``sim.policies``), which reads the jobs through a ``QueueContext`` (workload fields, each job's expected time on
  these instruments, the calibration schedule); a policy that breaks the protocol raises ``PolicyError``;
- **execution**: a job granted an instrument runs for ``execution_time`` of its device. An instrument error
  ends the run early (FAILED in execution, with the device's message); a hang never ends; the station's
  execution timeout stops any run that lasts longer, fails the job and resets the instrument (which holds it);
- **aborts**: a job aborted on the instrument stops it at the next shot-batch boundary (``ExecutionPlan``); the
  job is ABORTED at once, its progress so far kept, and the instrument is free when the batch ends;
- **recalibration** (with a ``[calibration]`` plan): at the scheduled times and when the current set expires,
  every instrument is claimed ahead of the queue (as the current job, if any, ends: real stations interleave
  calibration with user jobs) and calibrated for the plan's duration; then a new calibration set is current.
  A job compiled against a set that has expired by the time it gets an instrument is recompiled (it gives the
  instrument back, queues for a compiler worker, fetches the current set and rejoins the execution queue in its
  old place, its status staying PENDING_EXECUTION) or runs anyway, by the plan's ``on_expired``;
- **outages**: an instrument goes down after an exponential time of operation: the job running on it fails
  with the outage error, queued jobs wait, and it is back after the repair time.

Every period an instrument spends on anything but a user job is logged, for the utilisation report. With
``[hardware] measurements = true`` every finished run also leaves synthetic measurement counts.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING

import numpy as np
import simpy

from hardware_mock.calibration import CalibrationSet, fetch_time, initial_set, next_recalibration
from hardware_mock.errors import ErrorRecord
from hardware_mock.execution import ExecutionPlan
from hardware_mock.faults import JobFault, draw_job_faults, draw_outages, hang_timeout, instrument_error, outage_error
from hardware_mock.measurement import ReadoutError, sample_counts, sparse_random_distribution
from hardware_mock.timing import execution_time
from sim.model.faults import Cause, JobFailure, StageFailure, stage_failures
from sim.model.pools import Pool
from sim.model.records import InstrumentPeriod
from sim.model.status import EXECUTION_STARTED, PENDING_EXECUTION
from sim.policies import PolicyError, QueueContext, SchedulingPolicy, policy_for_run

if TYPE_CHECKING:
    from sim.model.station import Station

JobProcess = Generator[simpy.Event, object, None]


class Instruments:
    """The instruments of one station: their pool and queue, their runs, calibrations and outages."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.env = station.env
        self.records = station.records
        hardware = station.scenario.hardware
        self.devices = hardware.devices
        self.times = self._execution_times()
        self.timeout = hardware.execution_timeout
        self.on_instrument: list[int | None] = [None] * len(self.devices)
        n = len(station.workload)
        self.station_failures = stage_failures(station.scenario.faults.failures_of("execution"), "execution", n,
                                               station.streams)
        drawn = draw_job_faults(hardware.faults, n, station.streams("hardware.faults"))
        self.hardware_faults = {int(j): (JobFault(int(drawn.kind[j])), float(drawn.at_fraction[j]),
                                         int(drawn.message[j])) for j in np.flatnonzero(drawn.kind)}
        self.faulty = bool(self.station_failures or self.hardware_faults or math.isfinite(self.timeout))
        self.measure = hardware.measurements
        self.plan = station.scenario.calibration
        self.sets: list[CalibrationSet] = [] if self.plan is None else [initial_set(self.plan)]
        self.fetched_sets: set[int] = set()
        self.pool = Pool(self.env, len(self.devices), self._execution_policy(), on_bad_choice=self._policy_error)

    def _execution_policy(self) -> SchedulingPolicy:
        """The scenario's scheduling policy for this run, reading the jobs through its ``QueueContext``."""
        scenario = self.station.scenario
        scheduler = scenario.scheduler
        distinct = list({id(times): times for times in self.times}.values())
        expected = distinct[0] if len(distinct) == 1 else np.max(distinct, axis=0)
        clock = scheduler.start_time_of_day
        if clock is None:
            clock = self.plan.start_time_of_day if self.plan is not None else 0.0
        context = QueueContext.for_workload(
            self.station.workload, expected, self.records.times[:, PENDING_EXECUTION], instruments=len(self.devices),
            windows=scheduler.windows, start_time_of_day=clock, calibration=self.plan,
            current_set=lambda: self.sets[-1], calibration_set=self.records.calibration_set)
        return policy_for_run(scheduler, context, scenario.source)

    def _policy_error(self, message: str) -> PolicyError:
        scenario = self.station.scenario
        return PolicyError(scenario.source, "scheduler.policy",
                           f"policy {scenario.scheduler.policy!r} broke the scheduling protocol: {message}")

    def _execution_times(self) -> list[list[float]]:
        """Seconds each job would take on each instrument (instruments of one device share one list)."""
        station = self.station
        hardware, w = station.scenario.hardware, station.workload
        if hardware.execution_time is not None:
            shared = hardware.execution_time.sample(station.streams("hardware"), len(w)).tolist()
            return [shared] * len(self.devices)
        by_device = {device: execution_time(device, w.circuits, w.shots, w.depth, w.sweep_points).tolist()
                     for device in set(self.devices)}
        return [by_device[device] for device in self.devices]

    def start(self) -> None:
        """Start the instruments' own processes: recalibrations and outages."""
        if self.plan is not None:
            self.env.process(self._recalibrations())
        model = self.station.scenario.hardware.faults
        if model.has_outages:
            for instrument in range(len(self.devices)):
                self.env.process(self._outages(instrument))

    def log(self, instrument: int, kind: str, start: float, end: float) -> None:
        self.records.instrument_periods.append(InstrumentPeriod(instrument, kind, start, end))

    # --- a job on the instruments (hot path) -----------------------------------------------------------------

    def execute(self, job_id: int, resume: int) -> JobProcess:
        """Wait in PENDING_EXECUTION for an instrument, run on it, give it back (EXECUTION_ENDED)."""
        env, records, pool = self.env, self.records, self.pool
        if resume < PENDING_EXECUTION:
            records.advance(job_id, PENDING_EXECUTION, env.now)
        if resume == EXECUTION_STARTED:  # recovery left the job its instrument
            instrument = int(records.instrument[job_id])
        else:
            instrument = yield from self._acquire(job_id)
            records.instrument[job_id] = instrument
            records.advance(job_id, EXECUTION_STARTED, env.now)
        self.on_instrument[instrument] = job_id
        run, error, reset, after_end = self._outcome(job_id, instrument) if self.faulty else (
            self.times[instrument][job_id], None, 0.0, False)
        try:
            yield env.timeout(run)
        except simpy.Interrupt as interrupt:
            self.on_instrument[instrument] = None
            if interrupt.cause is Cause.ABORT:
                self._stop(job_id, instrument)
            elif interrupt.cause is Cause.OUTAGE:
                pool.release(instrument)  # to the outage's claim
                elapsed = env.now - records.times[job_id, EXECUTION_STARTED]
                raise JobFailure("execution", outage_error(self.devices[instrument].name, elapsed)) from None
            raise  # a restart leaves the instrument with the job: recovery decides
        self.on_instrument[instrument] = None
        if reset:
            self.station.event("execution_timeout", job_id, f"instrument {instrument} reset for {reset:g} s")
            self.log(instrument, "timed_out", env.now - run, env.now)
            self._hold(instrument, "reset", reset)
        else:
            pool.release(instrument)
        if error is not None:
            if after_end:
                records.advance(job_id, EXECUTION_STARTED + 1, env.now)
            raise JobFailure("execution", error)
        if self.measure:
            records.measurements[job_id] = self._measurements(job_id)
        records.advance(job_id, EXECUTION_STARTED + 1, env.now)  # EXECUTION_ENDED

    def _acquire(self, job_id: int) -> Generator[simpy.Event, object, int]:
        """An instrument for the job; a job whose calibration set expired is recompiled first (or not)."""
        pool = self.pool
        while True:
            grant = pool.acquire(job_id)
            instrument = grant if isinstance(grant, int) else (yield from pool.wait(job_id, grant))
            if self.plan is None or self._set_valid(job_id):
                return instrument
            if self.plan.on_expired == "run_anyway":
                self.station.event("expired_set", job_id, f"runs on expired set {self.records.calibration_set[job_id]}")
                return instrument
            pool.release(instrument)
            yield from self.station.recompile(job_id)

    def _measurements(self, job_id: int) -> list[dict[str, int]]:
        """Synthetic counts of each circuit of a finished run (at its first sweep point): a random sparse ideal
        distribution over the job's qubits, read out through a per-qubit readout error."""
        w = self.station.workload
        rng = self.station.streams("hardware.measurements")
        qubits, shots = int(w.qubits[job_id]), int(w.shots[job_id])
        readout = ReadoutError.uniform(qubits)
        return [sample_counts(sparse_random_distribution(qubits, min(8, 2**qubits), rng), shots, readout, rng)
                for _ in range(int(w.circuits[job_id]))]

    def _set_valid(self, job_id: int) -> bool:
        return self.sets[int(self.records.calibration_set[job_id])].is_valid_at(self.env.now)

    def _outcome(self, job_id: int, instrument: int) -> tuple[float, ErrorRecord | None, float, bool]:
        """How the run goes: seconds until it ends or fails, the error if it fails, the reset time it leaves
        behind, and whether the failure strikes after the run (storing its results)."""
        duration = self.times[instrument][job_id]
        device = self.devices[instrument]
        run, error, after_end = duration, None, False
        hardware = self.hardware_faults.get(job_id)
        station: StageFailure | None = self.station_failures.get(job_id)
        if hardware is not None and hardware[0] == JobFault.HANG:
            run = math.inf
        elif hardware is not None:
            run = duration * hardware[1]
            model = self.station.scenario.hardware.faults
            error = instrument_error(model, hardware[2], device.name, run, duration)
        elif station is not None:
            run, error, after_end = duration * station.share, station.error, station.after_end
        if run > self.timeout:
            reset = self.station.scenario.hardware.faults.reset_after_hang
            return self.timeout, hang_timeout(device.name, self.timeout, reset), reset, False
        return run, error, 0.0, after_end

    def _stop(self, job_id: int, instrument: int) -> None:
        """An aborted job stops the instrument at the next shot-batch boundary, keeping its progress."""
        records = self.records
        elapsed = self.env.now - records.times[job_id, EXECUTION_STARTED]
        duration = self.times[instrument][job_id]
        if self.station.scenario.hardware.execution_time is not None:  # an abstract run: it stops at once
            records.execution_progress[job_id] = min(elapsed / duration, 1.0) if duration else 1.0
            self.pool.release(instrument)
            return
        w = self.station.workload
        plan = ExecutionPlan(self.devices[instrument], int(w.circuits[job_id]), int(w.shots[job_id]),
                             int(w.depth[job_id]), int(w.sweep_points[job_id]))
        stop = plan.interrupt(elapsed)
        (_, points, _), (_, shots, shots_per_point) = stop.progress
        records.execution_progress[job_id] = (points * shots_per_point + shots) / (plan.sweep_points * shots_per_point)
        self._hold(instrument, "stopping", stop.stops_at - elapsed)

    def _hold(self, instrument: int, kind: str, seconds: float) -> None:
        """Keep ``instrument`` busy with ``kind`` for ``seconds``, then give it back."""
        if seconds <= 0:
            self.pool.release(instrument)
            return
        self.log(instrument, kind, self.env.now, self.env.now + seconds)
        self.env.process(self._release_after(instrument, seconds))

    def _release_after(self, instrument: int, seconds: float) -> JobProcess:
        yield self.env.timeout(seconds)
        self.pool.release(instrument)

    def release_after_restart(self, job_id: int) -> None:
        """Recovery failed a job that was on an instrument: the instrument is free again."""
        self.pool.release(int(self.records.instrument[job_id]))

    def progress(self, job_id: int) -> list[tuple[str, int, int]]:
        """IQM's ``parallel_sweep_progress`` of a job executing now."""
        instrument = int(self.records.instrument[job_id])
        elapsed = self.env.now - self.records.times[job_id, EXECUTION_STARTED]
        w = self.station.workload
        plan = ExecutionPlan(self.devices[instrument], int(w.circuits[job_id]), int(w.shots[job_id]),
                             int(w.depth[job_id]), int(w.sweep_points[job_id]))
        if self.station.scenario.hardware.execution_time is not None:
            elapsed = plan.duration * elapsed / self.times[instrument][job_id]
        return [tuple(entry) for entry in plan.progress(elapsed)]  # type: ignore[misc]

    # --- calibration -----------------------------------------------------------------------------------------

    def fetch(self, job_id: int) -> float:
        """The calibration fetch of a job: the set it compiles against and the seconds the fetch adds."""
        current = self.sets[-1]
        self.records.calibration_set[job_id] = current.id
        assert self.plan is not None
        seconds = fetch_time(self.plan, current.id, current.id if current.id in self.fetched_sets else None)
        self.fetched_sets.add(current.id)
        return seconds

    def _recalibrations(self) -> JobProcess:
        assert self.plan is not None
        env = self.env
        while True:
            at, reason = next_recalibration(self.plan, self.sets[-1], env.now)
            if math.isinf(at):
                return
            yield env.timeout(at - env.now)
            if self.station.done.triggered:
                return
            self.station.event("recalibration_requested", None, reason)
            yield env.all_of([env.process(self._calibrate(i)) for i in range(len(self.devices))])
            self.sets.append(CalibrationSet(len(self.sets), env.now, self.plan.valid_for))
            self.station.event("calibration_set", None, f"set {len(self.sets) - 1} current ({reason})")

    def _calibrate(self, instrument: int) -> JobProcess:
        assert self.plan is not None
        claim = self.pool.claim(instrument)
        if not isinstance(claim, int):
            yield claim
        start = self.env.now
        self.station.event("calibration_start", None, f"instrument {instrument}")
        yield self.env.timeout(self.plan.duration)
        self.log(instrument, "calibration", start, self.env.now)
        self.station.event("calibration_end", None, f"instrument {instrument}")
        self.pool.release(instrument)

    # --- outages ---------------------------------------------------------------------------------------------

    def _outage_times(self, instrument: int) -> Iterator[tuple[float, float]]:
        """(start, end) of every outage of ``instrument``, without end: drawn for a growing horizon (the draws
        come in fixed blocks, so a longer horizon only adds outages after the earlier ones)."""
        model = self.station.scenario.hardware.faults
        horizon, seen = 30 * model.mean_time_between_outages, 0
        while True:
            outages = draw_outages(model, horizon, self.station.streams.fresh(f"hardware.outages.{instrument}"))
            yield from zip(outages.starts[seen:].tolist(), outages.ends[seen:].tolist(), strict=True)
            seen, horizon = len(outages), 2 * horizon

    def _outages(self, instrument: int) -> JobProcess:
        env = self.env
        for start, end in self._outage_times(instrument):
            if start > env.now:
                yield env.timeout(start - env.now)
            if self.station.done.triggered:
                return
            claim = self.pool.claim(instrument)
            job_id = self.on_instrument[instrument]
            if job_id is not None and job_id in self.station.live:
                self.station.live[job_id].interrupt(Cause.OUTAGE)
            if not isinstance(claim, int):
                yield claim
            down_from = env.now
            self.station.event("outage_start", None, f"instrument {instrument}")
            yield env.timeout(max(end - env.now, 0.0))
            self.log(instrument, "outage", down_from, env.now)
            self.station.event("outage_end", None, f"instrument {instrument}")
            self.pool.release(instrument)
