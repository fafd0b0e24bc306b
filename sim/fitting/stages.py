"""Fitting the station's stages: service times, their growth with the job's size, servers and failures.

A stage's *service* is the time from its STARTED to its ENDED status (a job that failed or was aborted inside
the stage has no ENDED and no service; failures are drawn independently of the service, so the completed
services are an unbiased sample). Waits are not fitted: they are what the fitted model must reproduce.

- **Growth**: the model's service is ``duration + per_layer x layers + per_shot x shots`` (layers = circuits x
  depth x sweep points, shots = circuits x shots x sweep points). An ordinary least-squares regression of the
  services on both estimates the slopes; a slope is kept when it is positive and significant (t > 3.3, p < 0.001)
  and the others are dropped and the regression done again. The fitted slopes are taken off each service and the
  base that remains is fitted by ``sim.fitting.families``; its parameters' standard errors then come from a
  bootstrap of regression and fit together, so that they include the slopes' uncertainty. Compilation is fitted
  on circuit jobs only: the model compiles pulse-level jobs in no time.
- **Execution**: the instrument's time is either IQM's timing model, linear in the job's size
  (``job_overhead + sweep points x circuits x (shots x (depth x layer + end_delay) + circuit_overhead)``,
  fitted by non-negative least squares, with a normal residual for its likelihood), or a plain distribution;
  whichever has the lower BIC is written (a device table or ``[hardware] execution_time``).
- **Servers**: the largest number of jobs in the stage's service at once, a lower bound on the workers (or
  instruments): reached only when the stage was saturated at some moment.
- **Failures**: the jobs that failed in a stage (their last status before FAILED is the stage's STARTED) or after
  its work (its ENDED), over the jobs that started it and were not aborted in it; with the share that struck
  after the work (``after_end``) and the errors they reported.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from sim.fitting.families import Choice, fit_families
from sim.fitting.records import JobTable, RecordsError
from sim.model.status import ABORTED, FAILED, READY, STAGE_STARTS

FloatArray = npt.NDArray[np.float64]
MIN_JOBS = 20
"""Completed services a stage needs for its distribution to be fitted."""
SIGNIFICANT_T = 3.3
"""A growth slope is kept when its t statistic exceeds this (two-sided p < 0.001)."""
RESOLUTION = 1e-7
"""Seconds: the smallest residual spread the timing model is credited with (records keep microseconds)."""
BOOTSTRAP = 100
"""Resamples for the standard errors of a base fitted beside a growth regression."""
MAX_NEGATIVE_BASE = 0.01
"""Share of services that growth may leave at zero or less (a slope a little too high) before it is dropped."""
MAX_ERRORS = 10
"""Distinct error messages kept per stage."""


@dataclass(frozen=True)
class Slope:
    value: float
    error: float


@dataclass(frozen=True)
class StageFit:
    """What the records say about one stage."""

    name: str
    n: int
    """Completed services fitted."""
    choice: Choice
    """The base service time's candidate families, best first."""
    slopes: dict[str, Slope]
    """``per_layer`` and ``per_shot`` where the data support them (for execution: the timing model's figures)."""
    servers: int
    """The largest concurrency seen."""
    started: int
    failed: int
    after_end: int
    errors: tuple[tuple[str, str], ...]
    """(user message, full log) of the failures, most frequent first."""
    timing_bic: float = math.nan
    """Execution only: the BIC of the linear timing model (``slopes`` holds its figures when it won)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def failure_probability(self) -> float:
        return self.failed / self.started if self.started else 0.0

    @property
    def uses_timing_model(self) -> bool:
        return self.name == "execution" and bool(self.slopes)


def features(table: JobTable) -> dict[str, FloatArray]:
    """The job sizes the model's services grow with, where the records give them."""
    n = table.numbers
    sweep = np.where(np.isnan(n["sweep_points"]), 1.0, n["sweep_points"])
    found: dict[str, FloatArray] = {}
    if table.has("circuits") and table.has("depth"):
        found["per_layer"] = n["circuits"] * n["depth"] * sweep
    if table.has("circuits") and table.has("shots"):
        found["per_shot"] = n["circuits"] * n["shots"] * sweep
    return found


