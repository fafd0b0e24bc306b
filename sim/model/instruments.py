"""The station's instruments: the hardware mock's devices driven inside SimPy (the thin adapter).

Everything about *how long* and *what goes wrong* comes from ``hardware_mock`` (plain, deterministic
functions); this module only turns it into SimPy time, on the instrument pool (``sim.model.pools``), whose
holdings say at every moment who has each instrument:

- **the queue**: jobs wait in PENDING_EXECUTION in the order of the scenario's scheduling policy
  (``sim.policies``), which reads the jobs through a ``QueueContext`` (workload fields, each job's expected time on
  these instruments, the calibration schedule); a policy that breaks the protocol raises ``PolicyError``;
- **execution**: a job granted an instrument runs for ``execution_time`` of its device. An instrument error
  ends the run early (FAILED in execution, with the device's message); a hang never ends by itself, so a
  scenario with hangs must set ``execution_timeout``: the station stops any run that lasts longer, fails the job
  and resets the instrument (a holding of its own);
- **aborts**: a job aborted on the instrument stops it at the next shot-batch boundary (``ExecutionPlan``); the
  job is ABORTED at once, its progress so far kept, and its holding ends when the batch does;
- **recalibration** is the calibration service's (``sim.model.calibration``). A job compiled against a set that
  has expired by the time it gets an instrument gives the instrument back and is compiled again (its status
  staying PENDING_EXECUTION), or runs anyway, by the plan's ``on_expired``;
- **outages and maintenance** are ``sim.model.downtime``'s: the job running on the instrument fails with the
  outage's (or the maintenance window's) error, queued jobs wait, and the instrument is back at the period's end.
- **restarts**: the pool's shutdown ends every holding; a job that was running is requeued on *its* instrument
  (by claim, ahead of the queue) or failed, by the restart policy. Its run starts again from the beginning:
  elapsed time and progress count from the new holding, never from the lost run.

Periods an instrument spends on anything but a user job are also logged as ``instrument_periods`` (from the
same holdings), for the utilisation report. With ``[hardware] measurements = true`` every finished run leaves
synthetic measurement counts.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Generator
from enum import Enum
from pathlib import Path

import numpy as np
import numpy.typing as npt
import simpy
from simpy import Timeout

from hardware_mock.device import DeviceProfile
from hardware_mock.errors import ErrorRecord
from hardware_mock.execution import ExecutionPlan
from hardware_mock.faults import JobFault, draw_job_faults, hang_timeout, instrument_error
from hardware_mock.limits import check_jobs
from hardware_mock.timing import execution_time
from sim.model.calibration import CalibrationService
from sim.model.downtime import Downtime
from sim.model.faults import Cause, JobFailure, StageFailure, stage_failures
from sim.model.pools import Pool
from sim.model.records import Holder, InstrumentPeriod, JobRecords, Outcome, seconds_per_job
from sim.model.service import EventLog, NoProgress, Service
from sim.model.status import EXECUTION_STARTED, NOT_RECEIVED, PENDING_EXECUTION, STATUSES
from sim.model.workload import Workload
from sim.policies import PolicyError, QueueContext, SchedulingPolicy, policy_for_run
from sim.policies.protocol import RunOutcome
from sim.policies.registry import resolve
from sim.scenario.scenario import Scenario, Scheduler
from sim.scenario.streams import RandomStreams

JobProcess = Generator[simpy.Event, object, None]


class InstrumentState(Enum):
    """What an instrument is doing now, read from its holding and the hardware's state: the holdings ledger of
    the instrument pool is the log of its transitions (``sim.results.timeseries.instrument_states`` turns it
    into intervals, with ``stopping``, ``timed_out`` and ``service_down`` told apart)."""

    IDLE = "idle"
    RUNNING = "running"
    """A user job holds it (its run, or finishing the shot batch after an abort)."""
    CALIBRATING = "calibrating"
    DOWN = "down"
    """In an outage (whether the service is up or not)."""
    MAINTENANCE = "maintenance"
    """In a scheduled maintenance window (whether the service is up or not)."""
    RESETTING = "resetting"


class PolicyStalled(NoProgress, PolicyError):
    """Nothing is left to happen while the scheduling policy holds jobs back from idle instruments: both the
    station's ``NoProgress`` and the policy's ``PolicyError``."""

    def __init__(self, source: str, key: str, message: str) -> None:
        PolicyError.__init__(self, source, key, message)


def matches_instruments(scheduler: Scheduler) -> bool:
    """Whether the scenario's policy says it gives each instrument only jobs that fit its device
    (``matches_instruments = True`` on the policy's class): a job then need fit only one instrument."""
    factory = scheduler.factory or resolve(scheduler.policy, Path(scheduler.folder) if scheduler.folder else None)[1]
    return bool(getattr(factory, "matches_instruments", False))


def device_fits(device: DeviceProfile, workload: Workload) -> npt.NDArray[np.bool_]:
    """Which jobs ``device`` can run (qubits, shots, circuit duration against T2)."""
    w = workload
    factor = np.where(np.isnan(w.duration_over_t2), device.max_circuit_duration_over_t2, w.duration_over_t2)
    fits: npt.NDArray[np.bool_] = check_jobs(device, w.qubits, w.shots, w.depth, factor) == 0
    return fits


_RUN_END = {Cause.ABORT: "aborted", Cause.OUTAGE: "failed", Cause.RESTART: "restarted"}
"""The ``RunOutcome.end`` of a run cut short, by why its job process was interrupted."""


class Instruments:
    """The instruments of one station: their pool and queue, their runs and outages.

    Collaborators, given by the station: the job records and workload, the service (its state and epoch), the
    event log, ``interrupt(job, cause)`` to stop a running job's process, ``finished()`` (every job settled) and,
    once built, the calibration service and ``recompile(job)``.
    """

    def __init__(self, env: simpy.Environment, scenario: Scenario, workload: Workload, records: JobRecords,
                 streams: RandomStreams, service: Service, log: EventLog, interrupt: Callable[[int, Cause], None],
                 finished: Callable[[], bool]) -> None:
        self.env = env
        self.scenario = scenario
        self.workload = workload
        self.records = records
        self.streams = streams
        self.service = service
        self.log = log
        self.interrupt = interrupt
        self.finished = finished
        hardware = scenario.hardware
        self.devices = hardware.devices
        self.times = self._execution_times()
        self.timeout = hardware.execution_timeout
        self.abstract_runs = hardware.execution_time is not None
        """Run times from a distribution rather than the timing model: an aborted run stops at once."""
        n = len(workload)
        self.station_failures = stage_failures(scenario.faults.failures_of("execution"), "execution", n, streams)
        drawn = draw_job_faults(hardware.faults, n, streams("hardware.faults"))
        self.hardware_faults = {int(j): (JobFault(int(drawn.kind[j])), float(drawn.at_fraction[j]),
                                         int(drawn.message[j])) for j in np.flatnonzero(drawn.kind)}
        self.faulty = bool(self.station_failures or self.hardware_faults or math.isfinite(self.timeout))
        self.measure = hardware.measurements
        self.running: list[int | None] = [None] * len(self.devices)
        """The job whose run is under way on each instrument (not one finishing its batch after an abort)."""
        self.calibration: CalibrationService | None = None
        self.recompile: Callable[[int], JobProcess] | None = None
        policy = self._execution_policy()
        self.pool = Pool(env, "execution", len(self.devices), policy, records.holdings_of("execution"),
                         on_bad_choice=self._policy_error)
        self._fits = [device_fits(d, workload).tolist() for d in self.devices] \
            if len(set(self.devices)) > 1 and matches_instruments(scenario.scheduler) else None
        """Per instrument, which jobs fit it, when the policy promises to match them (each start is checked)."""
        self._on_started: Callable[[int, int, float], None] | None = getattr(policy, "started", None)
        self._on_finished: Callable[[int, int, float, RunOutcome], None] | None = getattr(policy, "finished", None)
        """The policy's optional callbacks, looked up once (None: the hot path skips them)."""
        self.downtime = Downtime(env, scenario, self.pool, self.running, streams, service, log, records, interrupt,
                                 finished)

    def _execution_policy(self) -> SchedulingPolicy:
        """The scenario's scheduling policy for this run, reading the jobs through its ``QueueContext``."""
        scheduler, plan = self.scenario.scheduler, self.scenario.calibration
        distinct = list({id(times): times for times in self.times}.values())
        expected = distinct[0] if len(distinct) == 1 else np.max(distinct, axis=0)
        clock = scheduler.start_time_of_day
        if clock is None:
            clock = plan.start_time_of_day if plan is not None else 0.0
        context = QueueContext.for_workload(
            self.workload, expected, self.records.times[:, PENDING_EXECUTION], devices=tuple(self.devices),
            expected_by_instrument=self.times, instrument_state=self._state_name,
            windows=scheduler.windows, start_time_of_day=clock, calibration=plan,
            current_set=self._current_set, calibration_set=self.records.calibration_set,
            schedule=_Schedule(self) if plan is not None else None)
        return policy_for_run(scheduler, context, self.scenario.source)

    def _current_set(self) -> object:
        assert self.calibration is not None
        return self.calibration.current

    # --- the policy's errors and callbacks (sim.policies.protocol) ------------------------------------------------

    def _state_name(self, instrument: int) -> str:
        return self.state(instrument).value

    def _policy_error(self, message: str, job: object = None) -> PolicyError:
        """The one-line error of a policy that raised or broke the protocol: names it, the job, what happened."""
        scenario = self.scenario
        about = f"; {self._about(job)}" if isinstance(job, int) and not isinstance(job, bool) else ""
        return PolicyError(scenario.source, "scheduler.policy",
                           f"policy {scenario.scheduler.policy!r} {message}{about}")

    def _about(self, job: int) -> str:
        """Where a job the policy named stands (a stranger, or one it returned before)."""
        records = self.records
        if not 0 <= job < len(self.workload):
            return f"job {job} is no job of this run (jobs 0 .. {len(self.workload) - 1})"
        started = float(records.times[job, EXECUTION_STARTED])
        if not math.isnan(started) and int(records.status[job]) != PENDING_EXECUTION:
            return (f"job {job} started on instrument {int(records.instrument[job])} at t={started:.9g} already "
                    "(returned twice?)")
        code = int(records.status[job])
        status = "not received yet" if code == NOT_RECEIVED else f"in status {STATUSES[code]}"
        return f"job {job} never joined this queue: it is {status}"

    def _misfit(self, job_id: int, instrument: int) -> PolicyError:
        device, w = self.devices[instrument], self.workload
        return self._policy_error(
            f"broke its promise to match jobs to instruments: it started job {job_id} ({int(w.qubits[job_id])} "
            f"qubits, {int(w.shots[job_id])} shots) on instrument {instrument} ({device.name}, {device.qubits} "
            "qubits), which cannot run it")

    def stalled(self, message: str, asked_again: bool = False) -> NoProgress:
        """The error of a run that makes no progress (``message``): a ``PolicyStalled`` naming the policy and the
        jobs it holds back when instruments are idle while jobs wait, else a plain ``NoProgress``. ``asked_again``:
        the station went on (its own work, or the policy's ``next_change`` times) without the policy starting
        one; else nothing was left to happen."""
        waiting, free = self.pool.waiting_jobs(), self.pool.free_servers()
        if not waiting or not free:
            return NoProgress(message)
        shown = ", ".join(map(str, waiting[:5])) + (", ..." if len(waiting) > 5 else "")
        idle = ", ".join(map(str, free))
        return PolicyStalled(self.scenario.source, "scheduler.policy",
                             f"policy {self.scenario.scheduler.policy!r} stalled the station: {message}; it holds "
                             f"back {len(waiting)} waiting job{'s' if len(waiting) != 1 else ''} ({shown}) while "
                             f"instrument{'s' if len(free) != 1 else ''} {idle} "
                             f"{'are' if len(free) != 1 else 'is'} free, "
                             + ("though it was asked again at every next_change" if asked_again
                                else "and next_change gave no time to ask again"))

    def _notify_started(self, job_id: int, instrument: int) -> None:
        assert self._on_started is not None
        now = self.env.now
        try:
            self._on_started(job_id, instrument, now)
        except Exception as error:
            raise self._policy_error(f"raised {type(error).__name__}: {error} in started(job {job_id}, instrument "
                                     f"{instrument}, now={now:.9g})") from error

    def _notify_finished(self, job_id: int, instrument: int, end: str) -> None:
        assert self._on_finished is not None
        now = self.env.now
        outcome = RunOutcome(end, now - self.pool.held_since(instrument))
        try:
            self._on_finished(job_id, instrument, now, outcome)
        except Exception as error:
            raise self._policy_error(f"raised {type(error).__name__}: {error} in finished(job {job_id}, "
                                     f"instrument {instrument}, now={now:.9g}, {outcome})") from error

    def _execution_times(self) -> list[array[float]]:
        """Seconds each job would take on each instrument (instruments of one device share one array)."""
        hardware, w = self.scenario.hardware, self.workload
        if hardware.execution_time is not None:
            shared = seconds_per_job(hardware.execution_time.sample(self.streams("hardware"), len(w)))
            return [shared] * len(self.devices)
        by_device = {device: seconds_per_job(execution_time(device, w.circuits, w.shots, w.depth, w.sweep_points))
                     for device in set(self.devices)}
        return [by_device[device] for device in self.devices]

    def start(self) -> None:
        """Start the instruments' own processes: outages and maintenance windows."""
        self.downtime.start()

    def _period(self, instrument: int, kind: str, start: float, end: float) -> None:
        self.records.instrument_periods.append(InstrumentPeriod(instrument, kind, start, end))

    # --- a job on the instruments (hot path) -----------------------------------------------------------------

    def execute(self, job_id: int, resume: int, reserved: int | simpy.Event | None = None) -> JobProcess:
        """Wait in PENDING_EXECUTION for an instrument, run on it, give it back (EXECUTION_ENDED). A job that
        recovery requeued at EXECUTION_STARTED comes with the claim on its own instrument (``reserve``)."""
        env, records, pool = self.env, self.records, self.pool
        now = env.now
        if resume < PENDING_EXECUTION:
            records.advance(job_id, PENDING_EXECUTION, now)
        if resume == EXECUTION_STARTED:
            instrument = int(records.instrument[job_id])
            if not isinstance(reserved, int):
                yield from self._wait_for_own(job_id, instrument, reserved)
        else:
            grant = pool.acquire(job_id, now)
            if self._fits is not None or self.calibration is not None:  # checks before the job may start
                instrument = yield from self._acquire(job_id, grant)
            elif isinstance(grant, int):
                instrument = grant
            else:  # (``Pool.wait`` written out: a generator less on the way of the common case)
                try:
                    instrument = yield grant  # type: ignore[assignment]  # a grant's value: the instrument
                except simpy.Interrupt:
                    pool.cancel(job_id, grant)
                    raise
            records.instrument[job_id] = instrument
            records.advance(job_id, EXECUTION_STARTED, env.now)
        run, error, reset, after_end = self._outcome(job_id, instrument) if self.faulty else (
            self.times[instrument][job_id], None, 0.0, False)
        self.running[instrument] = job_id
        if self._on_started is not None:
            self._notify_started(job_id, instrument)
        try:
            yield Timeout(env, run)
        except simpy.Interrupt as interrupt:
            self.running[instrument] = None
            if self._on_finished is not None:
                self._notify_finished(job_id, instrument, _RUN_END[interrupt.cause])  # type: ignore[index]
            if interrupt.cause is Cause.ABORT:
                self._stop(job_id, instrument)
            elif interrupt.cause is Cause.OUTAGE:
                elapsed = env.now - pool.held_since(instrument)
                pool.release(instrument, Outcome.OUTAGE)  # to the outage's or the maintenance window's claim
                raise JobFailure("execution", self.downtime.failure(instrument, elapsed)) from None
            raise  # a restart: the pool's shutdown ended the holding
        self.running[instrument] = None
        now = env.now
        if self._on_finished is not None:
            self._notify_finished(job_id, instrument, "ready" if error is None and not reset else "failed")
        if reset:
            self.log("execution_timeout", job_id, f"instrument {instrument} reset for {reset:g} s")
            self._period(instrument, "timed_out", env.now - run, env.now)
            self._reset(instrument, reset)
        else:
            pool.release(instrument, Outcome.DONE if error is None else Outcome.FAILED, now)
        if error is not None:
            if after_end:
                records.advance(job_id, EXECUTION_STARTED + 1, now)
            raise JobFailure("execution", error)
        if self.measure:
            records.measurements[job_id] = self._measurements(job_id)
        records.advance(job_id, EXECUTION_STARTED + 1, now)  # EXECUTION_ENDED

    def _acquire(self, job_id: int, grant: int | simpy.Event) -> Generator[simpy.Event, object, int]:
        """An instrument for the job, given the pool's first answer (``grant``); a job whose calibration set
        expired is recompiled first (or not)."""
        pool, calibration = self.pool, self.calibration
        while True:
            instrument = grant if isinstance(grant, int) else (yield from pool.wait(job_id, grant))
            if self._fits is not None and not self._fits[instrument][job_id]:
                raise self._misfit(job_id, instrument)
            if calibration is None or calibration.is_valid(int(self.records.calibration_set[job_id])):
                return instrument
            if calibration.plan.on_expired == "run_anyway":
                self.log("expired_set", job_id, f"runs on expired set {self.records.calibration_set[job_id]}")
                return instrument
            pool.release(instrument, Outcome.RETURNED)
            assert self.recompile is not None
            yield from self.recompile(job_id)
            grant = pool.acquire(job_id, self.env.now)

    def reserve(self, job_id: int) -> int | simpy.Event:
        """Recovery requeues a job that was executing: it claims its own instrument at once, ahead of the queue
        and of every job readmitted after it (the instrument now, or an event if an outage holds it)."""
        return self.pool.claim(int(self.records.instrument[job_id]), job_id)

    def _wait_for_own(self, job_id: int, instrument: int, claim: simpy.Event | None) -> Generator[simpy.Event, object,
                                                                                                  None]:
        """Wait for the claim on the job's own instrument (an aborted job withdraws it)."""
        assert claim is not None, "a job resumed at EXECUTION_STARTED needs the claim recovery made"
        try:
            yield claim
        except simpy.Interrupt:
            self.pool.withdraw(instrument, job_id, claim)
            raise

    def _measurements(self, job_id: int) -> list[dict[str, int]]:
        """Synthetic counts of each circuit of a finished run (at its first sweep point): a random sparse ideal
        distribution over the job's qubits, read out through a per-qubit readout error."""
        from hardware_mock.measurement import ReadoutError, sample_counts, sparse_random_distribution  # counts: opt-in

        w = self.workload
        rng = self.streams("hardware.measurements")
        qubits, shots = int(w.qubits[job_id]), int(w.shots[job_id])
        readout = ReadoutError.uniform(qubits)
        return [sample_counts(sparse_random_distribution(qubits, min(8, 2**qubits), rng), shots, readout, rng)
                for _ in range(int(w.circuits[job_id]))]

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
            error = instrument_error(self.scenario.hardware.faults, hardware[2], device.name, run, duration)
        elif station is not None:
            run, error, after_end = duration * station.share, station.error, station.after_end
        if run > self.timeout:
            reset = self.scenario.hardware.faults.reset_after_hang
            return self.timeout, hang_timeout(device.name, self.timeout, reset), reset, False
        return run, error, 0.0, after_end

    def _plan(self, job_id: int, instrument: int) -> ExecutionPlan:
        w = self.workload
        return ExecutionPlan(self.devices[instrument], int(w.circuits[job_id]), int(w.shots[job_id]),
                             int(w.depth[job_id]), int(w.sweep_points[job_id]))

    def _stop(self, job_id: int, instrument: int) -> None:
        """An aborted job stops the instrument at the next shot-batch boundary, keeping its progress."""
        elapsed = self.env.now - self.pool.held_since(instrument)
        duration = self.times[instrument][job_id]
        if self.abstract_runs:  # an abstract run: it stops at once
            self.records.execution_progress[job_id] = min(elapsed / duration, 1.0) if duration else 1.0
            self.pool.release(instrument, Outcome.ABORTED)
            return
        plan = self._plan(job_id, instrument)
        stop = plan.interrupt(elapsed)
        self.records.execution_progress[job_id] = plan.share_done(stop.progress)
        self._hold_then_release(instrument, "stopping", stop.stops_at - elapsed, Outcome.ABORTED)

    def _reset(self, instrument: int, seconds: float) -> None:
        """A timed-out run's holding ends; the instrument's reset holds it for ``seconds``."""
        self.pool.hand_over(instrument, Outcome.TIMEOUT, Holder.RESET)
        self._hold_then_release(instrument, "reset", seconds, Outcome.DONE)

    def _hold_then_release(self, instrument: int, kind: str, seconds: float, outcome: int) -> None:
        """The instrument's current holding goes on for ``seconds`` (logged as ``kind``), then ends."""
        if seconds <= 0:
            self.pool.release(instrument, outcome)
            return
        self._period(instrument, kind, self.env.now, self.env.now + seconds)
        self.env.process(self._release_after(instrument, seconds, outcome, self.service.epoch))

    def _release_after(self, instrument: int, seconds: float, outcome: int, epoch: int) -> JobProcess:
        yield self.env.timeout(seconds)
        if self.service.epoch == epoch:  # else a restart ended the holding already
            self.pool.release(instrument, outcome)

    def progress(self, job_id: int) -> list[tuple[str, int, int]]:
        """IQM's ``parallel_sweep_progress`` of a job executing now (from its current holding)."""
        instrument = int(self.records.instrument[job_id])
        plan = self._plan(job_id, instrument)
        if self.pool.holder(instrument) != job_id:  # waiting for its own instrument again after a restart
            return [tuple(entry) for entry in plan.progress(0.0)]  # type: ignore[misc]
        elapsed = self.env.now - self.pool.held_since(instrument)
        if self.abstract_runs:
            elapsed = plan.duration * elapsed / self.times[instrument][job_id]
        return [tuple(entry) for entry in plan.progress(elapsed)]  # type: ignore[misc]

    def state(self, instrument: int) -> InstrumentState:
        """What ``instrument`` is doing now."""
        holder = self.pool.holder(instrument)
        if holder >= 0:
            return InstrumentState.RUNNING
        if holder == Holder.CALIBRATION:
            return InstrumentState.CALIBRATING
        if holder == Holder.RESET:
            return InstrumentState.RESETTING
        out = self.downtime.is_out(instrument)
        if holder == Holder.MAINTENANCE or (out == Holder.MAINTENANCE and holder != Holder.OUTAGE):
            return InstrumentState.MAINTENANCE
        if holder == Holder.OUTAGE or out == Holder.OUTAGE:
            return InstrumentState.DOWN
        return InstrumentState.IDLE

    def came_up(self) -> None:
        """The service is up again: every instrument still out of service is held again, before any job."""
        self.downtime.came_up()


class _Schedule:
    """The calibration service's schedule as the policy's context reads it (the service is built after the
    policy, so it is looked up when asked)."""

    def __init__(self, instruments: Instruments) -> None:
        self._instruments = instruments

    def next_recalibration(self, now: float, instrument: int | None = None) -> float:
        calibration = self._instruments.calibration
        return math.inf if calibration is None else calibration.next_recalibration(now, instrument)

    def last_recalibrated(self, instrument: int) -> float:
        calibration = self._instruments.calibration
        return -math.inf if calibration is None else calibration.last_recalibrated(instrument)
