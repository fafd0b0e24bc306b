"""Calibration sets and the plan by which the instrument is recalibrated.

A *calibration set* is the set of device parameters (pulse amplitudes, frequencies, readout thresholds) that
circuits are compiled against. It has an id, the time it was created and a validity period; the job records
the id it was compiled with (IQM's ``calibration_set_id``). A *recalibration* runs on the instrument, occupying
it like a job, and ends by creating a new set, which becomes the current one.

The plan says when recalibrations are requested:

- at scheduled times of day, UTC: by default 00:45 and 14:15, VTT Q50's schedule ("twice a day (00:45 and
  14:15 UTC), run as jobs in the same queue as user jobs", row "calibration of an IQM system" of
  docs/references.md);
- and when the current set expires before the next scheduled time (``valid_for`` after its creation).

A scheduled time that passes while a recalibration is running (or waiting for the instrument) is skipped: the
set it would create is the one being made. Each recalibration takes ``duration``: 30 min by default, the low
end of IBM's "daily, 30-90 min" (row "IBM calibration"; IQM publishes no duration), on the assumption that a
twice-daily calibration is the shorter kind. Sets are valid for 24 h by default, so with the default schedule
expiry only triggers a recalibration when scheduled ones are missed.

Fetching the current set (the FETCH_CALIBRATION stage) is fast when the service has it cached and slower when
it must be read from the database: the cache holds the last set fetched, so the first fetch of a new set
misses. Both times are assumptions (no published figures): 50 ms cached, 2 s uncached.

Times are seconds from the start of the run; ``start_time_of_day`` places that start on the UTC clock. These are
pure functions: a simulator asks ``next_recalibration`` when the next one is requested, after each one it ran
(its recalibrations may wait for the instrument, so each new set's creation time is the simulator's).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

import numpy as np

SECONDS_PER_DAY = 86_400.0
EXPIRED_SET_POLICIES = ("recompile", "run_anyway")
RecalibrationReason = Literal["scheduled", "expiry"]

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def parse_time_of_day(text: str) -> float:
    """Seconds after midnight of a UTC clock time written ``"HH:MM"`` or ``"HH:MM:SS"``."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError(f"expected a time of day such as \"14:15\", got {text!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600.0 + minutes * 60.0 + seconds


class DurationDistribution(Protocol):
    """A distribution of recalibration lengths (``sim.scenario.distributions`` gives them from scenario files)."""

    @property
    def mean(self) -> float: ...

    def sample(self, rng: np.random.Generator, size: int) -> np.typing.NDArray[np.float64]: ...


