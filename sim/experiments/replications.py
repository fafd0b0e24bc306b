"""Replications: the same scenario run with several independent seeds, and confidence intervals over them.

One run is an anecdote. A capacity planner runs R replications, each with a seed of its own spawned from one
base seed (``sim.scenario.streams.replication_seeds``), deletes each run's warm-up (the first jobs, or the first
simulated time, while the station fills from empty), and summarises every metric over the replications with
a Student-t confidence interval (``sim.experiments.confidence.t_interval``).

Each replication is a ``RunSpec`` (the scenario's TOML data, a seed, a job count and a warm-up) that
``run_replication`` turns into the run's *metrics*: its summary (``sim.results.metrics.summarize``) flattened to one
number per dotted name, such as ``turnaround.p95``, ``stages.execution.wait.mean``, ``throughput_per_hour``,
``jobs.failed`` or ``instrument_time.idle``. Metrics are plain data, so any executor can carry them
(``sim.experiments.executors``); figures of the computer rather than the model (wall time, seed) are left out,
so that the same seeds give identical metrics everywhere.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.results.metrics import summarize
from sim.scenario.scenario import Scenario
from sim.scenario.streams import replication_seeds
from sim.scenario.units import format_seconds
from sim.simulation import simulate

if TYPE_CHECKING:
    import pandas as pd

    from sim.experiments.confidence import Interval

Metrics = dict[str, float]
"""One run's summary as ``{dotted metric name: value}``."""

NOT_METRICS = frozenset({"scenario", "seed", "wall_seconds", "jobs_per_second"})
"""Summary entries that describe the run or the computer, not the modelled station."""
COUNTED_BY_KEY = ("failed_by_stage.", "events.")
"""Metrics whose absence from a run means zero (a stage that failed no job is not listed)."""
TABLE_COLUMNS = ("metric", "mean", "half_width", "low", "high", "n")


@dataclass(frozen=True)
class PeriodTarget:
    """A per-period count each run makes for a miss-probability target: of the whole ``period``s of the run
    (seconds, such as a day), how many had ``metric`` (of the jobs submitted in them) on the wrong side of
    ``threshold`` (``below``: at or above it is a miss)."""

    metric: str
    period: float
    threshold: float
    below: bool = True

    @property
    def prefix(self) -> str:
        """The metrics' names: ``per_1d.turnaround.p95`` then ``.periods``, ``.misses``, ``.worst``."""
        return f"per_{period_label(self.period)}.{self.metric}"

    def counts(self, values: np.ndarray) -> Metrics:
        """The run's figures from its periods' values (a period without a value, such as a day without
        jobs, is not counted)."""
        kept = values[~np.isnan(values)]
        missed = kept >= self.threshold if self.below else kept <= self.threshold
        worst = (kept.max() if self.below else kept.min()) if kept.size else math.nan
        return {f"{self.prefix}.periods": float(kept.size), f"{self.prefix}.misses": float(missed.sum()),
                f"{self.prefix}.worst": float(worst)}