def _ols(y: FloatArray, columns: dict[str, FloatArray], keep_all: bool = False) -> tuple[dict[str, Slope], FloatArray]:
    """Least squares of ``y`` on an intercept and ``columns``: the slopes and the residual base. A size that never
    varies cannot be told from the intercept and is left out, and so is a slope that is not positive and
    significant (unless ``keep_all``)."""
    names = [k for k, v in columns.items() if float(np.ptp(v)) > 0]
    while names:
        x = np.column_stack([np.ones_like(y), *(columns[k] for k in names)])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = y - x @ coef
        dof = max(len(y) - x.shape[1], 1)
        covariance = float(residual @ residual) / dof * np.linalg.pinv(x.T @ x)
        errors = np.sqrt(np.maximum(np.diag(covariance), 0.0))
        t = np.divide(coef, errors, out=np.full_like(coef, np.inf), where=errors > 0)
        weak = [] if keep_all else [k for i, k in enumerate(names, start=1)
                                    if not (coef[i] > 0 and t[i] > SIGNIFICANT_T)]
        if not weak:
            slopes = {k: Slope(float(coef[i]), float(errors[i])) for i, k in enumerate(names, start=1)}
            return slopes, y - sum((s.value * columns[k] for k, s in slopes.items()), np.zeros_like(y))
        names = [k for k in names if k not in weak]
    return {}, y


def _servers(times: FloatArray, start: int) -> int:
    """The largest number of jobs in service at once, from STARTED to the next status reached."""
    begun = times[:, start]
    later = np.fmin.reduce(times[:, start + 1:], axis=1)
    mask = np.isfinite(begun) & ~(later <= begun)  # a step of no time holds no server
    starts = np.sort(begun[mask])
    ends = np.sort(np.where(np.isfinite(later[mask]), later[mask], np.inf))
    if starts.size == 0:
        return 0
    busy = np.arange(1, starts.size + 1) - np.searchsorted(ends, starts, side="right")
    return int(busy.max())


def last_before_terminal(times: FloatArray) -> npt.NDArray[np.int64]:
    """Each job's last status before a terminal one (-1 for none)."""
    reached = np.isfinite(times[:, :READY])
    return np.where(reached.any(axis=1), READY - 1 - np.argmax(reached[:, ::-1], axis=1), -1)


def _failures(table: JobTable, name: str, start: int) -> tuple[int, int, int, tuple[tuple[str, str], ...]]:
    """(started and not aborted in the stage, failed in it, failed after its work, error messages)."""
    times = table.times
    last = last_before_terminal(times)
    failed = np.isfinite(times[:, FAILED])
    inside, after = failed & (last == start), failed & (last == start + 1)
    aborted_inside = np.isfinite(times[:, ABORTED]) & (last == start)
    started = int(np.isfinite(times[:, start]).sum() - aborted_inside.sum())
    messages = Counter((table.error_message[j], table.error_log[j] or table.error_message[j])
                       for j in np.flatnonzero(inside | after).tolist() if table.error_message[j])
    return started, int(inside.sum()), int(after.sum()), tuple(m for m, _ in messages.most_common(MAX_ERRORS))


def _services(table: JobTable, name: str, start: int) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    times = table.times
    done = np.isfinite(times[:, start]) & np.isfinite(times[:, start + 1])
    if name == "compilation":
        done &= table.kind == 0
    return times[:, start + 1] - times[:, start], done


def _too_few(table: JobTable, name: str, n: int) -> RecordsError:
    return RecordsError(f"{table.source}: stage {name}: {n} jobs went from {STAGE_STARTS[name].value} to its ENDED "
                        f"status; at least {MIN_JOBS} are needed to fit its service time")


@dataclass(frozen=True)
class _Service:
    """What a service-time fit finds: the base's families, the growth (or timing model) and notes."""

    choice: Choice
    slopes: dict[str, Slope]
    notes: tuple[str, ...]
    timing_bic: float = math.nan


def fit_stage(table: JobTable, name: str) -> StageFit:
    """Fit one stage (validation, calibration, compilation, save_metadata, execution or post_processing)."""
    start = STAGE_STARTS[name].code
    service, done = _services(table, name, start)
    if name == "compilation" and not (table.kind == 0).any():
        fitted = _Service(fit_families([0.0]), {}, ("no circuit jobs in the records; pulse-level jobs are not "
                                                    "compiled",))
    elif done.sum() < MIN_JOBS:
        raise _too_few(table, name, int(done.sum()))
    elif name == "execution":
        fitted = _fit_execution(table, service[done], done)
    else:
        fitted = _fit_growth(table, service[done], done)
    started, failed, after, errors = _failures(table, name, start)
    return StageFit(name=name, n=int(done.sum()), choice=fitted.choice, slopes=fitted.slopes,
                    servers=_servers(table.times, start), started=started, failed=failed + after, after_end=after,
                    errors=errors, timing_bic=fitted.timing_bic, notes=fitted.notes)


