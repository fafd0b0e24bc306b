"""Student-t confidence intervals over replications (``sim.experiments.confidence``).

Exact checks against intervals computed by hand from a t-table, the documented edge cases (fewer than two
values, NaNs, bad levels), and a coverage check: over many seeded normal samples, the share of intervals that
cover the true mean must match the confidence level within a binomial tolerance. Small samples (n = 3) make the
coverage check sensitive to the t quantile: an interval built on the normal quantile instead would cover only
about 80% of the time at the 95% level and fail.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.experiments.confidence import Interval, t_interval


def test_hand_computed_interval_of_five_values() -> None:
    # mean 3, sample variance 2.5, standard error sqrt(2.5 / 5); t(0.975, 4 df) = 2.7764 from a t-table.
    interval = t_interval([1.0, 2.0, 3.0, 4.0, 5.0], level=0.95)
    assert interval.mean == 3.0
    assert interval.n == 5
    assert interval.level == 0.95
    assert interval.half_width == pytest.approx(2.7764 * math.sqrt(0.5), rel=1e-4)
    assert interval.low == pytest.approx(3.0 - 1.96324, rel=1e-4)
    assert interval.high == pytest.approx(3.0 + 1.96324, rel=1e-4)


def test_hand_computed_interval_of_two_values() -> None:
    # mean 3, sample standard deviation sqrt(2), standard error 1; t(0.95, 1 df) = 6.3138.
    interval = t_interval(np.array([2.0, 4.0]), level=0.90)
    assert interval.mean == 3.0
    assert interval.half_width == pytest.approx(6.3138, rel=1e-4)
    assert interval.contains(-3.3)
    assert not interval.contains(-3.32)


def test_interval_of_equal_values_is_a_point() -> None:
    interval = t_interval([7.5] * 4)
    assert interval == Interval(7.5, 0.0, 4, 0.95)
    assert interval.contains(7.5)
    assert not interval.contains(7.5000001)


def test_bounds_and_string() -> None:
    interval = Interval(mean=10.0, half_width=0.5, n=30, level=0.99)
    assert (interval.low, interval.high) == (9.5, 10.5)
    assert interval.contains(9.5)
    assert interval.contains(10.5)
    assert not interval.contains(10.6)
    assert interval.relative_half_width == 0.05
    assert str(interval) == "10 +- 0.5 (99%, n=30)"


@pytest.mark.parametrize("values", [[4.2], np.array([[4.2]])])
def test_one_value_has_unknown_half_width(values: list[float]) -> None:
    interval = t_interval(values)
    assert interval.mean == 4.2
    assert interval.n == 1
    assert math.isnan(interval.half_width)
    assert not interval.contains(4.2), "an interval of unknown width must not confirm anything"


def test_no_values() -> None:
    interval = t_interval([])
    assert interval.n == 0
    assert math.isnan(interval.mean)
    assert math.isnan(interval.half_width)


def test_nan_propagates_by_default() -> None:
    interval = t_interval([1.0, math.nan, 3.0])
    assert interval.n == 3
    assert math.isnan(interval.mean)
    assert math.isnan(interval.half_width)
    assert not interval.contains(2.0)


def test_nan_omitted_on_request() -> None:
    assert t_interval([1.0, math.nan, 3.0, math.nan], nan_policy="omit") == t_interval([1.0, 3.0])
    assert t_interval([math.nan, 2.0], nan_policy="omit").n == 1


def test_nan_raises_on_request() -> None:
    with pytest.raises(ValueError, match="1 of 3 values are NaN"):
        t_interval([1.0, math.nan, 3.0], nan_policy="raise")
    assert t_interval([1.0, 3.0], nan_policy="raise") == t_interval([1.0, 3.0])


def test_unknown_nan_policy() -> None:
    with pytest.raises(ValueError, match="nan_policy"):
        t_interval([1.0, 2.0], nan_policy="ignore")  # type: ignore[arg-type]


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 95.0, math.nan])
def test_level_outside_zero_one(level: float) -> None:
    with pytest.raises(ValueError, match="confidence level"):
        t_interval([1.0, 2.0], level=level)


@pytest.mark.parametrize("level", [0.80, 0.95, 0.99])
@pytest.mark.parametrize("n", [3, 10])
def test_coverage_of_normal_samples(level: float, n: int) -> None:
    """About ``level`` of the intervals cover the true mean: within the central 99.9% of Binomial(N, level)."""
    trials, true_mean, sd = 4000, 5.0, 3.0
    rng = np.random.default_rng([20240601, n, round(level * 100)])
    samples = rng.normal(true_mean, sd, size=(trials, n))
    covered = sum(t_interval(row, level).contains(true_mean) for row in samples)
    low, high = stats.binom.interval(0.999, trials, level)
    assert low <= covered <= high, f"{covered}/{trials} intervals covered the mean; expected {low:.0f}..{high:.0f}"
