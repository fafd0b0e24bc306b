"""Deciding a service-level target at one point: a one-sided test at the stated level, and more replications
for a point that is too close to call.

A planner asks "is p95 turnaround below 10 minutes here, at 95% confidence?". That is a one-sided question: the
target *holds* when the one-sided upper confidence bound of the metric (level 95%) is below the threshold; it
*fails* when the one-sided lower bound is at or above it (the runs show, at the same level, that the metric is
not below); otherwise the runs cannot tell yet, and the point is *undecided*. (A two-sided 95% interval's upper
end is a one-sided 97.5% bound: a stricter test than the one asked for.)

An undecided point gets more replications, ``step`` at a time (the next seeds of the same sequence, so every
point still shares its seeds with the others), up to ``budget``. Every look at the data is a chance of a false
"holds", so each of the ``K`` looks a point can have tests at ``(1 - level) / K`` (Bonferroni): however many
looks it takes, the chance that a point where the target does not hold is called "holds" stays at most
``1 - level``. A point still undecided at the budget is counted as failing (the runs did not show that the
target holds), and says so.

Two kinds of target are tested this way:

- a **mean** over replications (``turnaround.p95`` below ``10min``: the mean over runs of each run's p95), with
  Student-t bounds on the per-run values;
- a **miss probability** (``per = "1d"``, ``miss_probability = 0.05``: the chance that a day's p95 misses
  10 minutes is below 5%), from the periods of every run pooled: a Clopper-Pearson (exact binomial) bound on
  the share of periods that missed. Periods are taken as independent; for days of a station whose queue
  empties within the day, they nearly are.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["holds", "fails", "undecided"]


@dataclass(frozen=True)
class Evidence:
    """What the runs at one point say about a target: the estimate, its one-sided bounds at the level of the
    look, the replications (and periods) it rests on, and the verdict."""

    estimate: float
    """The mean of the metric over the runs, or the share of periods that missed."""
    low: float
    """One-sided lower confidence bound at ``level`` (NaN when it cannot be estimated)."""
    high: float
    """One-sided upper confidence bound at ``level``."""
    n: int
    """Replications."""
    level: float
    """The one-sided confidence level of this look (the stated level, Bonferroni-split over the looks)."""
    verdict: Verdict
    periods: int = 0
    """For a miss probability: the periods observed over every run, and how many missed."""
    misses: int = 0


@dataclass(frozen=True)
class Sequential:
    """How many replications a point starts with (``step``), and the most it may get (``budget``)."""

    step: int
    budget: int

    def __post_init__(self) -> None:
        if self.step < 1 or self.budget < self.step:
            raise ValueError(f"expected 1 <= replications <= max_replications, got {self.step} and {self.budget}")

    @property
    def looks(self) -> int:
        return math.ceil(self.budget / self.step)

    def look_level(self, level: float) -> float:
        """The one-sided level of each look, so that all looks together err at most ``1 - level``."""
        return 1.0 - (1.0 - level) / self.looks

    def next_size(self, n: int) -> int:
        """Replications after the next look (``n``: before it)."""
        return min(n + self.step, self.budget)


def mean_bounds(values: Sequence[float], level: float) -> tuple[float, float, float, int]:
    """Mean and one-sided Student-t lower and upper bounds (each at ``level``) of the finite ``values``."""
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]  # no stubs; imported when a target is decided

    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = math.fsum(finite) / n
    if n >= 2 and all(v == finite[0] for v in finite):
        return finite[0], finite[0], finite[0], n  # a constant (unlimited servers, a count): no spread
    if n < 2:
        return mean, math.nan, math.nan, n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))
    margin = float(stats.t.ppf(level, n - 1)) * sd / math.sqrt(n)
    return mean, mean - margin, mean + margin, n


def clopper_pearson(misses: int, trials: int, level: float) -> tuple[float, float]:
    """One-sided Clopper-Pearson bounds (each at ``level``) of a binomial share: ``misses`` of ``trials``."""
    from scipy import stats  # type: ignore[import-untyped, unused-ignore]

    if trials <= 0:
        return math.nan, math.nan
    alpha = 1.0 - level
    low = 0.0 if misses == 0 else float(stats.beta.ppf(alpha, misses, trials - misses + 1))
    high = 1.0 if misses == trials else float(stats.beta.ppf(1.0 - alpha, misses + 1, trials - misses))
    return low, high


def two_sided_clopper_pearson(misses: int, trials: int, level: float) -> tuple[float, float]:
    """The two-sided Clopper-Pearson interval at ``level`` (for tables: each end at ``(1 + level) / 2``)."""
    return clopper_pearson(misses, trials, (1.0 + level) / 2.0)


def verdict(low: float, high: float, threshold: float, below: bool) -> Verdict:
    """"holds" when the whole one-sided bound is on the right side of ``threshold``, "fails" when the other
    bound is on the wrong side (or at it), else "undecided"; NaN bounds decide nothing."""
    if math.isnan(low) or math.isnan(high):
        return "undecided"
    if below:
        return "holds" if high < threshold else "fails" if low >= threshold else "undecided"
    return "holds" if low > threshold else "fails" if high <= threshold else "undecided"


def decide_mean(values: Sequence[float], threshold: float, below: bool, level: float) -> Evidence:
    """The verdict on a mean over replications (``level``: of this look)."""
    mean, low, high, n = mean_bounds(values, level)
    return Evidence(mean, low, high, n, level, verdict(low, high, threshold, below))


def decide_miss(misses: int, periods: int, replications: int, limit: float, level: float) -> Evidence:
    """The verdict on a miss probability: holds when the share of periods that missed is, at ``level``, below
    ``limit``."""
    low, high = clopper_pearson(misses, periods, level)
    share = misses / periods if periods else math.nan
    return Evidence(share, low, high, replications, level, verdict(low, high, limit, True), periods, misses)
