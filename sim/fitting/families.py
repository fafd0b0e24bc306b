"""Service-time distributions fitted by maximum likelihood, and the family chosen by an information criterion.

The candidates are the scenario's own families (``sim.scenario.distributions``) that have no location shift:
``exponential`` (mean), ``gamma`` and ``lognormal`` (mean and coefficient of variation), ``uniform`` (low and
high), and ``constant`` when every value is the same. Each is fitted by maximum likelihood with
``scipy.stats`` (the exponential's and lognormal's estimates are closed-form; the gamma's shape is solved
numerically, its mean is the sample mean), and the family with the lowest BIC (``k ln n - 2 ln L``) is chosen;
AIC (``2k - 2 ln L``) is reported beside it. BIC's penalty grows with the sample, so that a gamma whose shape
is 1 does not win over the exponential by chance.

Each parameter comes with its standard error from the Fisher information (delta method for the mean and cv), so
that a fitted value can be read as "0.201 s +- 0.003".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.scenario.distributions import MAX_CV

FloatArray = npt.NDArray[np.float64]
CANDIDATES = ("exponential", "gamma", "lognormal", "uniform")


@dataclass(frozen=True)
class FamilyFit:
    """One family fitted to a sample: its parameters (in the scenario's terms), their standard errors, and how
    well it fits."""

    family: str
    params: dict[str, float]
    """``mean`` (and ``cv``) for exponential, gamma and lognormal; ``low``, ``high`` for uniform; ``value``."""
    errors: dict[str, float]
    """Standard error of each parameter."""
    log_likelihood: float
    n: int

    @property
    def k(self) -> int:
        return len(self.params)

    @property
    def aic(self) -> float:
        return 2 * self.k - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        return self.k * math.log(self.n) - 2 * self.log_likelihood

    def spec(self) -> dict[str, Any]:
        """The scenario's distribution table (a bare number for a constant)."""
        if self.family == "constant":
            return {"value": self.params["value"]}
        return {"dist": self.family, **self.params}


@dataclass(frozen=True)
class Choice:
    """Every candidate fitted to one sample, best (lowest BIC) first."""

    fits: tuple[FamilyFit, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def best(self) -> FamilyFit:
        return self.fits[0]


def _exponential(x: FloatArray) -> FamilyFit:
    from scipy import stats  # type: ignore[import-untyped]  # scipy ships no type stubs; imported when fitting

    mean = float(x.mean())
    return FamilyFit("exponential", {"mean": mean}, {"mean": mean / math.sqrt(len(x))},
                     float(stats.expon.logpdf(x, scale=mean).sum()), len(x))


def _gamma(x: FloatArray) -> FamilyFit:
    from scipy import special, stats

    shape, _, scale = stats.gamma.fit(x, floc=0)
    n, mean = len(x), float(shape * scale)
    # Fisher information of (shape, scale): n [[trigamma(k), 1/s], [1/s, k/s^2]]; Var(k) = k / (n (k psi1 - 1))
    var_shape = shape / (n * (shape * float(special.polygamma(1, shape)) - 1))
    cv = 1 / math.sqrt(shape)
    return FamilyFit("gamma", {"mean": mean, "cv": cv},
                     {"mean": mean * cv / math.sqrt(n), "cv": 0.5 * shape**-1.5 * math.sqrt(max(var_shape, 0.0))},
                     float(stats.gamma.logpdf(x, shape, scale=scale).sum()), n)


def _lognormal(x: FloatArray) -> FamilyFit:
    from scipy import stats

    logs = np.log(x)
    mu, sigma, n = float(logs.mean()), float(logs.std()), len(x)
    s2 = sigma**2
    mean, cv = math.exp(mu + s2 / 2), math.sqrt(math.expm1(s2))
    # Var(mu) = s^2/n, Var(sigma) = s^2/(2n); mean = exp(mu + s^2/2), cv = sqrt(exp(s^2) - 1)
    mean_error = mean * sigma * math.sqrt((1 + s2 / 2) / n)
    cv_error = (sigma * math.exp(s2) / cv) * sigma / math.sqrt(2 * n) if cv > 0 else 0.0
    return FamilyFit("lognormal", {"mean": mean, "cv": cv}, {"mean": mean_error, "cv": cv_error},
                     float(stats.lognorm.logpdf(x, sigma, scale=math.exp(mu)).sum()), n)


def _uniform(x: FloatArray) -> FamilyFit:
    low, high, n = float(x.min()), float(x.max()), len(x)
    width = high - low
    return FamilyFit("uniform", {"low": low, "high": high}, {"low": width / n, "high": width / n},
                     -n * math.log(width), n)


def _writable_cv(cv: float) -> bool:
    return cv == 0 or 1e-6 <= cv <= MAX_CV


FITTERS = {"exponential": _exponential, "gamma": _gamma, "lognormal": _lognormal, "uniform": _uniform}


def fit_families(values: npt.ArrayLike, candidates: tuple[str, ...] = CANDIDATES) -> Choice:
    """Fit every candidate family to ``values`` (finite; values of zero or less are raised to half the smallest
    positive one) and rank them by BIC."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or not np.isfinite(x).all():
        raise ValueError("expected finite service times")
    spread = float(x.max() - x.min())
    if spread <= 1e-9 * max(float(np.abs(x).max()), 1e-12):
        value = float(x.mean())
        return Choice((FamilyFit("constant", {"value": value}, {"value": 0.0}, 0.0, len(x)),))
    notes = []
    if (x <= 0).any():  # the families live on (0, inf): a zero is a service shorter than the clock shows, and a
        # base below zero one whose size-dependent part the regression put a little too high
        floor = float(x[x > 0].min()) / 2
        notes.append(f"{int((x <= 0).sum())} values of zero or less set to {floor:.3g} s for the fit")
        x = np.maximum(x, floor)
    fits = [FITTERS[name](x) for name in candidates]
    writable = [f for f in fits if math.isfinite(f.log_likelihood) and _writable_cv(f.params.get("cv", 0.0))]
    if len(writable) < len(fits):
        notes.append(f"left out (a cv outside the scenario's 1e-6 to {MAX_CV:g}, or no likelihood): "
                     + ", ".join(f.family for f in fits if f not in writable))
    return Choice(tuple(sorted(writable, key=lambda f: f.bic)), tuple(notes))
