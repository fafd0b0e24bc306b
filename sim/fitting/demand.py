"""Fitting what users ask of the station: when jobs arrive, what they are, and when users cancel them.

- **Arrivals**: a Poisson rate, the jobs received over the span between the first and the last receipt
  (``(n - 1) / span``, the maximum-likelihood rate of the gaps), with the jobs received in each hour of the day
  (UTC) kept for the scenario's comments: the scenario format has one constant rate.
- **Workload**: one job class per kind (``circuit``, ``pulse``) with its share of the jobs as weight; shots,
  circuits, depth, sweep points and qubits as the empirical distributions of the records (up to
  ``MAX_VALUES`` distinct values, else that many quantiles); the users seen (the model picks one uniformly);
  the most common priority, project and timeslot choice.
- **Aborts**: a share ``p`` of jobs whose users cancel after an exponential delay of mean ``m`` from receipt. A
  cancel after the job ended changes nothing, so the records show only the aborts that came first; the fit is
  by maximum likelihood with that censoring: an aborted job contributes ``p f(d)``, any other ``1 - p + p (1 -
  F(T))`` with ``T`` the time it was exposed (receipt to its end, or to the end of the records). When jobs end
  much sooner than users cancel, the records determine ``p / m`` (the cancel rate) far better than ``p`` and
  ``m`` apart.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.fitting.records import KINDS, JobTable
from sim.fitting.stages import last_before_terminal
from sim.model.status import ABORTED, RECEIVED, STAGE_OF_STATUS
from sim.results.metrics import terminal_times

MAX_VALUES = 200
SIZE_FIELDS = ("circuits", "shots", "depth", "sweep_points", "qubits")


@dataclass(frozen=True)
class ArrivalFit:
    rate: float
    """Jobs per second."""
    rate_error: float
    n: int
    span: float
    hourly: tuple[int, ...]
    """Jobs received in each hour of the day (UTC), 0 to 23."""


@dataclass(frozen=True)
class ClassFit:
    name: str
    kind: str
    n: int
    weight: float
    sizes: dict[str, Any]
    """Each size field's scenario distribution (a number or an empirical table); absent when not recorded."""
    users: tuple[tuple[str, int], ...]
    """(user, jobs), most jobs first."""
    priority: int
    project: str
    use_timeslot: bool


@dataclass(frozen=True)
class AbortFit:
    probability: float
    mean_delay: float
    aborted: int
    received: int
    by_stage: tuple[tuple[str, int], ...]
    """Where the aborted jobs were when their users cancelled them: (stage, jobs)."""


def fit_arrivals(table: JobTable) -> ArrivalFit:
    received = np.sort(table.times[:, RECEIVED])
    n, span = len(received), float(received[-1] - received[0])
    rate = (n - 1) / span if span > 0 else math.inf
    origin = table.origin
    seconds_of_day = (origin.hour * 3600 + origin.minute * 60 + origin.second + received) % 86400
    hourly = np.bincount((seconds_of_day // 3600).astype(np.int64), minlength=24)
    return ArrivalFit(rate, rate / math.sqrt(max(n - 1, 1)), n, span, tuple(int(h) for h in hourly))


def _empirical(values: npt.NDArray[np.float64]) -> Any:
    distinct, counts = np.unique(values, return_counts=True)
    if distinct.size == 1:
        return int(distinct[0])
    if distinct.size > MAX_VALUES:
        quantiles = np.quantile(values, (np.arange(MAX_VALUES) + 0.5) / MAX_VALUES, method="inverted_cdf")
        return {"dist": "empirical", "values": [int(v) for v in quantiles]}
    return {"dist": "empirical", "values": [int(v) for v in distinct], "weights": [int(c) for c in counts]}


def fit_workload(table: JobTable) -> tuple[ClassFit, ...]:
    classes = []
    for code, kind in enumerate(KINDS):
        members = np.flatnonzero(table.kind == code)
        if members.size == 0:
            continue
        sizes = {name: _empirical(table.numbers[name][members]) for name in SIZE_FIELDS
                 if np.isfinite(table.numbers[name][members]).all()}
        users = Counter(table.user[j] for j in members.tolist()).most_common()
        priorities = table.numbers["priority"][members]
        priority = Counter(priorities[np.isfinite(priorities)].astype(int).tolist()).most_common(1)
        project = Counter(table.project[j] for j in members.tolist()).most_common(1)[0][0]
        classes.append(ClassFit(
            name=f"{kind}s", kind=kind, n=int(members.size), weight=members.size / len(table), sizes=sizes,
            users=tuple(users), priority=priority[0][0] if priority else 0, project=project,
            use_timeslot=bool(table.use_timeslot[members].mean() > 0.5)))
    return tuple(classes)


def fit_aborts(table: JobTable) -> AbortFit:
    from scipy import optimize  # type: ignore[import-untyped]  # scipy ships no type stubs

    times = table.times
    received = times[:, RECEIVED]
    aborted = np.isfinite(times[:, ABORTED])
    stages = Counter(STAGE_OF_STATUS[c] for c in last_before_terminal(times)[aborted].tolist())
    delays = (times[:, ABORTED] - received)[aborted]
    ended = terminal_times(times)
    exposure = np.where(np.isfinite(ended), ended, np.nanmax(times)) - received
    exposure = exposure[~aborted]
    n_aborted, n = int(aborted.sum()), len(table)
    by_stage = tuple(stages.most_common())
    if n_aborted == 0:
        return AbortFit(0.0, math.nan, 0, n, by_stage)
    mean_delay = max(float(delays.mean()), 1e-6)

    def negative_log_likelihood(theta: npt.NDArray[np.float64]) -> float:
        p, mean = 1 / (1 + math.exp(-theta[0])), math.exp(theta[1])
        kept = np.log1p(-p + p * np.exp(-exposure / mean))
        return -(n_aborted * math.log(p) - n_aborted * math.log(mean) - float(delays.sum()) / mean
                 + float(kept.sum()))

    share = n_aborted / n
    start = np.array([math.log(share / (1 - share)) if share < 1 else 5.0, math.log(mean_delay)])
    best = optimize.minimize(negative_log_likelihood, start, method="Nelder-Mead",
                             options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    p, mean = 1 / (1 + math.exp(-best.x[0])), math.exp(best.x[1])
    return AbortFit(p, mean, n_aborted, n, by_stage)
