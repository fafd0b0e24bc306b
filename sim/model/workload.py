"""The workload: every job a run will submit, drawn up front as columns.

Submission times come from the arrival process (Poisson, shaped by an arrival profile or not, or an explicit
list); each job's class comes from the workload mix, and its size (circuits, shots, depth, sweep points), user,
priority, project and timeslot flag from its class. All of it is sampled in vectorised blocks from the run's own
streams before the simulation starts (``arrivals``,
``workload`` for the classes, one stream per class and field for the sizes), so job ``j`` is the same job in
every scenario that shares the arrival and workload sections, however many jobs the run has: the basis of
common random numbers across the points of a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sim.scenario.scenario import JOB_KINDS, Scenario
from sim.scenario.streams import RandomStreams

if TYPE_CHECKING:
    from sim.scenario.trace import Trace

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Workload:
    """The jobs of one run, one entry per job id (0, 1, ...), in submission order."""

    submitted_at: FloatArray
    job_class: IntArray
    kind: IntArray
    """Index into ``JOB_KINDS``: 0 circuit, 1 pulse."""
    circuits: IntArray
    shots: IntArray
    depth: IntArray
    sweep_points: IntArray
    user: IntArray
    """Index into ``users``."""
    priority: IntArray
    qubits: IntArray
    duration_over_t2: FloatArray
    """Each job's ``max_circuit_duration_over_t2`` (NaN: the device's default)."""
    class_names: tuple[str, ...]
    users: tuple[str, ...]
    projects: tuple[str, ...] = ("default",)
    project: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Index into ``projects`` (all the first project when not given)."""
    use_timeslot: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    """Submitted to the timeslot queue (all False when not given)."""

    def __post_init__(self) -> None:
        n = len(self.submitted_at)
        if len(self.project) != n:
            object.__setattr__(self, "project", np.zeros(n, dtype=np.int64))
        if len(self.use_timeslot) != n:
            object.__setattr__(self, "use_timeslot", np.zeros(n, dtype=bool))

    def __len__(self) -> int:
        return len(self.submitted_at)

    def take(self, jobs: IntArray) -> Workload:
        """The workload of the jobs ``jobs`` only, in that order (their ids become 0, 1, ...)."""
        return replace(self, **{f.name: getattr(self, f.name)[jobs] for f in fields(self)
                                if isinstance(getattr(self, f.name), np.ndarray)})

    @property
    def layers(self) -> FloatArray:
        """Circuit layers to compile or run at every sweep point: circuits x depth x sweep points."""
        return (self.circuits * self.depth * self.sweep_points).astype(float)

    @property
    def total_shots(self) -> FloatArray:
        return (self.circuits * self.shots * self.sweep_points).astype(float)


def submission_times(scenario: Scenario, jobs: int, streams: RandomStreams) -> FloatArray:
    """When each of ``jobs`` jobs is submitted (seconds from the start of the run)."""
    arrivals = scenario.arrivals
    if arrivals.times is not None:
        return np.asarray(arrivals.times[:jobs], dtype=float)
    assert arrivals.rate is not None
    if arrivals.profile is not None:
        from sim.scenario.profile import thinned_times  # only a scenario whose rate follows a profile

        return thinned_times(arrivals.rate, arrivals.profile, scenario.clock, jobs, streams("arrivals"),
                             streams("arrivals.thinning"))
    return np.cumsum(streams("arrivals").exponential(1.0 / arrivals.rate, jobs))


def _positive_ints(values: FloatArray) -> IntArray:
    return np.maximum(np.rint(values), 1).astype(np.int64)


def trace_workload(trace: Trace, jobs: int) -> Workload:
    """The first ``jobs`` submissions of a trace, exactly as recorded."""
    rows = slice(0, jobs)
    users = tuple(dict.fromkeys(trace.user[rows]))
    projects = tuple(dict.fromkeys(trace.project[rows])) or ("default",)
    kind = trace.kind[rows]
    return Workload(submitted_at=trace.time[rows], job_class=kind, kind=kind, circuits=trace.circuits[rows],
                    shots=trace.shots[rows], depth=trace.depth[rows], sweep_points=trace.sweep_points[rows],
                    user=np.array([users.index(u) for u in trace.user[rows]], dtype=np.int64),
                    priority=trace.priority[rows], qubits=trace.qubits[rows],
                    duration_over_t2=np.full(len(kind), np.nan), class_names=JOB_KINDS, users=users,
                    projects=projects, use_timeslot=trace.use_timeslot[rows],
                    project=np.array([projects.index(p) for p in trace.project[rows]], dtype=np.int64))


def sample_workload(scenario: Scenario, jobs: int, streams: RandomStreams) -> Workload:
    """Draw the whole workload of a run of ``jobs`` jobs (or take it from the scenario's trace)."""
    if scenario.arrivals.trace is not None:
        return trace_workload(scenario.arrivals.trace, jobs)
    submitted = submission_times(scenario, jobs, streams)
    n = len(submitted)
    classes = scenario.workload
    weights = np.array([c.weight for c in classes])
    job_class = streams("workload").choice(len(classes), size=n, p=weights / weights.sum()).astype(np.int64)
    users = tuple(dict.fromkeys(u for c in classes for u in c.users))
    columns = {name: np.ones(n, dtype=np.int64) for name in ("circuits", "shots", "depth", "sweep_points", "qubits")}
    duration_over_t2 = np.full(n, np.nan)
    kind, user, priority, project = (np.zeros(n, dtype=np.int64) for _ in range(4))
    use_timeslot = np.zeros(n, dtype=bool)
    projects = tuple(dict.fromkeys(c.project for c in classes))
    for index, job_class_spec in enumerate(classes):
        members = np.flatnonzero(job_class == index)
        if members.size == 0:
            continue
        # Each field of each class has a stream of its own, drawn for every job and kept for the members: job j
        # gets the same size however many jobs the run has, and whatever the other fields' settings.
        for name, column in columns.items():
            rng = streams(f"workload.{job_class_spec.name}.{name}")
            column[members] = _positive_ints(getattr(job_class_spec, name).sample(rng, n)[members])
        kind[members] = JOB_KINDS.index(job_class_spec.kind)
        class_users = np.array([users.index(u) for u in job_class_spec.users])
        drawn_users = streams(f"workload.{job_class_spec.name}.user").integers(0, len(class_users), n)
        user[members] = class_users[drawn_users[members]]
        priority[members] = job_class_spec.priority
        project[members] = projects.index(job_class_spec.project)
        use_timeslot[members] = job_class_spec.use_timeslot
        if job_class_spec.max_circuit_duration_over_t2 is not None:
            duration_over_t2[members] = job_class_spec.max_circuit_duration_over_t2
    return Workload(submitted_at=submitted, job_class=job_class, kind=kind, user=user, priority=priority,
                    duration_over_t2=duration_over_t2, class_names=tuple(c.name for c in classes), users=users,
                    projects=projects, project=project, use_timeslot=use_timeslot, **columns)
