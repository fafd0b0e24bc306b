"""A whole station fitted from its job records: ``fit_station(read_jobs("jobs.jsonl"))``.

The fit puts together what ``sim.fitting.demand`` (arrivals, workload mix, aborts) and ``sim.fitting.stages``
(service times and their growth, servers, failures) find, and the numbers of workers and instruments: given
by the caller, or else the largest concurrency seen in each stage (a lower bound, said so in the scenario's
comments). ``StationFit.scenario()`` is the fitted scenario, validated like any other; ``sim.fitting.toml``
writes it as a commented file.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from sim.fitting.demand import AbortFit, ArrivalFit, ClassFit, fit_aborts, fit_arrivals, fit_workload
from sim.fitting.records import JobTable, RecordsError
from sim.fitting.stages import StageFit, fit_stage, last_before_terminal
from sim.model.status import FAILED, STAGE_OF_STATUS, STAGE_STARTS
from sim.scenario.scenario import STAGE_NAMES, Scenario

FITTED_STAGES = tuple(STAGE_STARTS)
"""validation, calibration, compilation, save_metadata, execution, post_processing."""


@dataclass(frozen=True)
class StationFit:
    """Everything fitted from one file of job records."""

    source: str
    name: str
    jobs: int
    origin: datetime
    arrivals: ArrivalFit
    workload: tuple[ClassFit, ...]
    stages: Mapping[str, StageFit]
    """Every stage of ``FITTED_STAGES``, execution included."""
    aborts: AbortFit
    servers: Mapping[str, float]
    """Workers of each stage and ``execution``'s instruments, as written in the scenario."""
    given: frozenset[str]
    """The stages whose servers the caller gave (the others are inferred from concurrency)."""
    failed_between_stages: tuple[tuple[str, int], ...]
    """Failures outside any stage's service (a restart's clean-up, say): (where, jobs); not modelled."""

    def toml(self) -> str:
        from sim.fitting.toml import scenario_toml

        return scenario_toml(self)

    def scenario(self) -> Scenario:
        """The fitted scenario, validated."""
        return Scenario.from_dict(tomllib.loads(self.toml()), source=f"<fit of {self.source}>", name=self.name)


def _servers(stages: Mapping[str, StageFit], workers: Mapping[str, int], instruments: int | None) -> dict[str, float]:
    servers: dict[str, float] = {}
    for name, fit in stages.items():
        given = instruments if name == "execution" else workers.get(name)
        if given is not None:
            servers[name] = float(given)
        elif fit.choice.best.family == "constant" and fit.choice.best.params["value"] == 0 and not fit.slopes:
            servers[name] = math.inf  # an instantaneous step holds no server
        else:
            servers[name] = float(max(fit.servers, 1))
    return servers


def _between_stages(table: JobTable) -> tuple[tuple[str, int], ...]:
    failed = np.isfinite(table.times[:, FAILED])
    starts = {s.code for s in STAGE_STARTS.values()}
    where = [STAGE_OF_STATUS[c] for c in last_before_terminal(table.times)[failed].tolist()
             if c not in starts and c - 1 not in starts]
    return tuple(sorted({w: where.count(w) for w in where}.items()))


def fit_station(table: JobTable, *, workers: Mapping[str, int] | None = None, instruments: int | None = None,
                name: str | None = None) -> StationFit:
    """Fit a scenario to the job records ``table``; ``workers`` (stage -> workers) and ``instruments`` replace
    the numbers inferred from concurrency."""
    workers = dict(workers or {})
    for stage in workers:
        if stage not in STAGE_NAMES:
            raise RecordsError(f"--workers {stage}: unknown stage; expected one of {', '.join(STAGE_NAMES)} "
                               "(instruments are --instruments)")
    stages = {stage: fit_stage(table, stage) for stage in FITTED_STAGES}
    given = frozenset(workers) | ({"execution"} if instruments is not None else frozenset())
    return StationFit(
        source=table.source, name=name or "fitted", jobs=len(table), origin=table.origin,
        arrivals=fit_arrivals(table), workload=fit_workload(table), stages=stages, aborts=fit_aborts(table),
        servers=_servers(stages, workers, instruments), given=given, failed_between_stages=_between_stages(table))
