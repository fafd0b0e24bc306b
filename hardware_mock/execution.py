"""One job's run on the instrument, step by step: its duration, its progress and where an interrupt stops it.

The run follows IQM's playlist model. The instruments are armed once for the job (``job_overhead``). Then, for
each sweep point in turn, the playlist of the job's circuits (one segment each) is uploaded (``circuits x
circuit_overhead``) and played ``shots`` times; one repetition plays every circuit once, so all circuits of a
point advance together::

    run = arming, then per sweep point: upload, shots x (one shot of every circuit)

Its length is ``timing.execution_time`` exactly. Progress is what IQM's ``JobResult.parallel_sweep_progress``
shows a client: a list of ``(label, value, max_value)`` integer tuples, here the sweep points done and the
shots done in the point under way. The controllers stop only between steps that cannot be cut: the arming,
each upload, and each batch of ``device.shot_batch`` shots (0: the whole point is one batch). An interrupt
(an abort) therefore lets the step in progress finish, never later than the end of the run, and keeps what was
done.

Everything here is plain, deterministic arithmetic on one job; nothing is random.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from hardware_mock.device import DeviceProfile
from hardware_mock.timing import execution_time, shot_duration

SWEEP_POINTS_LABEL = "sweep_points"
SHOTS_LABEL = "shots"

ProgressEntry = tuple[str, int, int]
Progress = list[ProgressEntry]

_ROUNDING = 1e-9
"""Fraction of a step by which an elapsed time may fall short of the step's end and still count it as done."""


class Interruption(NamedTuple):
    """Where an interrupt stops a run: when (seconds since the run started) and the progress kept."""

    requested_at: float
    stops_at: float
    progress: Progress
    completed: bool
    """True when the run reached its end anyway (the interrupt came during, or after, the last step)."""

    @property
    def overrun(self) -> float:
        """Seconds the instrument stays busy after the interrupt, finishing the step in progress."""
        return max(self.stops_at - self.requested_at, 0.0)


@dataclass(frozen=True)
class ExecutionPlan:
    """The run of one job on one device: ``circuits`` circuits of ``depth`` layers, ``shots`` shots each, at
    each of ``sweep_points`` sweep points."""

    device: DeviceProfile
    circuits: int
    shots: int
    depth: int
    sweep_points: int = 1

    def __post_init__(self) -> None:
        for name in ("circuits", "shots", "sweep_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.depth < 0:
            raise ValueError(f"depth must be zero or more, got {self.depth}")

    @property
    def arming(self) -> float:
        """Seconds to arm and load the instruments before the first shot."""
        return self.device.job_overhead

    @property
    def upload(self) -> float:
        """Seconds to upload the playlist at the start of each sweep point."""
        return self.circuits * self.device.circuit_overhead

    @property
    def repetition(self) -> float:
        """Seconds of one repetition of the playlist: one shot of every circuit."""
        return self.circuits * float(shot_duration(self.device, self.depth))

    @property
    def point_duration(self) -> float:
        """Seconds of one sweep point: the upload and every shot."""
        return self.upload + self.shots * self.repetition

    @property
    def batch(self) -> int:
        """Shots between two points where the controllers can stop."""
        batch = self.device.shot_batch
        return self.shots if batch <= 0 else min(batch, self.shots)

    @property
    def duration(self) -> float:
        """Seconds the run takes when nothing stops it: ``timing.execution_time`` of the job."""
        return float(execution_time(self.device, self.circuits, self.shots, self.depth, self.sweep_points))

    def progress(self, elapsed: float) -> Progress:
        """What the job shows ``elapsed`` seconds after its run started (IQM's ``parallel_sweep_progress``)."""
        if elapsed >= self.duration:
            return self._progress(self.sweep_points, 0)
        into_points = elapsed - self.arming
        if into_points <= 0 or self.point_duration <= 0:
            return self._progress(0, 0)
        point = min(int(into_points / self.point_duration + _ROUNDING), self.sweep_points - 1)
        into_shots = into_points - point * self.point_duration - self.upload
        if into_shots <= 0:
            return self._progress(point, 0)
        shots = self.shots if self.repetition <= 0 else int(into_shots / self.repetition + _ROUNDING)
        return self._progress(point, min(shots, self.shots))

    def interrupt(self, elapsed: float) -> Interruption:
        """Stop the run at the first step boundary at or after ``elapsed`` seconds, keeping the progress made.

        An interrupt after the run ended (``elapsed >= duration``) stops nothing: the run is complete at its end.
        """
        elapsed = max(float(elapsed), 0.0)
        duration = self.duration
        if elapsed >= duration or self.point_duration <= 0:
            return Interruption(elapsed, duration, self._progress(self.sweep_points, 0), True)
        boundary, point, shots = self._next_boundary(elapsed)
        if point >= self.sweep_points - 1 and shots >= self.shots:
            return Interruption(elapsed, duration, self._progress(self.sweep_points, 0), True)
        stops_at = min(max(boundary, elapsed), duration)
        return Interruption(elapsed, stops_at, self._progress(point, shots), False)

    def share_done(self, progress: Progress) -> float:
        """The share of the run's shots that ``progress`` (as ``progress`` or ``interrupt`` give it) has done: 1
        once every sweep point is done."""
        (_, points, _), (_, shots, _) = progress
        if points >= self.sweep_points:
            return 1.0
        return (points * self.shots + shots) / (self.sweep_points * self.shots)

    def _next_boundary(self, elapsed: float) -> tuple[float, int, int]:
        """The first point at or after ``elapsed`` where the controllers can stop: its time, the sweep point
        under way and the shots done in it."""
        if elapsed <= 0:
            return 0.0, 0, 0
        if elapsed <= self.arming:  # arming: it finishes
            return self.arming, 0, 0
        point = min(int((elapsed - self.arming) / self.point_duration), self.sweep_points - 1)
        point_start = self.arming + point * self.point_duration
        if elapsed <= point_start:  # exactly between two points
            return point_start, point, 0
        shots_start = point_start + self.upload
        if elapsed <= shots_start:  # uploading: the upload finishes
            return shots_start, point, 0
        batch_seconds = self.batch * self.repetition
        if batch_seconds <= 0:
            return shots_start, point, self.shots
        batches = math.ceil((elapsed - shots_start) / batch_seconds - _ROUNDING)
        shots = min(batches * self.batch, self.shots)
        return shots_start + shots * self.repetition, point, shots

    def _progress(self, point: int, shots_done: int) -> Progress:
        """Progress with ``shots_done`` shots into sweep point ``point`` (numbered from 0): a point with every
        shot done counts as done, and once every point is done the last one shows all its shots."""
        if shots_done >= self.shots:
            point, shots_done = point + 1, 0
        if point >= self.sweep_points:
            point, shots_done = self.sweep_points, self.shots
        return [(SWEEP_POINTS_LABEL, point, self.sweep_points), (SHOTS_LABEL, shots_done, self.shots)]
