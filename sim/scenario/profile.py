"""Arrival profiles: a station's day is not flat.

``[arrivals.profile]`` shapes the Poisson rate of ``[arrivals] rate`` over the UTC clock (``sim.scenario.clock``)::

    [arrivals]
    rate = "300/h"                       # the average over a week
    [arrivals.profile]
    hour_of_day = [0.2, 0.2, ..., 1.8]   # relative load in each hour of the day (24 values; 48 or 96 for half or
                                         # quarter hours), UTC
    day_of_week = [1, 1, 1, 1, 1, 0.4, 0.3]   # Monday to Sunday (needs [run] start)
    changes = [{at = "2027-01-01", factor = 3.0}]   # from then on, the rate times 3 (a date needs [run] start;
                                                    # "30d" counts from the start)

Both shapes are relative and normalised to an average of 1, so ``rate`` stays the average rate of a week (before
any change); the instantaneous rate is ``rate x hour_of_day[h] x day_of_week[d] x factor``, constant within each
bin. Submission times are a non-homogeneous Poisson process drawn by thinning (Lewis and Shedler): candidates at
the peak rate, each kept with probability rate(t) / peak; both in fixed blocks from their own streams, so job ``j``
is the same job however many jobs the run has.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.scenario.clock import SECONDS_PER_DAY, Clock, parse_datetime
from sim.scenario.units import parse_duration

FloatArray = npt.NDArray[np.float64]


def _weights(values: object, lengths: tuple[int, ...], what: str) -> tuple[float, ...]:
    if not isinstance(values, list) or len(values) not in lengths or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0 for v in values):
        counts = " or ".join(str(n) for n in lengths)
        raise ValueError(f"expected a list of {counts} relative loads ({what}), each zero or more, got {values!r}")
    if sum(values) <= 0:
        raise ValueError(f"expected some load in the {what} profile, got only zeros")
    mean = sum(values) / len(values)
    return tuple(float(v) / mean for v in values)


def hour_of_day(values: object) -> tuple[float, ...]:
    return _weights(values, (24, 48, 96), "one per hour, half hour or quarter hour of the day")


def day_of_week(values: object) -> tuple[float, ...]:
    return _weights(values, (7,), "Monday to Sunday")


@dataclass(frozen=True)
class RateChange:
    """From ``at`` (seconds from the start) on, the rate is ``factor`` times the base rate."""

    at: float
    factor: float
    dated: bool = False
    """Written as a date (needs a dated clock)."""


def rate_changes(values: object) -> tuple[RateChange, ...]:
    """``[{at = "2027-01-01" or "30d", factor = 1.5}, ...]``; dates are resolved against the clock later."""
    if not isinstance(values, list) or not all(isinstance(v, Mapping) and set(v) == {"at", "factor"} for v in values):
        raise ValueError(f"expected a list of {{at = \"30d\" or a date, factor = 1.5}} tables, got {values!r}")
    changes = []
    for entry in values:
        factor = entry["factor"]
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor < math.inf:
            raise ValueError(f"expected a factor above zero, got {factor!r}")
        at: Any = entry["at"]
        try:
            changes.append(RateChange(parse_duration(at), float(factor)))
        except ValueError:
            moment = parse_datetime(at)
            changes.append(RateChange(moment.timestamp(), float(factor), dated=True))
    return tuple(changes)


@dataclass(frozen=True)
class ArrivalProfile:
    """The shape of the arrival rate over the clock (see the module's docstring)."""

    hour_of_day: tuple[float, ...] = ()
    """Relative load in each equal part of the UTC day (average 1); empty: flat."""
    day_of_week: tuple[float, ...] = ()
    """Relative load Monday to Sunday (average 1); empty: flat."""
    changes: tuple[RateChange, ...] = ()
    """Rate factors from given times on, in time order (resolved to seconds from the start)."""

    def resolved(self, clock: Clock) -> ArrivalProfile:
        """The profile with dated changes turned into seconds from the start of ``clock``, in time order."""
        start = clock.start.timestamp()
        changes = tuple(sorted((RateChange(c.at - start, c.factor) if c.dated else c for c in self.changes),
                               key=lambda c: c.at))
        return ArrivalProfile(self.hour_of_day, self.day_of_week, changes)

    @property
    def peak(self) -> float:
        """The largest multiplier of the base rate anywhere."""
        factors = [1.0, *(c.factor for c in self.changes)]
        return max(self.hour_of_day, default=1.0) * max(self.day_of_week, default=1.0) * max(factors)

    def multiplier(self, t: FloatArray, clock: Clock) -> FloatArray:
        """The base rate's multiplier at simulated times ``t`` (dated changes already resolved)."""
        factor = np.ones(len(t))
        if self.hour_of_day:
            bins = len(self.hour_of_day)
            part = np.floor((clock.time_of_day + t) % SECONDS_PER_DAY / (SECONDS_PER_DAY / bins)).astype(np.int64)
            factor *= np.asarray(self.hour_of_day)[np.minimum(part, bins - 1)]
        if self.day_of_week:
            day = np.floor((clock.week_time + t) / SECONDS_PER_DAY).astype(np.int64) % 7
            factor *= np.asarray(self.day_of_week)[day]
        if self.changes:
            at = np.array([c.at for c in self.changes])
            factors = np.array([1.0, *(c.factor for c in self.changes)])
            factor *= factors[np.searchsorted(at, t, side="right")]
        return factor


THINNING_BLOCK = 65_536
"""Candidates drawn at a time: fixed, so that the first jobs do not depend on how many the run has."""


def thinned_times(rate: float, profile: ArrivalProfile, clock: Clock, jobs: int,
                  gaps: np.random.Generator, keep: np.random.Generator) -> FloatArray:
    """The first ``jobs`` times of a Poisson process of rate ``rate x profile.multiplier(t)``, by thinning."""
    peak = rate * profile.peak
    found: list[FloatArray] = []
    total, t = 0, 0.0
    while total < jobs:
        candidates = t + np.cumsum(gaps.exponential(1.0 / peak, THINNING_BLOCK))
        kept = candidates[keep.random(THINNING_BLOCK) * profile.peak < profile.multiplier(candidates, clock)]
        found.append(kept)
        total += len(kept)
        t = float(candidates[-1])
    return np.concatenate(found)[:jobs] if found else np.zeros(0)
