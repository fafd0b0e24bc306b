"""Quantities with units (durations, rates) and the distributions of durations and job sizes.

Sample statistics are checked on large seeded samples against tolerances of several standard errors, never
against pinned samples.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.scenario.distributions import (
    FAMILIES,
    Constant,
    Empirical,
    Exponential,
    FieldError,
    Gamma,
    LogNormal,
    Uniform,
    count,
    parse_distribution,
)
from sim.scenario.units import format_seconds, parse_duration, parse_rate

N = 200_000


# --- durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [
    ("250us", 250e-6),
    ("250µs", 250e-6),
    ("100ns", 100e-9),
    ("20ms", 0.020),
    ("1.5s", 1.5),
    ("15min", 900.0),
    ("12h", 43_200.0),
    ("1d", 86_400.0),
    (".5s", 0.5),
    ("2e3ms", 2.0),
    (" 3 s ", 3.0),
    ("0s", 0.0),
    ("7", 7.0),
    ("2.25", 2.25),
    (5, 5.0),
    (2.5, 2.5),
    (0, 0.0),
])
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize("bad", [
    "-1s", "-5", -1, -0.5, "abc", "5 parsecs", "5m", "5 S", "5sec", "s", "", "1.2.3s", "inf", "nan",
    math.inf, math.nan, True, False, None, [1], {"s": 1}, "1e400s",
])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="expected") as caught:
        parse_duration(bad)
    assert repr(bad) in str(caught.value) or isinstance(bad, float)  # the message quotes the bad value


@settings(max_examples=100, deadline=None)
@given(number=st.floats(0, 1e6, allow_nan=False), unit=st.sampled_from(["ns", "us", "ms", "s", "min", "h", "d"]))
def test_parse_duration_scales_by_unit(number: float, unit: str) -> None:
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}[unit]
    assert parse_duration(f"{number!r}{unit}") == pytest.approx(number * scale, rel=1e-12)


# --- rates ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "per_second"), [
    ("300/h", 300 / 3600),
    ("5/min", 5 / 60),
    ("2/s", 2.0),
    ("0.5/ms", 500.0),
    ("1/d", 1 / 86400),
    ("300 / h", 300 / 3600),
    (2, 2.0),
    (0.25, 0.25),
])
def test_parse_rate(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-12)


@pytest.mark.parametrize("bad", [
    "-300/h", "0/h", "0", 0, -1, 0.0, "300/hour", "300/", "/h", "abc/h", "300h/h", "300", "5 per h",
    True, None, [300], math.inf, math.nan, "1e400/h",
])
def test_parse_rate_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_rate(bad)


def test_negative_and_zero_rates_say_positive() -> None:
    for bad in ("-300/h", "0/h", 0, -2):
        with pytest.raises(ValueError, match="positive"):
            parse_rate(bad)


@pytest.mark.parametrize(("seconds", "text"), [
    (math.nan, "-"), (0.0, "0"), (0.00035, "350us"), (0.25, "250ms"), (4.2, "4.2s"), (186.0, "3.1min"),
    (9000.0, "2.5h"),
])
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


# --- distributions: sampling ------------------------------------------------------------------------------------


def sample(dist: object, seed: int = 12345, size: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = dist.sample(rng, size)  # type: ignore[attr-defined]
    assert isinstance(values, np.ndarray)
    assert values.shape == (size,)
    return values


def assert_mean(values: np.ndarray, mean: float, sd: float) -> None:
    """The sample mean is within 5 standard errors of ``mean``."""
    assert abs(values.mean() - mean) < 5 * sd / math.sqrt(values.size), (values.mean(), mean)


def test_constant() -> None:
    values = sample(Constant(2.5), size=100)
    assert (values == 2.5).all()
    assert Constant(2.5).mean == 2.5


@pytest.mark.parametrize("mean", [0.01, 1.0, 300.0])
def test_exponential_mean_and_cv(mean: float) -> None:
    values = sample(Exponential(mean))
    assert (values >= 0).all()
    assert_mean(values, mean, mean)
    assert values.std() / values.mean() == pytest.approx(1.0, abs=0.02)
    assert Exponential(mean).mean == mean


def test_uniform_mean_variance_and_bounds() -> None:
    low, high = 5.0, 60.0
    values = sample(Uniform(low, high))
    assert values.min() >= low
    assert values.max() <= high
    sd = (high - low) / math.sqrt(12)
    assert_mean(values, (low + high) / 2, sd)
    assert values.std() == pytest.approx(sd, rel=0.02)
    assert Uniform(low, high).mean == 32.5
    assert (sample(Uniform(3.0, 3.0), size=10) == 3.0).all()


@pytest.mark.parametrize("family", [LogNormal, Gamma])
@pytest.mark.parametrize(("mean", "cv"), [(0.2, 0.5), (1.0, 1.0), (30.0, 0.1)])
def test_lognormal_and_gamma_by_mean_and_cv(family: type, mean: float, cv: float) -> None:
    dist = family(mean, cv)
    values = sample(dist)
    assert (values > 0).all()
    assert_mean(values, mean, cv * mean)
    assert values.std() / values.mean() == pytest.approx(cv, rel=0.06)
    assert dist.mean == mean


def test_lognormal_and_gamma_differ_in_shape() -> None:
    """Same mean and cv; lognormal is the more skewed (its third moment is larger)."""
    lognormal, gamma = sample(LogNormal(1.0, 1.0)), sample(Gamma(1.0, 1.0))
    assert np.percentile(lognormal, 99.9) > np.percentile(gamma, 99.9)
    # gamma with cv 1 is exponential: P(X > mean) = e^-1
    assert (gamma > 1.0).mean() == pytest.approx(math.exp(-1), abs=0.005)


@pytest.mark.parametrize("family", [LogNormal, Gamma])
def test_zero_cv_is_constant(family: type) -> None:
    assert (sample(family(2.0, 0.0), size=100) == 2.0).all()


def test_empirical_uniform_over_values() -> None:
    values = sample(Empirical((1.0, 5.0, 10.0)))
    assert set(np.unique(values)) == {1.0, 5.0, 10.0}
    for v in (1.0, 5.0, 10.0):
        assert (values == v).mean() == pytest.approx(1 / 3, abs=0.005)
    assert Empirical((1.0, 5.0, 10.0)).mean == pytest.approx(16 / 3)


def test_empirical_with_weights() -> None:
    dist = Empirical((1.0, 5.0, 10.0), (3.0, 2.0, 1.0))
    values = sample(dist)
    for v, p in ((1.0, 0.5), (5.0, 1 / 3), (10.0, 1 / 6)):
        assert (values == v).mean() == pytest.approx(p, abs=0.005)
    assert dist.mean == pytest.approx((3 + 10 + 10) / 6)


def test_zero_weight_value_never_drawn() -> None:
    values = sample(Empirical((1.0, 2.0), (1.0, 0.0)), size=10_000)
    assert (values == 1.0).all()


@pytest.mark.parametrize("dist", [
    Exponential(1.0), Uniform(0.0, 1.0), LogNormal(1.0, 0.5), Gamma(1.0, 0.5), Empirical((1.0, 2.0, 3.0), (1, 2, 3)),
], ids=type)
def test_samples_depend_only_on_the_generator_given(dist: object) -> None:
    np.random.seed(1)
    a = sample(dist, seed=99, size=1000)
    np.random.seed(2)
    b = sample(dist, seed=99, size=1000)
    c = sample(dist, seed=100, size=1000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


# --- distributions: parsing -------------------------------------------------------------------------------------


def test_families() -> None:
    assert set(FAMILIES) == {"constant", "exponential", "uniform", "lognormal", "gamma", "empirical"}


@pytest.mark.parametrize(("spec", "expected"), [
    ("2s", Constant(2.0)),
    (1000, Constant(1000.0)),
    ({"dist": "constant", "value": "250ms"}, Constant(0.25)),
    ({"dist": "exponential", "mean": "2s"}, Exponential(2.0)),
    ({"dist": "uniform", "low": 5, "high": "1min"}, Uniform(5.0, 60.0)),
    ({"dist": "lognormal", "mean": "1s", "cv": 0.5}, LogNormal(1.0, 0.5)),
    ({"dist": "gamma", "mean": "500ms", "cv": 2}, Gamma(0.5, 2.0)),
    ({"dist": "empirical", "values": ["1s", 5, "10s"]}, Empirical((1.0, 5.0, 10.0))),
    ({"dist": "empirical", "values": [1, 5, 10], "weights": [3, 2, 1]}, Empirical((1.0, 5.0, 10.0), (3.0, 2.0, 1.0))),
])
def test_parse_distribution_of_durations(spec: object, expected: object) -> None:
    assert parse_distribution(spec, parse_duration) == expected


def test_parse_distribution_of_counts_rejects_units() -> None:
    assert parse_distribution({"dist": "uniform", "low": 1, "high": 4}, count) == Uniform(1.0, 4.0)
    with pytest.raises(FieldError) as caught:
        parse_distribution({"dist": "uniform", "low": "1s", "high": 4}, count)
    assert caught.value.field == "low"


@pytest.mark.parametrize(("spec", "field", "fragment"), [
    ({"dist": "weibull", "mean": 1}, "dist", "unknown distribution 'weibull'"),
    ({"mean": 1}, "dist", "unknown distribution"),
    ({"dist": "lognormal", "mean": 1, "cv": 0.5, "sigma": 2}, "sigma", "unknown key"),
    ({"dist": "exponential", "mean": 0}, "mean", "above zero"),
    ({"dist": "exponential", "mean": "-1s"}, "mean", "zero or more"),
    ({"dist": "exponential", "mean": "fast"}, "mean", "expected"),
    ({"dist": "lognormal", "mean": 1, "cv": -0.5}, "cv", "zero or more"),
    ({"dist": "gamma", "mean": 1, "cv": "high"}, "cv", "expected a number"),
    ({"dist": "uniform", "low": 5, "high": 1}, "high", "high >= low"),
    ({"dist": "empirical", "values": []}, "values", "non-empty list"),
    ({"dist": "empirical", "values": 5}, "values", "non-empty list"),
    ({"dist": "empirical", "values": [1, "x"]}, "values", "expected"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1]}, "weights", "one non-negative weight per value"),
    ({"dist": "empirical", "values": [1, 2], "weights": [0, 0]}, "weights", "not all zero"),
    ({"dist": "empirical", "values": [1, 2], "weights": [1, -1]}, "weights", "zero or more"),
])
def test_parse_errors_name_the_field(spec: dict[str, object], field: str, fragment: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_distribution(spec, parse_duration)
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_unknown_distribution_lists_the_families() -> None:
    with pytest.raises(FieldError, match="expected one of constant, exponential, uniform, lognormal, gamma, empirical"):
        parse_distribution({"dist": "weibull"}, parse_duration)


@pytest.mark.parametrize(("spec", "missing"), [
    ({"dist": "lognormal", "mean": 1}, "cv"),
    ({"dist": "uniform", "low": 1}, "high"),
    ({"dist": "constant"}, "value"),
])
def test_missing_parameter_is_named(spec: dict[str, object], missing: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_distribution(spec, parse_duration)
    assert caught.value.field == missing  # the scenario's error names the key path down to it
    assert caught.value.message.startswith("missing")


@pytest.mark.parametrize("spec", ["-2s", "soon", True, None, [1, 2]])
def test_bad_constant(spec: object) -> None:
    with pytest.raises(FieldError) as caught:
        parse_distribution(spec, parse_duration)
    assert caught.value.field is None  # the distribution's own key is at fault
    assert "distribution table" in caught.value.message


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
@pytest.mark.parametrize("cv", [0.0, 1e-6, 1.0, 100.0])
def test_extreme_cv_in_range_is_sampled(family: str, cv: float) -> None:
    """Every cv the parser accepts can be sampled: a vanishing cv is the constant, a huge one gives finite samples."""
    dist = parse_distribution({"dist": family, "mean": "1s", "cv": cv}, parse_duration)
    values = sample(dist, size=1000)
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    if cv <= 1e-6:
        assert values == pytest.approx(1.0, rel=1e-4)


@pytest.mark.parametrize("family", ["gamma", "lognormal"])
@pytest.mark.parametrize("cv", [1e-300, 1e-7, 100.5, 1e155, 1e300])
def test_extreme_cv_out_of_range_is_rejected(family: str, cv: float) -> None:
    """A cv the families cannot compute with (cv**2 underflows or overflows) is refused when parsed."""
    with pytest.raises(FieldError) as caught:
        parse_distribution({"dist": family, "mean": "1s", "cv": cv}, parse_duration)
    assert caught.value.field == "cv"
    assert "coefficient of variation" in caught.value.message