def period_label(seconds: float) -> str:
    """A period in a metric's name: ``1h``, ``1d``, ``1w``, ``12h``, ``90s``."""
    for unit, scale in (("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= scale and (seconds / scale).is_integer():
            return f"{seconds / scale:g}{unit}"
    return f"{seconds:g}s"


class ExperimentError(ValueError):
    """An experiment that cannot be run as asked (a warm-up that deletes every job, too few replications)."""


@dataclass(frozen=True)
class Warmup:
    """What to delete from the start of each run: jobs submitted before ``time`` simulated seconds, or the
    first ``jobs`` jobs (give one of the two; both zero: no warm-up)."""

    time: float = 0.0
    jobs: int = 0

    def __post_init__(self) -> None:
        if self.time < 0 or self.jobs < 0 or not math.isfinite(self.time):
            raise ExperimentError(f"a warm-up is zero or more, got {self}")
        if self.time and self.jobs:
            raise ExperimentError("give the warm-up either as a time or as a number of jobs, not both")

    def start(self, submitted_at: np.ndarray) -> float:
        """The simulated time from which a run's jobs count."""
        if not self.jobs:
            return self.time
        return float(np.sort(submitted_at)[self.jobs]) if self.jobs < len(submitted_at) else math.inf

    def check(self, jobs: int) -> None:
        """Raise unless a run of ``jobs`` jobs keeps some after the warm-up."""
        if self.jobs >= jobs:
            raise ExperimentError(f"a warm-up of {self.jobs:,} jobs deletes every job of a {jobs:,}-job run")

    def __str__(self) -> str:
        if self.jobs:
            return f"first {self.jobs:,} jobs"
        return f"first {format_seconds(self.time)}" if self.time else "none"


@dataclass(frozen=True)
class RunSpec:
    """One replication, as sent to a worker: everything that determines its outcome."""

    scenario: Mapping[str, Any]
    """The scenario's TOML data (``Scenario.raw``)."""
    source: str
    name: str
    seed: int
    jobs: int | None = None
    """Jobs to submit (None: the scenario's ``run.jobs``)."""
    warmup: Warmup = Warmup()
    periods: tuple[PeriodTarget, ...] = ()
    """Per-period counts to add to the metrics (miss-probability targets)."""

    @classmethod
    def of(cls, scenario: Scenario, seed: int, jobs: int | None = None, warmup: Warmup = Warmup(),
           periods: tuple[PeriodTarget, ...] = ()) -> RunSpec:
        return cls(dict(scenario.raw), scenario.source, scenario.name, seed, jobs, warmup, periods)


def run_replication(spec: RunSpec) -> Metrics:
    """Run one replication and return its metrics after the warm-up (the task that executors run), with the
    per-period counts that ``spec.periods`` asks for."""
    scenario = Scenario.from_dict(spec.scenario, source=spec.source, name=spec.name)
    result = simulate(scenario, seed=spec.seed, jobs=spec.jobs)
    start = spec.warmup.start(result.workload.submitted_at)
    metrics = flatten_summary(summarize(result, warmup=start))
    if spec.periods:
        from sim.results.periods import period_values

        for period in spec.periods:
            metrics |= period.counts(period_values(result, period.metric, period.period, since=start))
    return metrics


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> Metrics:
    """The numbers of a summary under dotted names (``{"turnaround": {"p95": 80.0}}`` -> ``turnaround.p95``),
    without the entries that are not about the station (``NOT_METRICS``)."""
    metrics: Metrics = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if not prefix and key in NOT_METRICS:
            continue
        if isinstance(value, Mapping):
            metrics.update(flatten_summary(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            metrics[name] = float(value)
    return metrics


def metric_names(runs: Sequence[Mapping[str, float]]) -> list[str]:
    """Every metric name of the runs, in the order they first appear."""
    return list(dict.fromkeys(name for run in runs for name in run))


def metric_values(runs: Sequence[Mapping[str, float]], name: str) -> list[float]:
    """One value of the metric per run (zero where a per-key count is absent, NaN where a metric is)."""
    missing = 0.0 if name.startswith(COUNTED_BY_KEY) else math.nan
    return [run.get(name, missing) for run in runs]


ROUNDING = 1e-9
"""Values of every run that differ by less than this share of their size are one value computed in different
orders (a share that is 1 by construction, summed from parts): their interval is that value, of width 0."""


def interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """The t interval over replications, with NaN values left out (``n`` counts the rest); identical values
    (infinite servers, a share that is 1 by construction) have a half-width of zero."""
    from sim.experiments.confidence import Interval, t_interval  # scipy: imported when needed, not by every command

    finite = [v for v in values if not math.isnan(v)]
    if len(finite) >= 2 and all(v == finite[0] for v in finite):
        return Interval(finite[0], 0.0, len(finite), level)
    if len(finite) >= 2 and all(math.isfinite(v) for v in finite) and (
            max(finite) - min(finite) <= ROUNDING * max(abs(v) for v in finite)):
        return Interval(clean(math.fsum(finite) / len(finite)), 0.0, len(finite), level)
    return t_interval(finite, level) if finite else Interval(math.nan, math.nan, 0, level)


def intervals(runs: Sequence[Mapping[str, float]], level: float = 0.95,
              names: Sequence[str] | None = None) -> dict[str, Interval]:
    """A confidence interval for every metric (or the metrics ``names``) over the replications ``runs``."""
    return {name: interval(metric_values(runs, name), level) for name in (names or metric_names(runs))}


def is_duration(metric: str) -> bool:
    """Whether a metric is a time in seconds (waits, services, turnaround, the run's simulated time)."""
    parts = metric.split(".")
    if parts[-1] in ("periods", "misses", "count", "completed", "miss_share") or parts[0] == "jobs":
        return False
    return bool({"wait", "service", "turnaround"} & set(parts)) or metric in ("sim_time", "lost_work")


def is_share(metric: str) -> bool:
    """Whether a metric is a share of time or of periods (utilisation, instrument time, availability), which
    people read as a percentage."""
    parts = metric.split(".")
    return (parts[-1] in ("utilisation", "miss_share") or parts[0] in ("instrument_time", "availability")
            or "availability" in parts or parts[-1].startswith("utilisation_"))


ZERO = 1e-12
"""Smaller magnitudes are the rounding of a zero (a share computed as 1 minus its parts: -3.7e-17)."""


def clean(value: float) -> float:
    """``value``, with the rounding error of an exact zero removed."""
    return 0.0 if abs(value) < ZERO else value


def format_metric(metric: str, value: float) -> str:
    """A value of the metric for people: durations with a unit, shares as percentages, other figures with four
    significant digits; an exact zero (or its rounding error) is ``0``."""
    if math.isnan(value):
        return "-"
    value = clean(value)
    if value == 0:
        return "0"
    if is_duration(metric):
        return format_seconds(value)
    if is_share(metric):
        return f"{100 * value:.3g}%"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"  # 49,340, not 4.934e+04


def format_table(rows: Sequence[Mapping[str, Any]], level: float | None = None) -> str:
    """The metric, mean, confidence interval and n of tidy rows, aligned for a terminal (``level``: named in
    the header)."""
    width = max([len("metric"), *(len(row["metric"]) for row in rows)])
    cells = [(row["metric"], format_metric(row["metric"], row["mean"]), _interval_text(row), str(row["n"]))
             for row in rows]
    span = max([len("interval"), *(len(c[2]) for c in cells)])
    head = f"{level:.0%} interval" if level is not None else "interval"
    lines = [f"{'metric':<{width}} {'mean':>10}  {head:<{span}} {'n':>4}"]
    lines += [f"{name:<{width}} {mean:>10}  {text:<{span}} {n:>4}" for name, mean, text, n in cells]
    return "\n".join(lines)


def _interval_text(row: Mapping[str, Any]) -> str:
    """``[1.2min, 1.9min]``, cut at 0 (and a share at 100%), where the mean must lie; said in words for a
    metric every run gave the same (a count fixed by the scenario, a share that is 1 by construction); ``-``
    when it cannot be estimated. The tables written keep the t interval as it is."""
    if row["half_width"] == 0:
        return "(the same in every run)"
    metric = row["metric"]
    low, high = float(row["low"]), float(row["high"])
    if not math.isnan(low):  # every metric is zero or more, a share at most 100%: a t interval need not know
        low, high = max(low, 0.0), (min(high, 1.0) if is_share(metric) else high)
    shown = [format_metric(metric, v) for v in (low, high)]
    return "-" if shown[0] == "-" else f"[{shown[0]}, {shown[1]}]"


HEADLINE = ("jobs.ready", "jobs.failed", "jobs.aborted", "throughput_per_hour", "turnaround.mean", "turnaround.p50",
            "turnaround.p95", "turnaround.p99", "stages.execution.wait.mean", "stages.execution.wait.p95",
            "stages.execution.utilisation")
"""The metrics ``run --replications`` prints first (the others with ``--all``), with those below."""
BUSY_STAGE = 0.5
"""A stage pool busier than this (a share of its workers) is a headline too: it may be the next bottleneck."""


def headline_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows a planner reads first: jobs that ended badly (when any did), throughput, turnaround, the wait
    for an instrument and its utilisation, how the instruments together spent their time (the parts that were
    not zero: the availability split, or the instrument time where there is none), any stage pool more than
    half busy and each job class's p95 turnaround."""
    by_name = {row["metric"]: row for row in rows}

    def nonzero(name: str) -> bool:
        return not (by_name[name]["mean"] == 0 and by_name[name]["half_width"] == 0)

    chosen = [m for m in HEADLINE if m in by_name and (m not in ("jobs.failed", "jobs.aborted") or nonzero(m))]
    split = "availability.instruments.all." if any(n.startswith(POOL_SPLIT) for n in by_name) else "instrument_time."
    for name, row in by_name.items():
        parts = name.split(".")
        if (name.startswith(split) and nonzero(name)) \
                or (parts[0] == "stages" and parts[-1] == "utilisation" and row["mean"] > BUSY_STAGE) \
                or (parts[0] == "classes" and name.endswith("turnaround.p95")):
            chosen.append(name)
    return [by_name[name] for name in dict.fromkeys(chosen)]


POOL_SPLIT = "availability.instruments.all."
"""The availability split of the instrument pool as a whole (``sim.results.availability``)."""


def miss_probability(runs: Sequence[Mapping[str, float]], period: PeriodTarget,
                     level: float) -> tuple[int, int, float, float, float]:
    """Of every run's periods pooled: the periods, those that missed, the share that missed and its two-sided
    Clopper-Pearson (exact binomial) interval at ``level``."""
    from sim.experiments.decision import two_sided_clopper_pearson

    periods = int(sum(run.get(f"{period.prefix}.periods", 0.0) for run in runs))
    misses = int(sum(run.get(f"{period.prefix}.misses", 0.0) for run in runs))
    low, high = two_sided_clopper_pearson(misses, periods, level)
    return periods, misses, misses / periods if periods else math.nan, low, high


def interval_row(name: str, estimate: Interval) -> dict[str, Any]:
    """A row of a tidy table: metric, mean, half_width, low, high, n."""
    return {"metric": name, "mean": estimate.mean, "half_width": estimate.half_width, "low": estimate.low,
            "high": estimate.high, "n": estimate.n}


@dataclass(frozen=True)
class Replications:
    """The metrics of R replications of one scenario, and their confidence intervals."""

    scenario: Scenario
    seeds: tuple[int, ...]
    runs: tuple[Metrics, ...]
    """One dict of metrics per replication, in the order of ``seeds``."""
    warmup: Warmup = Warmup()
    level: float = 0.95
    jobs: int | None = None
    metrics: tuple[str, ...] = field(default=(), compare=False)

    def intervals(self) -> dict[str, Interval]:
        return intervals(self.runs, self.level, self.metrics or None)

    def rows(self) -> list[dict[str, Any]]:
        return [interval_row(name, estimate) for name, estimate in self.intervals().items()]

    def table(self) -> pd.DataFrame:
        """The tidy table: one row per metric with mean, half_width, low, high and n."""
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=list(TABLE_COLUMNS))

    def values_table(self) -> pd.DataFrame:
        """Every replication's value: replication, seed, metric, value."""
        import pandas as pd

        rows = [{"replication": i, "seed": seed, "metric": name, "value": value}
                for name in self.metrics or metric_names(self.runs)
                for i, (seed, value) in enumerate(zip(self.seeds, metric_values(self.runs, name), strict=True))]
        return pd.DataFrame(rows, columns=["replication", "seed", "metric", "value"])


def replicate(scenario: Scenario, replications: int = 5, *, seed: int | None = None, jobs: int | None = None,
              warmup: Warmup = Warmup(), level: float = 0.95, executor: Executor | None = None,
              progress: bool = False, periods: tuple[PeriodTarget, ...] = ()) -> Replications:
    """Run ``replications`` independent replications of ``scenario`` (seeds spawned from ``seed``, by default
    the scenario's ``run.seed``) on ``executor`` (default: one after the other in this process); ``periods``:
    per-period counts each run adds (``miss_probability`` reads them)."""
    from sim.experiments.executors import run_tasks

    if replications < 1:
        raise ExperimentError(f"replications: expected 1 or more, got {replications}")
    warmup.check(jobs if jobs is not None else scenario.run.jobs)
    seeds = tuple(replication_seeds(scenario.run.seed if seed is None else seed, replications))
    specs = [RunSpec.of(scenario, s, jobs, warmup, periods) for s in seeds]
    runs = tuple(run_tasks(run_replication, specs, executor, progress=progress, description="replications"))
    return Replications(scenario=scenario, seeds=seeds, runs=runs, warmup=warmup, level=level, jobs=jobs,
                        metrics=tuple(metric_names(runs)))


def write_tables(database: Path, tables: Mapping[str, pd.DataFrame]) -> Path:
    """Write ``tables`` into a new SQLite file at ``database``, replacing it whole: the file appears only
    once every table is in it (a run stopped half-way leaves the old file or none)."""
    partial = database.with_name(f".{database.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        connection = sqlite3.connect(partial)
        try:
            with connection:
                for name, frame in tables.items():
                    frame.to_sql(name, connection, index=False)
        finally:
            connection.close()
        os.replace(partial, database)
    finally:
        partial.unlink(missing_ok=True)
    return database


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    """Write ``frame`` as CSV at ``path``, replacing the file whole."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        frame.to_csv(partial, index=False)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_replications(replications: Replications, out: Path) -> tuple[Path, Path]:
    """Write ``out/replications.sqlite`` (tables ``replications``: the tidy table; ``replication_values``:
    every run's value) and ``out/replications.csv`` (the tidy table)."""
    import pandas as pd

    from sim import __version__

    r = replications
    info = {"scenario": r.scenario.name, "source": r.scenario.source, "replications": len(r.seeds),
            "jobs": r.jobs or r.scenario.run.jobs, "warmup": str(r.warmup), "confidence": r.level,
            "version": __version__, "complete": 1}
    out.mkdir(parents=True, exist_ok=True)
    table = r.table()
    database = write_tables(out / "replications.sqlite", {
        "replications": table, "replication_values": r.values_table(), "replications_info": pd.DataFrame([info])})
    return database, write_csv(out / "replications.csv", table)