@dataclass(frozen=True)
class CalibrationPlan:
    """When the instruments are recalibrated, for how long, how long a set stays valid, and fetch times.

    Each instrument has its own schedule: ``times_of_day`` shifted by ``stagger`` for each instrument after the
    first (instrument ``i`` at ``t + i x stagger``), unless ``schedules`` gives instrument ``i`` its own times."""

    times_of_day: tuple[float, ...] = field(
        default=(parse_time_of_day("00:45"), parse_time_of_day("14:15")), metadata={"unit": "times_of_day"})
    """Scheduled recalibrations, seconds after midnight UTC (``parse_time_of_day`` reads ``"00:45"``)."""
    duration: float | DurationDistribution = field(default=30 * 60.0, metadata={"unit": "duration_distribution"})
    """Seconds a recalibration occupies the instrument (above zero): a number, or a distribution drawn anew for
    each recalibration."""
    stagger: float = 0.0
    """Seconds by which each instrument's schedule follows the previous instrument's."""
    schedules: tuple[tuple[float, ...] | None, ...] = field(default=(), metadata={"unit": "internal"})
    """Instrument ``i``'s own times of day (None or absent: ``times_of_day`` staggered)."""
    valid_for: float = 24 * 3600.0
    """Seconds after its creation at which a set expires and a recalibration is requested (inf: never)."""
    start_time_of_day: float = field(default=0.0, metadata={"unit": "time_of_day"})
    """The UTC time of day at the start of the run (seconds after midnight)."""
    fetch_cached: float = 0.05
    fetch_uncached: float = 2.0
    on_expired: str = field(default="recompile", metadata={"unit": "text"})
    """A job whose set expired before its execution starts: ``recompile`` it against the current set, or
    ``run_anyway`` and record that it ran on an expired set."""

    def __post_init__(self) -> None:
        times = self.times_of_day
        if any(not 0 <= t < SECONDS_PER_DAY for t in times):
            raise ValueError(f"times of day must be within one day (0 to 86400 s), got {times}")
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"times of day must be in increasing order, got {times}")
        if not 0 <= self.start_time_of_day < SECONDS_PER_DAY:
            raise ValueError(f"start_time_of_day must be within one day, got {self.start_time_of_day}")
        if not self.mean_duration > 0:
            raise ValueError(f"a recalibration must take some time, got duration {self.duration}")
        if not 0 <= self.stagger < SECONDS_PER_DAY:
            raise ValueError(f"stagger must be within one day, got {self.stagger}")
        for own in self.schedules:
            if own is not None and any(b <= a for a, b in itertools.pairwise(own)):
                raise ValueError(f"an instrument's times of day must be in increasing order, got {own}")
        if self.fetch_cached < 0 or self.fetch_uncached < 0:
            raise ValueError("fetch times must be zero or more")
        if not self.valid_for > 0:
            raise ValueError(f"valid_for must be above zero, got {self.valid_for}")
        if self.on_expired not in EXPIRED_SET_POLICIES:
            raise ValueError(f"on_expired must be one of {', '.join(EXPIRED_SET_POLICIES)}, got {self.on_expired!r}")


    @property
    def mean_duration(self) -> float:
        """The mean seconds of one recalibration."""
        return float(self.duration) if isinstance(self.duration, int | float) else self.duration.mean

    def draw_duration(self, rng: np.random.Generator) -> float:
        """The length of one recalibration (the number itself, or one draw of the distribution from ``rng``)."""
        if isinstance(self.duration, int | float):
            return float(self.duration)
        return float(self.duration.sample(rng, 1)[0])

    def for_instrument(self, index: int) -> CalibrationPlan:
        """The plan of instrument ``index``: its own times of day (given, or the fleet's staggered)."""
        given = self.schedules[index] if index < len(self.schedules) else None
        own = given if given is not None else tuple(
            sorted((t + index * self.stagger) % SECONDS_PER_DAY for t in self.times_of_day))
        return replace(self, times_of_day=own, stagger=0.0, schedules=())


@dataclass(frozen=True)
class CalibrationSet:
    """One set of calibrated device parameters."""

    id: int
    created_at: float
    valid_for: float

    @property
    def expires_at(self) -> float:
        return self.created_at + self.valid_for

    def is_valid_at(self, t: float) -> bool:
        return self.created_at <= t < self.expires_at


def next_scheduled(plan: CalibrationPlan, now: float) -> float:
    """The first scheduled recalibration time at or after ``now`` (inf when the plan schedules none)."""
    if not plan.times_of_day:
        return math.inf
    clock = plan.start_time_of_day + now
    day_start = math.floor(clock / SECONDS_PER_DAY) * SECONDS_PER_DAY
    for day in (day_start, day_start + SECONDS_PER_DAY):
        for time_of_day in plan.times_of_day:
            if day + time_of_day >= clock:
                return day + time_of_day - plan.start_time_of_day
    raise AssertionError("unreachable: a scheduled time falls within the next day")  # pragma: no cover


def initial_set(plan: CalibrationPlan) -> CalibrationSet:
    """Set 0, current at the start of the run: made by the last scheduled recalibration that ended by then
    (the station ran to plan before the run), or at the start itself when the plan schedules none."""
    created_at = 0.0
    if plan.times_of_day:
        clock_start = -plan.start_time_of_day  # midnight of the run's first day
        ends = (clock_start + day * SECONDS_PER_DAY + t + plan.mean_duration
                for day in (-3, -2, -1, 0) for t in plan.times_of_day)
        created_at = max((end for end in ends if end <= 0), default=0.0)
    return CalibrationSet(0, created_at, plan.valid_for)


def next_recalibration(plan: CalibrationPlan, current: CalibrationSet, now: float) -> tuple[float, RecalibrationReason]:
    """When the next recalibration is requested, at ``now`` or later, and why: the next scheduled time or the
    expiry of the ``current`` set, whichever comes first (inf when neither ever comes)."""
    scheduled = next_scheduled(plan, now)
    expiry = max(current.expires_at, now)
    return (expiry, "expiry") if expiry < scheduled else (scheduled, "scheduled")


def fetch_time(plan: CalibrationPlan, set_id: int, cached_set_id: int | None) -> float:
    """Seconds to fetch set ``set_id`` when the cache holds ``cached_set_id`` (None: an empty cache)."""
    return plan.fetch_cached if set_id == cached_set_id else plan.fetch_uncached
