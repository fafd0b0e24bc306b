"""Confidence intervals over replications: how sure we are of a mean that simulation runs estimate.

A capacity planner runs the same scenario with several independent seeds (replications) and gets one value of
a metric from each run, say the mean wait for an instrument. Those per-run values are independent and, being
averages over many jobs, close to normally distributed, so the mean over replications has a Student-t
confidence interval::

    mean +- t(1 - (1 - level) / 2, n - 1) * s / sqrt(n)

where ``s`` is the sample standard deviation of the ``n`` per-run values. An ``Interval`` keeps the mean, the
half-width, the number of replications and the confidence level; ``contains`` says whether a value (a
closed-form queueing result, a service-level target) is consistent with the runs.

Edge cases are explicit rather than silent:

- fewer than two values leave the spread unknown, so the half-width is **NaN** (not infinity): such an interval
  contains nothing, and a check such as ``interval.contains(theory)`` fails instead of passing vacuously;
- NaN values (a replication in which no job reached the stage, say) follow ``nan_policy``, named as in SciPy:
  ``"propagate"`` (the default) makes the whole interval NaN, ``"omit"`` drops them (``n`` counts the values
  kept), ``"raise"`` raises ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped, unused-ignore]  # scipy ships no type stubs; scipy-stubs is not a dependency

NanPolicy = Literal["propagate", "omit", "raise"]


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval for a mean: ``mean`` +- ``half_width`` at confidence ``level``."""

    mean: float
    half_width: float
    """NaN when it cannot be estimated (fewer than two values, or a NaN value propagated)."""
    n: int
    """Values the interval rests on (after NaNs were omitted, if they were)."""
    level: float
    """Confidence level, such as 0.95."""

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    @property
    def relative_half_width(self) -> float:
        """Half-width over the absolute mean: the relative precision of the estimate (NaN for a zero mean)."""
        return self.half_width / abs(self.mean) if self.mean else math.nan

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in [low, high]; always False for an interval with a NaN bound."""
        return self.low <= value <= self.high

    def __str__(self) -> str:
        return f"{self.mean:.6g} +- {self.half_width:.3g} ({self.level:.0%}, n={self.n})"


def t_interval(values: npt.ArrayLike, level: float = 0.95, *, nan_policy: NanPolicy = "propagate") -> Interval:
    """The Student-t confidence interval for the mean of independent ``values`` (one per replication)."""
    if not 0 < level < 1:
        raise ValueError(f"a confidence level lies strictly between 0 and 1, got {level!r}")
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(f"unknown nan_policy {nan_policy!r}; expected propagate, omit or raise")
    data = np.asarray(values, dtype=np.float64).ravel()
    missing = np.isnan(data)
    if missing.any():
        if nan_policy == "raise":
            raise ValueError(f"{int(missing.sum())} of {data.size} values are NaN")
        if nan_policy == "omit":
            data = data[~missing]
    n = int(data.size)
    if n == 0:
        return Interval(math.nan, math.nan, 0, level)
    mean = float(data.mean())
    if n < 2:
        return Interval(mean, math.nan, n, level)
    standard_error = float(data.std(ddof=1)) / math.sqrt(n)
    quantile = float(stats.t.ppf(0.5 + level / 2, n - 1))
    return Interval(mean, quantile * standard_error, n, level)