def _fit_growth(table: JobTable, y: FloatArray, done: npt.NDArray[np.bool_]) -> _Service:
    sizes = {k: v[done] for k, v in features(table).items()}
    slopes, base = _ols(y, sizes) if float(np.ptp(y)) > 0 else ({}, y)
    notes: tuple[str, ...] = ()
    if slopes and np.mean(base <= 0) > MAX_NEGATIVE_BASE:
        notes = (f"a growth regression ({', '.join(slopes)}) left {np.mean(base <= 0):.0%} of the services at zero "
                 "or less; fitted without growth",)
        slopes, base = {}, y
    choice = fit_families(base)
    notes += tuple(choice.notes)
    if slopes:
        choice = _with_bootstrap_errors(choice, y, {k: sizes[k] for k in slopes})
        notes += (f"standard errors by bootstrap ({BOOTSTRAP} resamples of regression and fit together)",)
    if len(sizes) < 2:
        notes += ("the records lack the job sizes (circuits, depth, shots) for a growth regression",)
    return _Service(choice, slopes, notes)


def _with_bootstrap_errors(choice: Choice, y: FloatArray, sizes: dict[str, FloatArray]) -> Choice:
    """The chosen family's standard errors with the growth's uncertainty in them: the regression and the fit done
    again on resampled jobs. (The errors of a fit to the base alone miss it: a slope a little off moves the
    smallest bases most, and those weigh most in a gamma's or lognormal's shape.)"""
    best = choice.best
    if best.family == "constant":
        return choice
    rng = np.random.default_rng(0)  # its own generator: the same records give the same errors
    draws = []
    for _ in range(BOOTSTRAP):
        rows = rng.integers(0, len(y), len(y))
        _, base = _ols(y[rows], {k: v[rows] for k, v in sizes.items()}, keep_all=True)
        draws.append(fit_families(base, (best.family,)).best.params)
    errors = {k: float(np.std([d[k] for d in draws], ddof=1)) for k in best.params}
    return Choice((replace(best, errors=errors), *choice.fits[1:]), choice.notes)


TIMING_FIGURES = ("job_overhead", "circuit_overhead", "end_delay", "layer_duration")


def _timing_columns(table: JobTable, done: npt.NDArray[np.bool_]) -> FloatArray | None:
    n = table.numbers
    if not all(table.has(k) for k in ("circuits", "shots", "depth")):
        return None
    sweep = np.where(np.isnan(n["sweep_points"]), 1.0, n["sweep_points"])
    circuits = (sweep * n["circuits"])[done]
    shots = circuits * n["shots"][done]
    return np.column_stack([np.ones_like(circuits), circuits, shots, shots * n["depth"][done]])


def _fit_execution(table: JobTable, y: FloatArray, done: npt.NDArray[np.bool_]) -> _Service:
    from scipy import optimize  # type: ignore[import-untyped]  # scipy ships no type stubs

    choice = fit_families(y)
    x = _timing_columns(table, done)
    if x is None:
        return _Service(choice, {}, ("the records lack the job sizes for the timing model",))
    coef, _ = optimize.nnls(x, y)
    residual = y - x @ coef
    n = len(y)
    sigma = max(math.sqrt(float(residual @ residual) / n), RESOLUTION)
    log_likelihood = -n / 2 * (math.log(2 * math.pi * sigma**2) + 1)
    bic = (x.shape[1] + 1) * math.log(n) - 2 * log_likelihood
    slopes: dict[str, Slope] = {}
    if bic < choice.best.bic:
        covariance = sigma**2 * np.linalg.pinv(x.T @ x)
        errors = np.sqrt(np.maximum(np.diag(covariance), 0.0))
        slopes = {k: Slope(float(c), float(e)) for k, c, e in zip(TIMING_FIGURES, coef, errors, strict=True)}
    spread = f"{sigma:.3g} s" if sigma > RESOLUTION else "under 0.1 us (the records' resolution)"
    notes = (f"timing model: residual sd {spread}, BIC {bic:.1f} against {choice.best.family}'s "
             f"{choice.best.bic:.1f}",)
    return _Service(choice, slopes, notes, bic)
