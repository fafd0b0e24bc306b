"""The station: IQM Station Control's job executor as a SimPy model, and the process every job runs.

A received job passes the stages in order, each a pool of workers: validation, calibration fetch,
compilation, saving sweep metadata; then it waits in PENDING_EXECUTION for an instrument, in the order the
scheduling policy gives; runs on the instrument for as long as the hardware mock says; waits for a
post-processing worker; and ends READY. Each step is a status change recorded in the job records.

The job process is the simulator's hot path, so it does nothing it need not do: service times are drawn for
all jobs before the run (vectorised, one stream per stage), a free worker is taken without a SimPy event, a
stage of zero service time neither takes a worker nor waits, and a stage with unlimited workers has no pool.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from hardware_mock.timing import execution_time
from sim.policies import execution_key
from sim.pools import FifoQueue, Pool, PriorityQueue
from sim.records import JobRecords
from sim.scenario import STAGE_NAMES, Scenario, Stage
from sim.status import PENDING_EXECUTION, READY, RECEIVED, STAGE_STARTS
from sim.streams import RandomStreams
from sim.workload import Workload

EXECUTION_STARTED = STAGE_STARTS["execution"].code

JobProcess = Generator[simpy.Event, object, None]


@dataclass(frozen=True)
class StageRuntime:
    """A stage as the job process sees it: where it starts in the lifecycle, its pool, each job's service."""

    name: str
    start_code: int
    pool: Pool | None
    service: list[float]


def service_times(stage: Stage, name: str, workload: Workload, rng: np.random.Generator) -> list[float]:
    """Each job's service time in ``stage``: the base draw plus the parts that grow with the job's size."""
    times = stage.duration.sample(rng, len(workload))
    if stage.per_layer:
        times = times + stage.per_layer * workload.layers
    if stage.per_shot:
        times = times + stage.per_shot * workload.total_shots
    if name == "compilation":
        times = np.where(workload.kind == 1, 0.0, times)  # pulse-level jobs carry their own schedules
    as_list: list[float] = times.tolist()
    return as_list


class Station:
    """One simulated station: environment, stage pools, instruments and the job records, ready to run."""

    def __init__(self, scenario: Scenario, workload: Workload, streams: RandomStreams) -> None:
        self.scenario = scenario
        self.workload = workload
        self.env = simpy.Environment()
        self.records = JobRecords(len(workload))
        runtimes = [self._stage_runtime(name, streams) for name in STAGE_NAMES]
        self.pre_execution = runtimes[:4]
        self.post_processing = runtimes[4]
        devices = scenario.hardware.devices
        self.instruments = Pool(self.env, len(devices),
                                PriorityQueue(execution_key(scenario.scheduler.policy, self.env, workload)))
        self.execution_time = self._execution_times(streams)

    def _stage_runtime(self, name: str, streams: RandomStreams) -> StageRuntime:
        stage: Stage = getattr(self.scenario.stages, name)
        pool = None if math.isinf(stage.workers) else Pool(self.env, int(stage.workers), FifoQueue())
        service = service_times(stage, name, self.workload, streams(f"stage.{name}"))
        return StageRuntime(name, STAGE_STARTS[name].code, pool, service)

    def _execution_times(self, streams: RandomStreams) -> list[list[float]]:
        """Seconds each job would take on each instrument (instruments of one device share one list)."""
        hardware = self.scenario.hardware
        w = self.workload
        if hardware.execution_time is not None:
            shared = hardware.execution_time.sample(streams("hardware"), len(w)).tolist()
            return [shared] * len(hardware.devices)
        by_device = {device: execution_time(device, w.circuits, w.shots, w.depth, w.sweep_points).tolist()
                     for device in set(hardware.devices)}
        return [by_device[device] for device in hardware.devices]

    # --- processes -------------------------------------------------------------------------------------------

    def run(self, until: float | None = None) -> None:
        self.env.process(self._arrivals())
        self.env.run(until=until)

    def _arrivals(self) -> JobProcess:
        env = self.env
        for job_id, t in enumerate(self.workload.submitted_at.tolist()):
            if t > env.now:
                yield env.timeout(t - env.now)
            env.process(self._job(job_id))

    def _job(self, job_id: int) -> JobProcess:
        env = self.env
        advance = self.records.advance
        advance(job_id, RECEIVED, env.now)
        for stage in self.pre_execution:
            yield from self._stage(job_id, stage)
        advance(job_id, PENDING_EXECUTION, env.now)
        grant = self.instruments.acquire(job_id)
        instrument = grant if isinstance(grant, int) else (yield grant)
        assert isinstance(instrument, int)
        self.records.instrument[job_id] = instrument
        advance(job_id, EXECUTION_STARTED, env.now)
        yield env.timeout(self.execution_time[instrument][job_id])
        self.instruments.release(instrument)
        advance(job_id, EXECUTION_STARTED + 1, env.now)  # EXECUTION_ENDED
        advance(job_id, EXECUTION_STARTED + 2, env.now)  # POST_PROCESSING_PENDING
        yield from self._stage(job_id, self.post_processing)
        advance(job_id, READY, env.now)

    def _stage(self, job_id: int, stage: StageRuntime) -> JobProcess:
        """Take a worker (waiting if none is free), serve, give the worker back; STARTED and ENDED recorded."""
        env = self.env
        service = stage.service[job_id]
        pool = stage.pool
        if service and pool is not None:
            grant = pool.acquire(job_id)
            worker = grant if isinstance(grant, int) else (yield grant)
            assert isinstance(worker, int)
            self.records.advance(job_id, stage.start_code, env.now)
            yield env.timeout(service)
            pool.release(worker)
        else:
            self.records.advance(job_id, stage.start_code, env.now)
            if service:
                yield env.timeout(service)
        self.records.advance(job_id, stage.start_code + 1, env.now)
