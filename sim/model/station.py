"""The station: IQM Station Control's job executor as a SimPy model, and the process every job runs.

A received job passes the stages in order, each a pool of workers: validation, calibration fetch,
compilation, saving sweep metadata; then it waits in PENDING_EXECUTION for an instrument, in the order the
scheduling policy gives; runs on the instrument for as long as the hardware mock says; waits for a
post-processing worker; and ends READY. Each step is a status change recorded in the job records, which are the
station's persistent job store; who held which worker or instrument, and how it ended, is recorded by the pools
(holdings).

What can go wrong:
- a stage fails a job at a drawn point inside its service (FAILED, with the stage and its error);
- the user aborts a job: a waiting job leaves its queue, a job in service is interrupted and its worker freed,
  a job on the instrument stops it (progress so far kept); the job ends ABORTED. An abort of a finished job
  changes nothing and is recorded as an event;
- the service restarts (``sim.model.service``): every holding ends, every job process and queue is lost; after
  the downtime the station reads the persisted records to clean up every in-progress job by the restart policy
  (``sim.model.recovery``), through this class's public recovery interface. Submissions and aborts made while
  the service is down are retried by their clients.

The run never hangs: it finishes, stops at its horizon, or stops with ``NoProgress`` saying why the station makes
no progress (nothing left to happen while jobs are unfinished; simulated time stuck with no job settling; no
job settled over many restarts).

The job process is the simulator's hot path, so it does nothing it need not do: service times are drawn for all
jobs before the run (vectorised, one stream per stage), a free worker is taken without a SimPy event, a step of
zero service time neither takes a worker nor waits, the stages run in the job's own generator (none delegated
to), and each stage's STARTED and ENDED go straight into the records' status columns after the lifecycle check.
Interrupts are caught only where a worker or instrument is held (or waited for), to give it back.
"""

from __future__ import annotations

import contextlib
import gc
import math
from array import array
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import simpy
from simpy import Timeout
from simpy.core import EmptySchedule, StopSimulation

from hardware_mock.errors import ErrorRecord
from hardware_mock.limits import check_job, check_jobs, violation
from hardware_mock.timing import execution_time
from sim.model.calibration import CalibrationService
from sim.model.faults import CLEANED_UP, Cause, JobFailure, StageFailure, abort_times, stage_failures
from sim.model.instruments import Instruments, device_fits, matches_instruments
from sim.model.pools import FifoQueue, Pool
from sim.model.records import HoldingsTable, JobRecords, Outcome, seconds_per_job
from sim.model.recovery import recover
from sim.model.service import EventLog, NoProgress, Service, ServiceState, restart_driver
from sim.model.status import (
    ABORTED,
    FAILED,
    NOT_RECEIVED,
    POST_PROCESSING_PENDING,
    READY,
    RECEIVED,
    STAGE_OF_STATUS,
    STAGE_STARTS,
    STATUSES,
    check_transition,
)
from sim.model.workload import Workload
from sim.scenario.scenario import STAGE_NAMES, Scenario, Stage
from sim.scenario.streams import RandomStreams

EXECUTION_STARTED = STAGE_STARTS["execution"].code

JobProcess = Generator[simpy.Event, object, None]

STALLED_CHECKS = 5
"""Checks in a row with no job settled, once every job has been submitted, after which the run stops: the
station is either stuck at one instant or busy only with its own work (recalibrations, outages) for ever."""


@dataclass(frozen=True)
class StageRuntime:
    """A stage as the job process sees it: its pool, where it starts in the lifecycle, each job's service time,
    and the jobs it fails (job id -> seconds into service, error)."""

    name: str
    pool: Pool
    start_code: int
    service: array[float]
    failures: dict[int, StageFailure]
    fetches_calibration: bool = False
    """The calibration stage with a calibration plan: each fetch adds the plan's (cached or uncached) time."""
    queued_code: int = 0
    """The status of a job that waits for this stage's workers, where there is one (post-processing's
    POST_PROCESSING_PENDING; 0 where the previous stage's end is the waiting status)."""


