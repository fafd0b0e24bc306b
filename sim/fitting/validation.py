"""Does the fitted model reproduce the station? The fitted scenario run against the records it came from.

``validate(table, scenario, replications=R)`` runs the scenario R times (seeds spawned from one, each run with
as many jobs as the records hold) and compares, for each stage's service, the execution queue's wait and the
turnaround (RECEIVED to the terminal status), the records with the runs:

- the mean, p50 and p95 of the records beside the same statistic of the runs: its mean over the replications
  and a 95% *prediction interval* for one run, ``mean +- t(0.975, R-1) s sqrt(1 + 1/R)``: where the statistic of
  one more run of the model would fall, so a recorded value outside it is unlikely under the model;
- the two-sample Kolmogorov-Smirnov distance between the recorded values and the runs' pooled values, with a
  critical value: the larger of the 5% value for independent samples, ``1.358 sqrt((n + m) / (n m))``, and the
  largest distance between one run of the model and the other runs pooled. Waits and turnarounds are
  autocorrelated (a queue carries over from one job to the next), so two runs of one sound model differ by more
  than independent samples would; the runs' own spread says by how much. For the services, whose distributions
  were fitted to these very records, the critical value is conservative (a fitted model is closer to its data
  than an independent sample would be).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sim.experiments.replications import RunSpec
from sim.fitting.records import JobTable
from sim.model.status import PENDING_EXECUTION, RECEIVED, STAGE_STARTS
from sim.results.metrics import terminal_times
from sim.scenario.scenario import Scenario
from sim.scenario.streams import replication_seeds
from sim.scenario.units import format_seconds
from sim.simulation import simulate

if TYPE_CHECKING:
    import pandas as pd

FloatArray = npt.NDArray[np.float64]
KS_LEVEL = 0.05
STATISTICS = ("mean", "p50", "p95")
QUEUE = "queue wait"
TURNAROUND = "turnaround"


def quantities(times: FloatArray, kind: npt.NDArray[np.int64]) -> dict[str, FloatArray]:
    """Each stage's services (compilation: of circuit jobs), the execution queue's waits and the turnarounds."""
    found: dict[str, FloatArray] = {}
    for stage, status in STAGE_STARTS.items():
        start = status.code
        service = times[:, start + 1] - times[:, start]
        keep = np.isfinite(service) & ((kind == 0) if stage == "compilation" else True)
        found[stage] = service[keep]
    wait = times[:, STAGE_STARTS["execution"].code] - times[:, PENDING_EXECUTION]
    found[QUEUE] = wait[np.isfinite(wait)]
    turnaround = terminal_times(times) - times[:, RECEIVED]
    found[TURNAROUND] = turnaround[np.isfinite(turnaround)]
    return found


def statistics(values: FloatArray) -> dict[str, float]:
    if values.size == 0:
        return dict.fromkeys(STATISTICS, math.nan)
    p50, p95 = np.percentile(values, [50, 95])
    return {"mean": float(values.mean()), "p50": float(p50), "p95": float(p95)}


TOLERANCE = 1e-3
"""An interval holds values within this share of its bounds: a statistic the same in every run (the p95 of a
service that is a function of the job's size) has an interval of no width, and a fitted model's figures are
written to a few significant digits."""


@dataclass(frozen=True)
class Prediction:
    """A statistic over replications: its mean and the interval where one more run's value would fall."""

    mean: float
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low - TOLERANCE * abs(self.low) <= value <= self.high + TOLERANCE * abs(self.high)


def predict(values: list[float], level: float = 0.95) -> Prediction:
    """The prediction interval of one more run's value of a duration statistic, from the runs' ``values``."""
    from scipy import stats  # type: ignore[import-untyped]  # scipy ships no type stubs

    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if data.size < 2:
        mean = float(data.mean()) if data.size else math.nan
        return Prediction(mean, math.nan, math.nan)
    half = float(stats.t.ppf(0.5 + level / 2, data.size - 1)) * float(data.std(ddof=1)) * math.sqrt(1 + 1 / data.size)
    mean = float(data.mean())
    return Prediction(mean, max(mean - half, 0.0), mean + half)  # durations: never below zero


@dataclass(frozen=True)
class Row:
    """One quantity, recorded against simulated."""

    name: str
    n: int
    observed: Mapping[str, float]
    simulated: Mapping[str, Prediction]
    ks: float
    critical: float

    @property
    def ks_passes(self) -> bool:
        return self.ks <= self.critical


@dataclass(frozen=True)
class Validation:
    rows: tuple[Row, ...]
    replications: int
    observed: Mapping[str, FloatArray]
    simulated: Mapping[str, FloatArray]
    """Every replication's values, pooled."""

    def row(self, name: str) -> Row:
        return next(r for r in self.rows if r.name == name)

    def frame(self) -> pd.DataFrame:
        """One row per quantity and statistic: observed, simulated mean, low, high, inside; with the KS columns."""
        import pandas as pd

        return pd.DataFrame([
            {"quantity": r.name, "statistic": s, "n": r.n, "observed": r.observed[s], "simulated": r.simulated[s].mean,
             "low": r.simulated[s].low, "high": r.simulated[s].high, "inside": r.simulated[s].contains(r.observed[s]),
             "ks": r.ks, "ks_critical": r.critical} for r in self.rows for s in STATISTICS])

    def format(self) -> str:
        """The comparison as a text table: three lines per quantity (mean, p50, p95)."""
        lines = [f"observed against {self.replications} replications of the fitted scenario",
                 f"{'quantity':16}{'n':>7}  {'':4} {'observed':>9} {'simulated':>9}  {'[95% of runs]':<22}"
                 f"{'KS':>6} {'crit':>6}"]
        for r in self.rows:
            for i, s in enumerate(STATISTICS):
                p = r.simulated[s]
                interval = f"[{format_seconds(p.low)}, {format_seconds(p.high)}]" + ("" if p.contains(r.observed[s])
                                                                                    else " *")
                head = f"{r.name:16}{r.n:>7,}" if i == 0 else " " * 23
                tail = f"{r.ks:>6.3f} {r.critical:>6.3f}{'' if r.ks_passes else ' !'}" if i == 0 else ""
                lines.append(f"{head}  {s:4} {format_seconds(r.observed[s]):>9} {format_seconds(p.mean):>9}  "
                             f"{interval:<22}{tail}".rstrip())
        lines.append("[95% of runs]: where one more run of the model falls; * an observed value outside it")
        lines.append("KS: two-sample Kolmogorov-Smirnov distance; crit: its 5% critical value, or the runs' own spread")
        lines.append("(the largest distance between one run and the others) where larger; ! a distance above it")
        return "\n".join(lines)


def simulated_quantities(spec: RunSpec) -> dict[str, FloatArray]:
    """One replication's quantities (the task an executor runs)."""
    scenario = Scenario.from_dict(spec.scenario, source=spec.source, name=spec.name)
    result = simulate(scenario, seed=spec.seed, jobs=spec.jobs)
    return quantities(result.times, result.workload.kind)


def ks_critical(n: int, m: int, level: float = KS_LEVEL) -> float:
    """The two-sample Kolmogorov-Smirnov distance above which the samples differ at ``level`` (asymptotic)."""
    return math.sqrt(-math.log(level / 2) / 2) * math.sqrt((n + m) / (n * m)) if n and m else math.nan


def _runs_spread(runs: list[dict[str, FloatArray]], name: str) -> float:
    """The largest KS distance between one run's ``name`` values and the other runs' pooled."""
    from scipy import stats

    distances = [0.0]
    for i, run in enumerate(runs):
        others = np.concatenate([r[name] for j, r in enumerate(runs) if j != i])
        if run[name].size and others.size:
            distances.append(float(stats.ks_2samp(run[name], others).statistic))
    return max(distances)


def validate(table: JobTable, scenario: Scenario, *, replications: int = 5, seed: int = 1) -> Validation:
    """Run ``scenario`` ``replications`` times with as many jobs as ``table`` and compare (see the module)."""
    from scipy import stats

    if replications < 2:
        raise ValueError(f"a validation needs at least 2 replications, got {replications}")
    observed = quantities(table.times, table.kind)
    runs = [simulated_quantities(RunSpec.of(scenario, s, len(table))) for s in replication_seeds(seed, replications)]
    pooled = {name: np.concatenate([run[name] for run in runs]) for name in observed}
    rows = []
    for name, values in observed.items():
        per_run = [statistics(run[name]) for run in runs]
        simulated = {s: predict([p[s] for p in per_run]) for s in STATISTICS}
        both = values.size and pooled[name].size
        ks = float(stats.ks_2samp(values, pooled[name]).statistic) if both else math.nan
        critical = max(ks_critical(int(values.size), int(pooled[name].size)), _runs_spread(runs, name))
        rows.append(Row(name, int(values.size), statistics(values), simulated, ks, critical))
    return Validation(tuple(rows), replications, observed, pooled)
