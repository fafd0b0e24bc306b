"""What a scheduling policy may know: a read-only view of the run's jobs, of the instruments and of the
station's schedule.

A policy sees jobs by id (0 .. jobs - 1, in submission order) and reads every workload column of the results
database's ``jobs`` table, by the same name, from the context (plain lists, indexed by job id):
``submitted_at`` (seconds from the start of the run), ``job_class`` (an index into ``job_classes``, the class
names), ``kind`` (an index into ``job_kinds``: circuit or pulse), ``qubits``, ``shots``, ``circuits``, ``depth``,
``sweep_points``, who submitted them (``user``, ``project``: indexes into ``users``, ``projects``),
``priority``, ``use_timeslot`` (IQM's ``submit_job(..., use_timeslot=True)``), and ``expected``: the seconds the
instruments will take to run the job (the hardware mock's estimate from the job's size, IQM's QPU-runtime
estimate; the longest over the station's devices when they differ, and ``expected_on(job, instrument)`` on one
of them; with a plain ``execution_time`` distribution, the drawn time itself). It also reads ``entered(job)``,
the job's queue-entry time (when it reached PENDING_EXECUTION, kept when it rejoins the queue after a
recompilation or a restart), the reserved ``windows`` of the timeslot queue with the clock they are written in,
and the calibration schedule: ``next_recalibration(now)`` and the calibration set each job was compiled
against.

The instruments: ``devices[i]`` is instrument ``i``'s device profile (``hardware_mock.device.DeviceProfile``:
qubits, T1/T2, gate and readout times, shot limit), and ``instrument_state(i)`` says what it is doing now
(``idle``, ``running``, ``calibrating``, ``down`` or ``resetting``). It never sees the station itself.

``QueueContext.of(...)`` builds a context from plain lists, to drive a policy by hand in a unit test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from hardware_mock.calibration import CalibrationPlan, CalibrationSet, next_recalibration
from hardware_mock.device import PRESETS, DeviceProfile

if TYPE_CHECKING:
    from sim.model.workload import Workload
    from sim.policies.windows import Window

GROUPINGS = ("user", "project")


class RecalibrationSchedule(Protocol):
    """The station's recalibrations as a policy may read them (the calibration service gives it)."""

    def next_recalibration(self, now: float, instrument: int | None = None) -> float: ...

    def last_recalibrated(self, instrument: int) -> float: ...
JOB_KINDS = ("circuit", "pulse")
"""The job kinds, as ``kind[job]`` indexes them (the scenario's ``JOB_KINDS``)."""
INSTRUMENT_STATES = ("idle", "running", "calibrating", "down", "resetting")
"""What ``instrument_state(i)`` may answer."""


def _ints(values: Sequence[int] | npt.NDArray[Any]) -> list[int]:
    return np.asarray(values, dtype=np.int64).tolist()  # type: ignore[no-any-return]