def service_times(stage: Stage, name: str, workload: Workload, rng: np.random.Generator) -> array[float]:
    """Each job's service time in ``stage``: the base draw plus the parts that grow with the job's size."""
    times = stage.duration.sample(rng, len(workload))
    if stage.per_layer:
        times = times + stage.per_layer * workload.layers
    if stage.per_shot:
        times = times + stage.per_shot * workload.total_shots
    if name == "compilation":
        times = np.where(workload.kind == 1, 0.0, times)  # pulse-level jobs carry their own schedules
    return seconds_per_job(times)


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the model runs. A congested station keeps hundreds of
    thousands of waiting job processes alive, which the collector would scan again and again for almost nothing
    (the model makes few reference cycles): measured, it took 40% of an overloaded run. It runs once after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Station:
    """One simulated station: environment, service state, stage pools, instruments and the job records."""

    settled_batch = 20_000
    """Jobs per batch handed to ``on_settled``: large batches keep the database writes cheap."""
    events_per_check = 200_000
    """Events between two checks that the station makes progress (``STALLED_CHECKS`` checks without make a
    run stop): a million events with no job settling, seconds of computing, is no progress by any measure."""

    def __init__(self, scenario: Scenario, workload: Workload, streams: RandomStreams) -> None:
        self.scenario = scenario
        self.workload = workload
        self.streams = streams
        self.env = simpy.Environment()
        self.jobs = len(workload)
        self.records = JobRecords(self.jobs)
        self.event = EventLog(self.env, self.records)
        self.service = Service(self.env)
        self.stages = [self._stage_runtime(name) for name in STAGE_NAMES]
        self.steps: list[StageRuntime | None] = [*self.stages[:4], None, self.stages[4]]
        """The job's way through the station: the four stages before execution, the instruments (None), then
        post-processing."""
        self.compilation = self.stages[STAGE_NAMES.index("compilation")]
        self.instruments = Instruments(self.env, scenario, workload, self.records, streams, self.service,
                                       self.event, self.interrupt, self.finished)
        self.calibration: CalibrationService | None = None
        if scenario.calibration is not None:
            self.calibration = CalibrationService(self.env, scenario.calibration, self.instruments.pool,
                                                  self.service, self.records, self.event, self.finished, streams)
            self.instruments.calibration = self.calibration
        self.instruments.recompile = self.recompile
        self.live: dict[int, simpy.Process] = {}
        """The job processes running now (volatile: lost at a restart)."""
        self.aborting: set[int] = set()
        self.cancelled_before_receipt: set[int] = set()
        self.settled = 0
        self.done = self.env.event()
        self.settled_jobs: list[int] = []
        self.on_settled: Callable[[list[int]], None] | None = None
        """Called with each batch of ``settled_batch`` newly settled jobs (the results database writer)."""
        self._restart_losses = 0.0

    @property
    def pools(self) -> list[Pool]:
        """Every pool: the five stages' workers, then the instruments."""
        return [*(stage.pool for stage in self.stages), self.instruments.pool]

    @property
    def up(self) -> bool:
        return self.service.up

    def finished(self) -> bool:
        return self.done.triggered

    def _stage_runtime(self, name: str) -> StageRuntime:
        stage: Stage = getattr(self.scenario.stages, name)
        service = service_times(stage, name, self.workload, self.streams(f"stage.{name}"))
        failures = stage_failures(self.scenario.faults.failures_of(name), name, len(self.workload), self.streams)
        if name == "validation":
            failures.update(self._limit_violations())
        pool = Pool(self.env, name, stage.workers, FifoQueue(), self.records.holdings_of(name))
        return StageRuntime(name, pool, STAGE_STARTS[name].code, service, failures,
                            fetches_calibration=name == "calibration" and self.scenario.calibration is not None,
                            queued_code=POST_PROCESSING_PENDING if name == "post_processing" else 0)

    def _limit_violations(self) -> dict[int, StageFailure]:
        """Jobs over a device limit fail validation at the end of its service (IQM's server-side checks);
        a job must fit every instrument of the station, since any may run it."""
        w = self.workload
        failures: dict[int, StageFailure] = {}
        devices = dict.fromkeys(self.scenario.hardware.devices)
        fits_one = np.any([device_fits(d, w) for d in devices], axis=0) \
            if matches_instruments(self.scenario.scheduler) else None
        for device in devices:
            factor = np.where(np.isnan(w.duration_over_t2), device.max_circuit_duration_over_t2, w.duration_over_t2)
            reasons = check_jobs(device, w.qubits, w.shots, w.depth, factor)
            if fits_one is not None:  # the policy matches jobs to instruments: a job must fit one, not every one
                reasons = np.where(fits_one, 0, reasons)
            for job_id in np.flatnonzero(reasons).tolist():
                if job_id not in failures:
                    error = violation(device, int(reasons[job_id]), int(w.qubits[job_id]), int(w.shots[job_id]),
                                      int(w.depth[job_id]), float(factor[job_id]))
                    assert error is not None
                    failures[job_id] = StageFailure(1.0, error, after_end=False)
        return failures

    # --- running ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the station's own processes: arrivals, recalibrations, outages, aborts and restarts."""
        faults = self.scenario.faults
        self.env.process(self._arrivals())
        if self.calibration is not None:
            self.calibration.start()
        self.instruments.start()
        aborts = abort_times(faults.aborts, self.workload.submitted_at, self.streams)
        trace = self.scenario.arrivals.trace
        if trace is not None:  # the trace's own cancels
            cancelled = np.flatnonzero(~np.isnan(trace.abort_at[:len(self.workload)]))
            aborts = sorted(aborts + list(zip(trace.abort_at[cancelled].tolist(), cancelled.tolist(), strict=True)))
        if aborts:
            self.env.process(self._aborts(aborts))
        if faults.restarts.times or faults.restarts.mean_time_between is not None:
            self.env.process(restart_driver(self.env, self.service, faults.restarts, self.streams, self.event,
                                            self.go_down, self.come_up, self.finished, lambda: self.settled))

    def run(self, until: float | None = None) -> None:
        """Run until every job has settled (or until simulated time ``until``); raises ``NoProgress`` if the
        station can make none."""
        env = self.env
        if self.done.triggered:
            return
        stop = self.done if until is None else env.any_of([self.done, env.timeout(max(0.0, until - env.now))])
        with _cyclic_gc_paused():
            self._step_until(stop)

    def _step_until(self, stop: simpy.Event) -> None:
        """``env.run(until=stop)``, checking every ``events_per_check`` events that the station makes progress."""
        env = self.env
        assert stop.callbacks is not None
        stop.callbacks.append(StopSimulation.callback)
        step = env.step
        last_arrival = float(self.workload.submitted_at[-1]) if len(self.workload) else 0.0
        service = self.service
        stalled, since, last_settled, epoch = 0, env.now, self.settled, service.epoch
        try:
            while True:
                for _ in range(self.events_per_check):
                    step()
                # a downtime is no stall: clients retry, and the restart driver watches restarts that repeat
                if (self.settled != last_settled or env.now <= last_arrival or service.epoch != epoch
                        or not service.up):
                    stalled, since, last_settled, epoch = 0, env.now, self.settled, service.epoch
                else:
                    stalled += 1
                    if stalled >= STALLED_CHECKS:
                        raise self.instruments.stalled(self._stalled(stalled * self.events_per_check, since),
                                                       asked_again=True)
                if math.isinf(env.peek()):
                    raise NoProgress(f"the next event is at t = infinity ({self._unfinished()})")
        except StopSimulation:
            return
        except EmptySchedule:
            raise self.instruments.stalled(f"nothing is left to happen at t = {env.now:.9g} s but "
                                           f"{self._unfinished()}") from None

    def _stalled(self, events: int, since: float) -> str:
        now = self.env.now
        if now == since:
            return (f"simulated time has not advanced from {now:.9g} s over {events:,} events and no job has "
                    f"finished ({self._unfinished()})")
        return (f"no job has finished over {events:,} events, from t = {since:.9g} s to {now:.9g} s, though every "
                f"job has been submitted ({self._unfinished()}); the station goes on with its own work "
                "(recalibrations, outages) while the jobs wait")

    def _unfinished(self) -> str:
        status = np.asarray(self.records.status)
        unfinished = status[(status >= 0) & (status < READY)]
        if unfinished.size == 0:
            return f"{len(self.workload) - self.settled} jobs not finished"
        codes, counts = np.unique(unfinished, return_counts=True)
        where = ", ".join(f"{n} {STATUSES[c]}" for c, n in zip(codes.tolist(), counts.tolist(), strict=True))
        return f"{unfinished.size} jobs unfinished: {where}"

    def _settle(self, job_id: int) -> None:
        """A job reached a terminal status (or was cancelled before the service ever received it)."""
        self.settled += 1
        self.settled_jobs.append(job_id)
        if self.on_settled is not None and len(self.settled_jobs) >= self.settled_batch:
            self.on_settled(self.settled_jobs)
            self.settled_jobs = []
        if self.settled == self.jobs:
            self.done.succeed()

    def interrupt(self, job_id: int, cause: Cause) -> None:
        """Interrupt job ``job_id``'s process, if it runs now."""
        process = self.live.get(job_id)
        if process is not None and process.is_alive:
            process.interrupt(cause)

    def holdings(self) -> dict[str, HoldingsTable]:
        """Every pool's holdings so far (the open ones as held until now), by pool name."""
        return self.records.holdings_tables(self.env.now)

    # --- arrivals and client retries -------------------------------------------------------------------------

    def _arrivals(self) -> JobProcess:
        env = self.env
        for job_id, t in enumerate(seconds_per_job(self.workload.submitted_at)):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(self._job(job_id))

    def _retry_submission(self, job_id: int) -> JobProcess:
        """The client resubmits every ``retry_delay`` until the service is back up (or the user gave up)."""
        while True:
            yield self.env.timeout(self.scenario.faults.restarts.retry_delay)
            if job_id in self.cancelled_before_receipt:
                return
            if self.service.up:
                yield from self._job(job_id)
                return

    # --- the job process (hot path) --------------------------------------------------------------------------

    def _job(self, job_id: int, resume: int = NOT_RECEIVED, reserved: int | simpy.Event | None = None) -> JobProcess:
        """Take job ``job_id`` from its persisted status ``resume`` to a terminal status (``reserved``: the claim
        on its own instrument of a job requeued while executing).

        Each stage (``steps``; None stands for the instruments, whose part is ``Instruments.execute``): take a
        worker (waiting if none is free), serve, give the worker back, with STARTED (unless a resumed job has it
        already) and ENDED recorded; a failing job fails part-way into its service, or after it. The stages are
        written out here rather than in a generator of their own, and their two status changes write the
        records' columns directly: every delegated generator and method call is paid on each of a job's
        events."""
        env = self.env
        if self.service.state is not ServiceState.UP:  # the service went down in the instant this process started
            if resume == NOT_RECEIVED:  # a new submission: its client will retry
                self.env.process(self._retry_submission(job_id))
            return  # a resumed job: still in progress in the persisted records, the next recovery resumes it
        if job_id in self.cancelled_before_receipt:  # aborted in the very instant it was submitted
            return
        records = self.records
        status, columns = records.status, records.columns
        self.live[job_id] = env.active_process  # type: ignore[assignment]
        try:
            now = env.now  # (read again after every yield: SimPy's clock is a property)
            if resume == NOT_RECEIVED:
                records.advance(job_id, RECEIVED, now)
            for stage in self.steps:
                if stage is None:
                    if resume <= EXECUTION_STARTED:
                        yield from self.instruments.execute(job_id, resume, reserved)
                        now = env.now
                    continue
                started = stage.start_code
                if resume > started:
                    continue
                if stage.queued_code and resume < stage.queued_code:
                    records.advance(job_id, stage.queued_code, now)
                service = stage.service[job_id]
                failure = stage.failures.get(job_id) if stage.failures else None
                pool = stage.pool if service or stage.fetches_calibration else None
                worker = 0
                if pool is not None:
                    grant = pool.acquire(job_id, now)
                    if isinstance(grant, int):
                        worker = grant
                    else:
                        try:
                            worker = yield grant  # type: ignore[assignment]  # a grant's value: the server
                        except simpy.Interrupt:
                            pool.cancel(job_id, grant)
                            raise
                        now = env.now
                if resume != started:
                    if status[job_id] + 1 != started:
                        check_transition(job_id, status[job_id], started)
                    status[job_id] = started
                    columns[started][job_id] = now
                if stage.fetches_calibration:
                    assert self.calibration is not None
                    service += self.calibration.fetch(job_id)
                if failure is not None:
                    service *= failure.share
                if service:
                    try:
                        yield Timeout(env, service)
                    except simpy.Interrupt as interrupt:
                        if pool is not None and interrupt.cause is not Cause.RESTART:  # a restart ended it
                            pool.release(worker, Outcome.ABORTED)
                        raise
                    now = env.now
                if pool is not None:
                    pool.release(worker, Outcome.DONE if failure is None else Outcome.FAILED, now)
                if failure is not None:
                    if failure.after_end:
                        records.advance(job_id, started + 1, now)
                    raise JobFailure(stage.name, failure.error)
                if status[job_id] != started:
                    check_transition(job_id, status[job_id], started + 1)
                status[job_id] = started + 1  # ENDED
                columns[started + 1][job_id] = now
            records.advance(job_id, READY, now)
            self._settle(job_id)
        except JobFailure as failure:
            records.fail(job_id, FAILED, env.now, failure.stage, failure.error.user_message, failure.error.full_log)
            self._settle(job_id)
        except simpy.Interrupt as interrupt:
            if interrupt.cause is Cause.ABORT:
                self.aborting.discard(job_id)
                records.advance(job_id, ABORTED, env.now)
                self._settle(job_id)
            # On a restart the process just ends: recovery works from the persisted records.
        finally:
            self.live.pop(job_id, None)

    def recompile(self, job_id: int) -> JobProcess:
        """Compile a queued job again against the current calibration set (its set expired while it waited);
        its status stays PENDING_EXECUTION. While a recalibration is making the new set, the job waits for it."""
        assert self.calibration is not None
        self.event("recompile", job_id, f"set {self.records.calibration_set[job_id]} expired")
        yield from self.calibration.valid_set()
        pool = self.compilation.pool
        grant = pool.acquire(job_id, self.env.now)
        worker = grant if isinstance(grant, int) else (yield from pool.wait(job_id, grant))
        try:
            yield self.env.timeout(self.compilation.service[job_id] + self.calibration.fetch(job_id))
        except simpy.Interrupt as interrupt:
            if interrupt.cause is not Cause.RESTART:
                pool.release(worker, Outcome.ABORTED)
            raise
        pool.release(worker)

    # --- aborts ----------------------------------------------------------------------------------------------

    def abort(self, job_id: int) -> None:
        """The user cancels job ``job_id`` now (IQM: ``POST jobs/{id}/abort``)."""
        status = self.records.status[job_id]
        if not self.service.up:
            self.env.process(self._retry_abort(job_id))
        elif status >= READY or job_id in self.aborting or job_id in self.cancelled_before_receipt:
            self.event("abort_ignored", job_id, f"job already {STATUSES[status] if status >= 0 else 'cancelled'}")
        elif status == NOT_RECEIVED:  # the client is still retrying its submission: it simply stops
            self.cancelled_before_receipt.add(job_id)
            self.event("abort_before_receipt", job_id, "the client stopped retrying the submission")
            self._settle(job_id)
        elif job_id not in self.live:  # readmitted in this instant, its process not started yet
            self.env.process(self._retry_abort(job_id, delay=0.0))
        else:
            self.aborting.add(job_id)
            self.event("abort", job_id, f"in {STATUSES[status]}")
            self.live[job_id].interrupt(Cause.ABORT)

    def _aborts(self, schedule: list[tuple[float, int]]) -> JobProcess:
        env = self.env
        for t, job_id in schedule:
            if t > env.now:
                yield env.timeout(t - env.now)
            self.abort(job_id)

    def _retry_abort(self, job_id: int, delay: float | None = None) -> JobProcess:
        wait = self.scenario.faults.restarts.retry_delay if delay is None else delay
        yield self.env.timeout(wait)
        while not self.service.up:
            yield self.env.timeout(self.scenario.faults.restarts.retry_delay)
        self.abort(job_id)

    # --- restarts: the public interface of recovery ------------------------------------------------------------

    def go_down(self) -> None:
        """The service goes down: every holding ends, every job process, queue and instrument run is lost."""
        self.service.go_down()
        self.event("restart_begin", None, f"{len(self.live)} job processes lost")
        now = self.env.now
        self._restart_losses = sum(now - pool.held_since(server) for pool in self.pools
                                   for server, holder in pool.holdings.open().items() if holder >= 0)
        for pool in self.pools:
            pool.shutdown()
        for process in list(self.live.values()):
            if process.is_alive:
                process.interrupt(Cause.RESTART)
        self.aborting.clear()

    def come_up(self) -> None:
        """The downtime is over: recover (clean up every in-progress job by the restart policy), then up."""
        self.service.recover()
        policy = self.scenario.faults.restarts.policy
        self.instruments.came_up()
        cleaned, lost = recover(self, policy)
        self.records.lost_work += lost
        self.service.come_up()
        down_since = self.service.down_since
        self.event("restart", None, f"policy {policy}: cleaned up {cleaned} in-progress jobs, "
                   f"{lost:.1f} s of work lost, down {self.env.now - down_since:.1f} s")

    def in_progress(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The jobs whose persisted status is in progress, and those statuses."""
        status = np.asarray(self.records.status, dtype=np.int64)
        jobs = np.flatnonzero((status >= RECEIVED) & (status < READY))
        return jobs, status[jobs]

    def restart_losses(self) -> float:
        """Job service seconds that the last restart cut short (the holdings it ended)."""
        return self._restart_losses

    def work_done(self, jobs: npt.NDArray[np.int64]) -> float:
        """Job service seconds every pool gave ``jobs`` so far (every holding of theirs)."""
        total = 0.0
        for table in self.holdings().values():
            total += float(table.seconds[np.isin(table.holder, jobs)].sum())
        return total

    def clean_up(self, job_id: int, code: int) -> None:
        """Recovery's ``fail``: the in-progress job (persisted status ``code``) is FAILED, cleaned up."""
        self.records.fail(job_id, FAILED, self.env.now, STAGE_OF_STATUS[code], CLEANED_UP.user_message,
                          CLEANED_UP.full_log)
        self._settle(job_id)

    def resume(self, job_id: int, code: int) -> None:
        """Recovery's ``requeue``: the in-progress job goes on from its persisted status ``code`` (one that was
        executing claims its instrument now, before any job readmitted after it can take it)."""
        reserved = self.instruments.reserve(job_id) if code == EXECUTION_STARTED else None
        self.env.process(self._job(job_id, resume=code, reserved=reserved))

    # --- live submissions --------------------------------------------------------------------------------------
    # A client (``stationsim serve``) submits jobs while the station runs. Their ids are reserved in the workload
    # beforehand with ``submitted_at = inf`` (the arrivals never reach them); ``submit`` fills one in, once the
    # station has started and its processes have taken their first step (the arrivals read the submission times
    # then).

    def submit(self, job_id: int, *, circuits: int, shots: int, depth: int, qubits: int,
               duration_over_t2: float | None = None, use_timeslot: bool = False,
               rejection: ErrorRecord | None = None) -> None:
        """Client job ``job_id`` (a reserved id) is submitted now with the size its request gives. Each stage's
        service time keeps its base draw and takes the size-dependent parts of this size; the execution time is
        the timing model's for it; validation fails it for a broken device limit (checked first) or for
        ``rejection`` (what the caller found wrong, such as a gate not in the architecture); its process starts."""
        w = self.workload
        if not math.isinf(w.submitted_at[job_id]):
            raise ValueError(f"job {job_id} is not a reserved client job, or it was submitted already")
        old_layers, old_shots = float(w.layers[job_id]), float(w.total_shots[job_id])
        w.submitted_at[job_id] = self.env.now
        w.circuits[job_id], w.shots[job_id], w.depth[job_id], w.qubits[job_id] = circuits, shots, depth, qubits
        w.duration_over_t2[job_id] = math.nan if duration_over_t2 is None else duration_over_t2
        w.use_timeslot[job_id] = use_timeslot
        layers, total_shots = float(w.layers[job_id]), float(w.total_shots[job_id])
        for stage in self.stages:
            spec: Stage = getattr(self.scenario.stages, stage.name)
            base = stage.service[job_id] - spec.per_layer * old_layers - spec.per_shot * old_shots
            stage.service[job_id] = max(base, 0.0) + spec.per_layer * layers + spec.per_shot * total_shots
        if self.scenario.hardware.execution_time is None:  # else the drawn abstract run time stands
            for times, device in zip(self.instruments.times, self.scenario.hardware.devices, strict=True):
                times[job_id] = float(execution_time(device, circuits, shots, depth, int(w.sweep_points[job_id])))
        error = next((found for device in dict.fromkeys(self.scenario.hardware.devices)
                      if (found := check_job(device, qubits, shots, depth, duration_over_t2)) is not None), rejection)
        if error is not None:
            self.stages[STAGE_NAMES.index("validation")].failures[job_id] = StageFailure(1.0, error, after_end=False)
        self.env.process(self._job(job_id))
