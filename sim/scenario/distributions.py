"""Probability distributions of durations and job sizes, sampled in vectorised blocks.

A scenario writes a distribution either as a plain quantity (a constant: ``"250ms"``, ``1000``) or as a table
naming it: ``{ dist = "lognormal", mean = "2s", cv = 0.5 }``. Families:

| dist          | parameters                      | meaning                                               |
|---------------|---------------------------------|-------------------------------------------------------|
| ``constant``  | ``value``                       | always ``value``                                      |
| ``exponential``| ``mean``                       | memoryless; the M in M/M/c                            |
| ``uniform``   | ``low``, ``high``               | flat on [low, high]                                   |
| ``lognormal`` | ``mean``, ``cv``                | right-skewed, given by its mean and coefficient of variation |
| ``gamma``     | ``mean``, ``cv``                | shape 1/cv^2; cv = 1 is exponential                   |
| ``empirical`` | ``values`` [, ``weights``]      | one of the listed values, uniformly or by weight      |

Every distribution draws from a ``numpy.random.Generator`` it is given; none holds random state of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


class FieldError(ValueError):
    """A bad value at ``field`` (relative to the distribution's own key); the scenario adds the full path."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Distribution(Protocol):
    """What the simulator needs of a distribution: vectorised samples and the mean (for capacity estimates)."""

    @property
    def mean(self) -> float: ...

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray: ...


@dataclass(frozen=True)
class Constant:
    value: float

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return np.full(size, self.value)


@dataclass(frozen=True)
class Exponential:
    mean: float

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.exponential(self.mean, size)


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class LogNormal:
    mean: float
    cv: float

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        if self.cv == 0:
            return np.full(size, self.mean)
        sigma2 = math.log1p(self.cv**2)
        return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), size)


@dataclass(frozen=True)
class Gamma:
    mean: float
    cv: float

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        if self.cv == 0:
            return np.full(size, self.mean)
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)


@dataclass(frozen=True)
class Empirical:
    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    @property
    def mean(self) -> float:
        return float(np.average(self.values, weights=self.weights))

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        values = np.asarray(self.values, dtype=float)
        if self.weights is None:
            return values[rng.integers(0, len(values), size)]
        p = np.asarray(self.weights, dtype=float)
        return rng.choice(values, size=size, p=p / p.sum())


ValueParser = Callable[[object], float]


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"expected a number, got {value!r}")
    if value < 0:
        raise ValueError(f"expected a number of zero or more, got {value!r}")
    return float(value)


MAX_CV = 100.0


def _cv(value: object) -> float:
    """A coefficient of variation: 0 (a constant) or from 1e-6 to 100, where the families stay computable."""
    cv = _number(value)
    if cv != 0 and not 1e-6 <= cv <= MAX_CV:
        raise ValueError(f"expected a coefficient of variation of 0 or between 1e-6 and {MAX_CV:g}, got {value!r}")
    return cv


def _field(spec: Mapping[str, object], key: str, parse: ValueParser) -> float:
    if key not in spec:
        raise FieldError(key, f"missing; distribution {spec.get('dist')!r} needs it")
    try:
        return parse(spec[key])
    except ValueError as error:
        raise FieldError(key, str(error)) from None


def _positive(spec: Mapping[str, object], key: str, parse: ValueParser) -> float:
    value = _field(spec, key, parse)
    if value <= 0:
        raise FieldError(key, f"expected a value above zero, got {spec[key]!r}")
    return value


def _values(spec: Mapping[str, object], key: str, parse: ValueParser) -> tuple[float, ...]:
    raw = spec.get(key)
    if not isinstance(raw, list) or not raw:
        raise FieldError(key, f"expected a non-empty list, got {raw!r}")
    try:
        return tuple(parse(v) for v in raw)
    except ValueError as error:
        raise FieldError(key, str(error)) from None


def _build_empirical(spec: Mapping[str, object], parse: ValueParser) -> Empirical:
    values = _values(spec, "values", parse)
    if "weights" not in spec:
        return Empirical(values)
    weights = _values(spec, "weights", _number)
    if len(weights) != len(values) or sum(weights) <= 0:
        raise FieldError("weights", "expected one non-negative weight per value, not all zero")
    return Empirical(values, weights)


def _build_uniform(spec: Mapping[str, object], parse: ValueParser) -> Uniform:
    low, high = _field(spec, "low", parse), _field(spec, "high", parse)
    if high < low:
        raise FieldError("high", f"expected high >= low, got low={spec['low']!r}, high={spec['high']!r}")
    return Uniform(low, high)


_FAMILIES: dict[str, tuple[frozenset[str], Callable[[Mapping[str, object], ValueParser], Distribution]]] = {
    "constant": (frozenset({"value"}), lambda s, p: Constant(_field(s, "value", p))),
    "exponential": (frozenset({"mean"}), lambda s, p: Exponential(_positive(s, "mean", p))),
    "uniform": (frozenset({"low", "high"}), _build_uniform),
    "lognormal": (
        frozenset({"mean", "cv"}),
        lambda s, p: LogNormal(_positive(s, "mean", p), _field(s, "cv", _cv)),
    ),
    "gamma": (frozenset({"mean", "cv"}), lambda s, p: Gamma(_positive(s, "mean", p), _field(s, "cv", _cv))),
    "empirical": (frozenset({"values", "weights"}), _build_empirical),
}
FAMILIES = tuple(_FAMILIES)


def parse_distribution(spec: object, parse: ValueParser = _number) -> Distribution:
    """A distribution from its scenario form; ``parse`` reads each quantity (a duration, a count, ...)."""
    if not isinstance(spec, Mapping):
        try:
            return Constant(parse(spec))
        except ValueError as error:
            raise FieldError(None, f"{error}, or a distribution table such as {{ dist = \"exponential\", "
                             "mean = ... }") from None
    family = spec.get("dist")
    if not isinstance(family, str) or family not in _FAMILIES:
        raise FieldError("dist", f"unknown distribution {family!r}; expected one of {', '.join(FAMILIES)}")
    allowed, build = _FAMILIES[str(family)]
    unknown = sorted(set(spec) - allowed - {"dist"})
    if unknown:
        raise FieldError(unknown[0], f"unknown key for distribution {family!r}; expected {sorted(allowed)}")
    return build(spec, parse)


count = _number
"""Parser of plain non-negative numbers (shots, circuits, depth)."""
