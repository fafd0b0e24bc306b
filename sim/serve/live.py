"""The live station: one ``Station`` run in accelerated real time, with job ids reserved for client jobs.

The workload is the scenario's own (its arrivals are the background load a client's jobs queue behind; none
with ``background = False``) followed by ``client_slots`` reserved ids, submitted at infinity so the arrivals
never start them. A client's submission takes the next free id and hands it to ``Station.submit`` with the
size its circuits give.

The clock: simulated time runs ``speed`` times as fast as the wall clock from the moment the station starts
(``--speed 60``: a wall second is a simulated minute). ``advance`` steps the SimPy environment up to the time the
wall clock says, giving up after ``STEP_BUDGET`` wall seconds so that a station slower than its clock never
stops the server answering (it then lags; ``lag`` says by how much). One event loop owns the station: the
server calls ``advance`` from its clock task and before every request, never from two threads, so no lock is
needed. After every advance the changed job rows are committed (``sim.serve.persistence``).

The scenario's horizon does not apply: the station serves until the server stops.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, fields

import numpy as np

from hardware_mock.errors import ErrorRecord
from sim.model.station import Station
from sim.model.workload import Workload, sample_workload
from sim.scenario.faults import check_explicit_aborts
from sim.scenario.scenario import Scenario
from sim.scenario.streams import RandomStreams
from sim.serve.architecture import Architecture
from sim.serve.circuits import CircuitJob
from sim.serve.persistence import ServeStore

STEP_BUDGET = 0.05
"""Wall seconds one ``advance`` may spend stepping the model before it lets the server answer requests."""
CLIENT_CLASS = "client"
"""The job class (and user) of client jobs in the results database."""


@dataclass(frozen=True)
class LiveConfig:
    """How the station is served: its pace, its background load and the ids kept for client jobs."""

    speed: float = 1.0
    background: bool = True
    client_slots: int = 10_000
    seed: int | None = None
    """The run's seed (default: the scenario's)."""


class SlotsExhausted(RuntimeError):
    """Every id reserved for client jobs in this run is taken."""


def with_client_slots(workload: Workload, slots: int) -> Workload:
    """``workload`` followed by ``slots`` client jobs of class and user ``client``, submitted at infinity."""
    n = len(workload)
    fill: dict[str, object] = {"submitted_at": math.inf, "job_class": len(workload.class_names), "kind": 0,
                               "circuits": 1, "shots": 1, "depth": 1, "sweep_points": 1, "priority": 0, "qubits": 1,
                               "duration_over_t2": math.nan, "project": 0, "use_timeslot": False,
                               "user": len(workload.users)}
    columns = {}
    for f in fields(workload):
        value = getattr(workload, f.name)
        if isinstance(value, np.ndarray):
            columns[f.name] = np.concatenate([value[:n], np.full(slots, fill[f.name], dtype=value.dtype)])
    return Workload(**columns, class_names=(*workload.class_names, CLIENT_CLASS),
                    users=(*workload.users, CLIENT_CLASS), projects=workload.projects)


class LiveStation:
    """The station, its clock, its reserved ids and its database."""

    def __init__(self, scenario: Scenario, config: LiveConfig, store: ServeStore) -> None:
        self.scenario = scenario
        self.config = config
        self.store = store
        seed = scenario.run.seed if config.seed is None else config.seed
        self.streams = RandomStreams(seed)
        background = sample_workload(scenario, scenario.run.jobs, self.streams)
        if not config.background:
            background = background.take(np.arange(0, dtype=np.int64))
        check_explicit_aborts(scenario.source, scenario.faults.aborts, background.submitted_at)
        self.first_slot = len(background)
        self.workload = with_client_slots(background, config.client_slots)
        self.station = Station(scenario, self.workload, self.streams)
        self.architecture = Architecture(scenario.name, scenario.hardware.devices[0])
        self.next_slot = self.first_slot
        self.epoch = time.time()
        self._started = time.monotonic()
        self.run_id = store.begin(scenario, seed, len(self.workload), self.epoch, config.speed)
        self.closed = False
        """Whether the run was stopped cleanly (``close``): its rows all written, the run complete."""
        self.failure: str | None = None
        """Why the model stopped (an error it raised), if it did: the server then answers 500."""
        self.station.start()
        env = self.station.env
        while env.peek() <= env.now:  # the processes begin: the arrivals have read their (infinite) slot times
            env.step()

    @property
    def now(self) -> float:
        return float(self.station.env.now)

    def target(self) -> float:
        """The simulated time the wall clock says it is."""
        return (time.monotonic() - self._started) * self.config.speed

    def lag(self) -> float:
        """Simulated seconds the station is behind its clock."""
        return max(0.0, self.target() - self.now)

    def wall(self, t: float) -> float:
        """The wall time (Unix seconds) of simulated time ``t`` in this run."""
        return self.epoch + t / self.config.speed

    def advance(self) -> None:
        """Run the model up to the clock's time (or for ``STEP_BUDGET``), then commit what changed."""
        if self.failure is not None:
            return
        env, target = self.station.env, self.target()
        deadline = time.perf_counter() + STEP_BUDGET
        try:
            steps = 0
            while env.peek() <= target:
                env.step()
                steps += 1
                if steps % 256 == 0 and time.perf_counter() > deadline:
                    break
            else:
                if target > env.now:
                    env.run(until=target)
        except Exception as error:  # a model error: stop the station, keep serving what is stored
            self.failure = f"the simulated station stopped at t = {env.now:.6g} s: {type(error).__name__}: {error}"
            raise
        finally:
            self.store.write(self.workload, self.station.records, self.now)

    def submit(self, job: CircuitJob, rejection: str | None, use_timeslot: bool = False) -> int:
        """Submit ``job`` now under the next reserved id; returns the id."""
        if self.next_slot >= len(self.workload):
            raise SlotsExhausted(f"all {self.config.client_slots} job ids this run reserved for clients are taken; "
                                 "start the server again to serve more")
        job_id = self.next_slot
        self.next_slot += 1
        error = None if rejection is None else ErrorRecord(rejection, f"Validation failed: {rejection}")
        self.station.submit(job_id, circuits=len(job.circuits), shots=job.shots, depth=job.depth,
                            qubits=len(job.qubits), duration_over_t2=job.duration_over_t2, use_timeslot=use_timeslot,
                            rejection=error)
        return job_id

    def cancel(self, job_id: int) -> None:
        """The user cancels the job (the model's abort: at once in a queue or stage, at the next shot batch on
        the instrument); a finished job stays as it is."""
        self.station.abort(job_id)  # of a finished job: recorded as ignored

    def current_calibration_set(self) -> int:
        calibration = self.station.calibration
        return 0 if calibration is None else calibration.current.id

    def calibration_sets(self) -> int:
        calibration = self.station.calibration
        return 1 if calibration is None else len(calibration.sets)

    def close(self) -> None:
        """A clean stop: the last rows written and the run marked complete."""
        self.store.write(self.workload, self.station.records, self.now)
        self.store.finish(self.now, time.monotonic() - self._started, self.station.records.lost_work)
        self.closed = True
