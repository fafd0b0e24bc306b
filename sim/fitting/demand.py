"""Fitting what users ask of the station: when jobs arrive, what they are, and when users cancel them.

- **Arrivals**: a Poisson rate, the jobs received over the span between the first and the last receipt
  (``(n - 1) / span``, the maximum-likelihood rate of the gaps), with the jobs received in each hour of the day
  (UTC) kept for the scenario's comments: the scenario format has one constant rate.
- **Workload**: one job class per kind (``circuit``, ``pulse``), split further by project, priority and queue
  (``use_timeslot``) where the records have several within a kind (their sizes differ, and sizes drawn apart per
  class keep the mix of a bot's large batches and a researcher's small ones); each class's share of the jobs is
  its weight; shots, circuits, depth, sweep points and qubits are the empirical distributions of its records (up
  to ``MAX_VALUES`` distinct values, else that many quantiles); its users are those seen (the model picks one
  uniformly).
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


def _class_name(kind: str, project: str, priority: int, timeslot: bool, keys: list[tuple[int, str, int, bool]]) -> str:
    """``circuits``, or with the parts that tell the classes of one kind apart: ``qec-circuits``."""
    code = KINDS.index(kind)
    same_kind = [k for k in keys if k[0] == code]
    parts = [project] if len({k[1] for k in same_kind}) > 1 else []
    parts += [f"priority-{priority}"] if len({k[2] for k in same_kind}) > 1 else []
    parts += ["timeslot" if timeslot else "shared"] if len({k[3] for k in same_kind}) > 1 else []
    return "-".join([*parts, f"{kind}s"])


def fit_workload(table: JobTable) -> tuple[ClassFit, ...]:
    """One class per kind and per project, priority and queue choice within it (a kind of one project is one
    class), most jobs first."""
    priorities = np.where(np.isnan(table.numbers["priority"]), 0, table.numbers["priority"]).astype(np.int64)
    keys = [(int(k), p, int(q), bool(t)) for k, p, q, t in zip(table.kind.tolist(), table.project,
                                                                 priorities.tolist(), table.use_timeslot.tolist(),
                                                                 strict=True)]
    groups: dict[tuple[int, str, int, bool], list[int]] = {}
    for job, key in enumerate(keys):
        groups.setdefault(key, []).append(job)
    classes = []
    for key, jobs in sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])):
        members = np.asarray(jobs, dtype=np.int64)
        kind = KINDS[key[0]]
        sizes = {name: _empirical(table.numbers[name][members]) for name in SIZE_FIELDS
                 if np.isfinite(table.numbers[name][members]).all()}
        classes.append(ClassFit(
            name=_class_name(kind, key[1], key[2], key[3], list(groups)), kind=kind, n=int(members.size),
            weight=members.size / len(table), sizes=sizes,
            users=tuple(Counter(table.user[j] for j in jobs).most_common()), priority=key[2], project=key[1],
            use_timeslot=key[3]))
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