class QueueContext:
    """A read-only view of the jobs (by id) and of the station's schedule, for scheduling policies."""

    def __init__(self, *, users: tuple[str, ...], user: npt.ArrayLike, projects: tuple[str, ...],
                 project: npt.ArrayLike, priority: npt.ArrayLike, shots: npt.ArrayLike, circuits: npt.ArrayLike,
                 use_timeslot: npt.ArrayLike, expected: npt.ArrayLike, entered: npt.NDArray[np.float64],
                 submitted_at: npt.ArrayLike | None = None, job_class: npt.ArrayLike | None = None,
                 job_classes: tuple[str, ...] = ("default",), kind: npt.ArrayLike | None = None,
                 qubits: npt.ArrayLike | None = None, depth: npt.ArrayLike | None = None,
                 sweep_points: npt.ArrayLike | None = None, instruments: int | None = None,
                 devices: tuple[DeviceProfile, ...] | None = None,
                 expected_by_instrument: Sequence[Sequence[float]] | None = None,
                 instrument_state: Callable[[int], str] | None = None, windows: tuple[Window, ...] = (),
                 start_time_of_day: float = 0.0, calibration: CalibrationPlan | None = None,
                 current_set: Callable[[], CalibrationSet] | None = None,
                 calibration_set: npt.NDArray[np.int64] | None = None,
                 schedule: RecalibrationSchedule | None = None) -> None:
        self.users = users
        """User names; ``user[job]`` indexes them."""
        self.projects = projects
        """Project names; ``project[job]`` indexes them."""
        self.job_classes = job_classes
        """The workload's job class names (``[[workload]] name``); ``job_class[job]`` indexes them."""
        self.job_kinds = JOB_KINDS
        """``kind[job]`` indexes them: 0 circuit, 1 pulse."""
        n = len(entered)
        self._columns: dict[str, npt.ArrayLike] = {
            "user": user, "project": project, "priority": priority, "shots": shots, "circuits": circuits,
            "job_class": [0] * n if job_class is None else job_class, "kind": [0] * n if kind is None else kind,
            "qubits": [1] * n if qubits is None else qubits, "depth": [1] * n if depth is None else depth,
            "sweep_points": [1] * n if sweep_points is None else sweep_points}
        self._submitted_at = np.zeros(n) if submitted_at is None else submitted_at
        self._use_timeslot = use_timeslot
        self._expected = expected
        self._entered = entered
        self.jobs = n
        if devices is None:
            devices = (PRESETS["garnet"],) * (1 if instruments is None else instruments)
        self.devices = devices
        """Each instrument's device profile (qubits, T2, timing, limits), by instrument index."""
        self.instruments = len(devices)
        """How many instruments serve the queue."""
        if instruments is not None and instruments != len(devices):
            raise ValueError(f"instruments = {instruments} but {len(devices)} devices given")
        self._by_instrument = expected_by_instrument
        self._instrument_state = instrument_state
        self.windows = windows
        """Reserved windows of the timeslot queue (``sim.policies.windows``)."""
        self.start_time_of_day = start_time_of_day
        """The time of day (seconds after midnight) at the start of the run: the clock of daily windows."""
        self.calibration = calibration
        """The recalibration plan, or None when the instruments are never recalibrated."""
        self._current_set = current_set
        self._schedule = schedule
        self._calibration_set = calibration_set

    # --- workload fields (plain lists: fast to index in a policy's inner loop) --------------------------------

    @cached_property
    def user(self) -> list[int]:
        return _ints(self._columns["user"])  # type: ignore[arg-type]

    @cached_property
    def project(self) -> list[int]:
        return _ints(self._columns["project"])  # type: ignore[arg-type]

    @cached_property
    def priority(self) -> list[int]:
        """Higher is more urgent."""
        return _ints(self._columns["priority"])  # type: ignore[arg-type]

    @cached_property
    def shots(self) -> list[int]:
        return _ints(self._columns["shots"])  # type: ignore[arg-type]

    @cached_property
    def circuits(self) -> list[int]:
        return _ints(self._columns["circuits"])  # type: ignore[arg-type]

    @cached_property
    def submitted_at(self) -> list[float]:
        """When the job was submitted (seconds from the start of the run)."""
        seconds: list[float] = np.asarray(self._submitted_at, dtype=np.float64).tolist()
        return seconds

    @cached_property
    def job_class(self) -> list[int]:
        """Index into ``job_classes``."""
        return _ints(self._columns["job_class"])  # type: ignore[arg-type]

    @cached_property
    def kind(self) -> list[int]:
        """Index into ``job_kinds``: 0 circuit, 1 pulse."""
        return _ints(self._columns["kind"])  # type: ignore[arg-type]

    @cached_property
    def qubits(self) -> list[int]:
        """Qubits the job's circuits use (a device with fewer cannot run it)."""
        return _ints(self._columns["qubits"])  # type: ignore[arg-type]

    @cached_property
    def depth(self) -> list[int]:
        return _ints(self._columns["depth"])  # type: ignore[arg-type]

    @cached_property
    def sweep_points(self) -> list[int]:
        return _ints(self._columns["sweep_points"])  # type: ignore[arg-type]

    @cached_property
    def use_timeslot(self) -> list[bool]:
        """Whether the job was submitted to the timeslot queue (IQM's ``use_timeslot=True``)."""
        flags: list[bool] = np.asarray(self._use_timeslot, dtype=bool).tolist()
        return flags

    @cached_property
    def expected(self) -> list[float]:
        """Expected seconds on the instruments."""
        if isinstance(self._expected, list):
            return self._expected
        seconds: list[float] = np.asarray(self._expected, dtype=np.float64).tolist()
        return seconds

    def expected_on(self, job: int, instrument: int) -> float:
        """Expected seconds of ``job`` on ``instrument`` (its own device's estimate)."""
        if self._by_instrument is None:
            return self.expected[job]
        return float(self._by_instrument[instrument][job])

    def instrument_state(self, instrument: int) -> str:
        """What ``instrument`` is doing now: one of ``INSTRUMENT_STATES`` (``idle`` when driven by hand)."""
        return "idle" if self._instrument_state is None else self._instrument_state(instrument)

    def instrument_states(self) -> list[str]:
        """Every instrument's state now, by index."""
        return [self.instrument_state(i) for i in range(self.instruments)]

    def groups(self, by: str) -> tuple[tuple[str, ...], list[int]]:
        """The group names and each job's group, for grouping by ``user`` or ``project``."""
        if by == "user":
            return self.users, self.user
        if by == "project":
            return self.projects, self.project
        raise ValueError(f"unknown grouping {by!r}; expected one of {', '.join(GROUPINGS)}")

    def entered(self, job: int) -> float:
        """When ``job`` entered the queue (NaN if it never did)."""
        return float(self._entered[job])

    # --- the calibration schedule ------------------------------------------------------------------------------

    def next_recalibration(self, now: float, instrument: int | None = None) -> float:
        """When the next recalibration of ``instrument`` (None: of any instrument) is requested, at ``now`` or
        later (inf if never). Each instrument recalibrates on its own schedule (``sim.model.calibration``)."""
        if self._schedule is not None:
            return self._schedule.next_recalibration(now, instrument)
        if self.calibration is None or self._current_set is None:
            return math.inf
        return next_recalibration(self.calibration, self._current_set(), now)[0]

    def calibration_period_start(self, instrument: int | None = None) -> float:
        """When ``instrument`` was last recalibrated (None: when the current calibration set was made; -inf
        without a calibration plan)."""
        if self._schedule is not None and instrument is not None:
            return self._schedule.last_recalibrated(instrument)
        return -math.inf if self._current_set is None else self._current_set().created_at

    def calibration_set(self, job: int) -> int:
        """The calibration set ``job`` was compiled against (-1: none)."""
        return -1 if self._calibration_set is None else int(self._calibration_set[job])

    # --- building -----------------------------------------------------------------------------------------------

    @classmethod
    def of(cls, jobs: int, *, entered: Sequence[float] | None = None, users: tuple[str, ...] = ("user",),
           projects: tuple[str, ...] = ("default",), **columns: Any) -> QueueContext:
        """A context for ``jobs`` jobs from plain lists (defaults: user 0, project 0, priority 0, 1000 shots,
        one circuit of depth 1 on one qubit, one sweep point, class 0, a circuit job, no timeslot, 1 s expected,
        submitted at 0 and entered at its job id; one Garnet instrument), for driving a policy by hand."""
        defaults: dict[str, Any] = {"user": 0, "project": 0, "priority": 0, "shots": 1000, "circuits": 1,
                                    "use_timeslot": False, "expected": 1.0, "submitted_at": 0.0, "job_class": 0,
                                    "kind": 0, "qubits": 1, "depth": 1, "sweep_points": 1}
        unknown = set(columns) - set(defaults) - {"instruments", "windows", "start_time_of_day", "calibration",
                                                   "current_set", "calibration_set", "schedule", "job_classes",
                                                   "devices", "expected_by_instrument", "instrument_state"}
        if unknown:
            raise TypeError(f"unknown context columns {sorted(unknown)}")
        values = {name: columns.pop(name, [default] * jobs) for name, default in defaults.items()}
        times = np.arange(jobs, dtype=np.float64) if entered is None else np.asarray(entered, dtype=np.float64)
        return cls(users=users, projects=projects, entered=times, **values, **columns)

    @classmethod
    def empty(cls, *, job_classes: tuple[str, ...] = ("default",), users: tuple[str, ...] = ("user",),
              projects: tuple[str, ...] = ("default",),
              devices: tuple[DeviceProfile, ...] | None = None) -> QueueContext:
        """A context with no jobs (but the scenario's class, user and project names and devices): a policy built
        on it only checks its options."""
        return cls.of(0, job_classes=job_classes, users=users, projects=projects, devices=devices)

    @classmethod
    def for_workload(cls, workload: Workload, expected: npt.ArrayLike, entered: npt.NDArray[np.float64],
                     **station: Any) -> QueueContext:
        """The context of a run: ``workload``'s columns, the expected execution times, the live column of
        queue-entry times, and the station's schedule (``instruments``, ``windows``, ``calibration``, ...)."""
        w = workload
        return cls(users=w.users, user=w.user, projects=w.projects, project=w.project, priority=w.priority,
                   shots=w.shots, circuits=w.circuits, use_timeslot=w.use_timeslot, expected=expected,
                   entered=entered, submitted_at=w.submitted_at, job_class=w.job_class, job_classes=w.class_names,
                   kind=w.kind, qubits=w.qubits, depth=w.depth, sweep_points=w.sweep_points, **station)
