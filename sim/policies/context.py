"""What a scheduling policy may know: a read-only view of the run's jobs and of the station's schedule.

A policy sees jobs by id (0 .. jobs - 1, in submission order) and reads their workload fields from the context:
who submitted them (``user``, ``project``), ``priority``, ``shots``, ``circuits``, ``use_timeslot`` (IQM's
``submit_job(..., use_timeslot=True)``), and ``expected``: the seconds the instruments will take to run the job
(the hardware mock's estimate from the job's size, IQM's QPU-runtime estimate; the longest over the station's
devices when they differ; with a plain ``execution_time`` distribution, the drawn time itself). It also reads
``entered(job)``, the job's queue-entry time (when it reached PENDING_EXECUTION, kept when it rejoins the queue
after a recompilation or a restart), the reserved ``windows`` of the timeslot queue with the clock they are
written in, and the calibration schedule: ``next_recalibration(now)`` and the calibration set each job was
compiled against. It never sees the station itself.

``QueueContext.of(...)`` builds a context from plain lists, to drive a policy by hand in a unit test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hardware_mock.calibration import CalibrationPlan, CalibrationSet, next_recalibration

if TYPE_CHECKING:
    from sim.model.workload import Workload
    from sim.policies.windows import Window

GROUPINGS = ("user", "project")


def _ints(values: Sequence[int] | npt.NDArray[Any]) -> list[int]:
    return np.asarray(values, dtype=np.int64).tolist()  # type: ignore[no-any-return]


class QueueContext:
    """A read-only view of the jobs (by id) and of the station's schedule, for scheduling policies."""

    def __init__(self, *, users: tuple[str, ...], user: npt.ArrayLike, projects: tuple[str, ...],
                 project: npt.ArrayLike, priority: npt.ArrayLike, shots: npt.ArrayLike, circuits: npt.ArrayLike,
                 use_timeslot: npt.ArrayLike, expected: npt.ArrayLike, entered: npt.NDArray[np.float64],
                 instruments: int = 1, windows: tuple[Window, ...] = (), start_time_of_day: float = 0.0,
                 calibration: CalibrationPlan | None = None,
                 current_set: Callable[[], CalibrationSet] | None = None,
                 calibration_set: npt.NDArray[np.int64] | None = None) -> None:
        self.users = users
        """User names; ``user[job]`` indexes them."""
        self.projects = projects
        """Project names; ``project[job]`` indexes them."""
        self._columns: dict[str, npt.ArrayLike] = {
            "user": user, "project": project, "priority": priority, "shots": shots, "circuits": circuits}
        self._use_timeslot = use_timeslot
        self._expected = expected
        self._entered = entered
        self.jobs = len(entered)
        self.instruments = instruments
        """How many instruments serve the queue."""
        self.windows = windows
        """Reserved windows of the timeslot queue (``sim.policies.windows``)."""
        self.start_time_of_day = start_time_of_day
        """The time of day (seconds after midnight) at the start of the run: the clock of daily windows."""
        self.calibration = calibration
        """The recalibration plan, or None when the instruments are never recalibrated."""
        self._current_set = current_set
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

    def next_recalibration(self, now: float) -> float:
        """When the next recalibration is requested, at ``now`` or later (inf if never)."""
        if self.calibration is None or self._current_set is None:
            return math.inf
        return next_recalibration(self.calibration, self._current_set(), now)[0]

    def calibration_period_start(self) -> float:
        """When the current calibration set was made (-inf without a calibration plan)."""
        return -math.inf if self._current_set is None else self._current_set().created_at

    def calibration_set(self, job: int) -> int:
        """The calibration set ``job`` was compiled against (-1: none)."""
        return -1 if self._calibration_set is None else int(self._calibration_set[job])

    # --- building -----------------------------------------------------------------------------------------------

    @classmethod
    def of(cls, jobs: int, *, entered: Sequence[float] | None = None, users: tuple[str, ...] = ("user",),
           projects: tuple[str, ...] = ("default",), **columns: Any) -> QueueContext:
        """A context for ``jobs`` jobs from plain lists (defaults: user 0, project 0, priority 0, 1000 shots,
        one circuit, no timeslot, 1 s expected, entered at its job id), for driving a policy by hand."""
        defaults: dict[str, Any] = {"user": 0, "project": 0, "priority": 0, "shots": 1000, "circuits": 1,
                                    "use_timeslot": False, "expected": 1.0}
        unknown = set(columns) - set(defaults) - {"instruments", "windows", "start_time_of_day", "calibration",
                                                   "current_set", "calibration_set"}
        if unknown:
            raise TypeError(f"unknown context columns {sorted(unknown)}")
        values = {name: columns.pop(name, [default] * jobs) for name, default in defaults.items()}
        times = np.arange(jobs, dtype=np.float64) if entered is None else np.asarray(entered, dtype=np.float64)
        return cls(users=users, projects=projects, entered=times, **values, **columns)

    @classmethod
    def empty(cls) -> QueueContext:
        """A context with no jobs: a policy built on it only checks its options."""
        return cls.of(0)

    @classmethod
    def for_workload(cls, workload: Workload, expected: npt.ArrayLike, entered: npt.NDArray[np.float64],
                     **station: Any) -> QueueContext:
        """The context of a run: ``workload``'s columns, the expected execution times, the live column of
        queue-entry times, and the station's schedule (``instruments``, ``windows``, ``calibration``, ...)."""
        w = workload
        return cls(users=w.users, user=w.user, projects=w.projects, project=w.project, priority=w.priority,
                   shots=w.shots, circuits=w.circuits, use_timeslot=w.use_timeslot, expected=expected,
                   entered=entered, **station)
