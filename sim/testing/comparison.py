"""Paired comparison of two scheduling policies on common random numbers.

Both policies run the same scenario with the same seeds. A run's workload, service times and faults come from
streams named by what they are for (``sim.scenario.streams``), never from the policy, so replication i of policy A
and of policy B see the very same jobs: their difference in a metric is the policy's effect alone, and the Student-t
interval of the per-seed differences B - A (``sim.experiments.confidence.t_interval``) is much narrower than the two
separate intervals would suggest. ``compare`` runs the replications and ``Comparison.table()`` prints them;
``assert_no_worse`` makes a regression test of it. Each policy takes its own options (``a_options``,
``b_options``; by default those the scenario gives it: a variant's, or ``[scheduler.options]`` for the scenario's
own policy, else none), and the table's head says which each ran with. ``metrics`` replaces the default metrics,
``extra_metrics`` adds to them (``sim.testing.metrics``: deadline misses with a slack per class, ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.experiments.confidence import Interval, t_interval
from sim.model.status import EXECUTION_STARTED, PENDING_EXECUTION
from sim.results.run import RunResult
from sim.scenario.streams import replication_seeds
from sim.simulation import simulate
from sim.testing.running import ScenarioLike, as_scenario, with_policy

Metric = Callable[[RunResult, Mapping[str, Any]], float]
"""A number from one run: a function of the run and its summary (``RunResult.summary()``)."""


def _summary(*path: str) -> Metric:
    def metric(result: RunResult, summary: Mapping[str, Any]) -> float:
        value: Any = summary
        for part in path:
            value = value[part]
        return float(value)
    return metric


def worst_user_wait(result: RunResult, summary: Mapping[str, Any]) -> float:
    """The highest mean execution-queue wait of any user."""
    w = result.workload
    wait = result.times[:, EXECUTION_STARTED] - result.times[:, PENDING_EXECUTION]
    done = ~np.isnan(wait)
    if not done.any():
        return math.nan
    totals = np.bincount(w.user[done], weights=wait[done], minlength=len(w.users))
    counts = np.bincount(w.user[done], minlength=len(w.users))
    return float(np.max(totals[counts > 0] / counts[counts > 0]))


METRICS: dict[str, tuple[Metric, bool]] = {
    "turnaround mean (s)": (_summary("turnaround", "mean"), False),
    "turnaround p95 (s)": (_summary("turnaround", "p95"), False),
    "queue wait mean (s)": (_summary("stages", "execution", "wait", "mean"), False),
    "queue wait p95 (s)": (_summary("stages", "execution", "wait", "p95"), False),
    "queue wait max (s)": (_summary("stages", "execution", "wait", "max"), False),
    "worst user's mean wait (s)": (worst_user_wait, False),
    "instrument utilisation": (_summary("stages", "execution", "utilisation"), True),
    "throughput (jobs/h)": (_summary("throughput_per_hour"), True),
}
"""Default metrics: name -> (function of a run, whether higher is better)."""


@dataclass(frozen=True)
class MetricComparison:
    """One metric under policies A and B, and the paired difference B - A."""

    name: str
    a: Interval
    b: Interval
    difference: Interval
    higher_is_better: bool

    @property
    def verdict(self) -> str:
        """``better``/``worse`` for B when the interval of the difference excludes zero, else ``same``."""
        if not (self.difference.low > 0 or self.difference.high < 0):
            return "same"
        return "better" if (self.difference.low > 0) == self.higher_is_better else "worse"


@dataclass(frozen=True)
class Comparison:
    """Policies ``a`` and ``b`` on ``scenario`` over ``seeds`` (one run of ``jobs`` jobs per seed and policy)."""

    scenario: str
    a: str
    b: str
    jobs: int
    seeds: tuple[int, ...]
    level: float
    metrics: Mapping[str, MetricComparison]
    a_options: Mapping[str, Any] = field(default_factory=dict)
    b_options: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> MetricComparison:
        return self.metrics[name]

    def table(self) -> str:
        """The comparison as a text table."""
        head = (f"{self.scenario}: A = {self.a}{_options(self.a_options)}, B = {self.b}{_options(self.b_options)}, "
                f"{len(self.seeds)} paired replications of "
                f"{self.jobs:,} jobs (the same jobs under both: common random numbers), {self.level:.0%} "
                "confidence intervals")
        width = max(len(name) for name in self.metrics)
        rows = [head, "", f"{'metric':<{width}}  {self.a:>14}  {self.b:>14}  {'B - A':>12}  "
                f"{'interval of B - A':>25}  B is"]
        for name, m in self.metrics.items():
            rows.append(f"{name:<{width}}  {m.a.mean:>14.5g}  {m.b.mean:>14.5g}  {m.difference.mean:>+12.4g}  "
                        f"{f'[{m.difference.low:+.4g}, {m.difference.high:+.4g}]':>25}  {m.verdict}")
        return "\n".join(rows)

    def assert_no_worse(self, name: str, *, margin: float = 0.0) -> None:
        """B is not worse than A in metric ``name`` by more than ``margin`` (in the metric's unit): the interval
        of B - A must lie within the margin on the bad side."""
        __tracebackhide__ = True  # pytest: show the message, not the kit's frames
        m = self.metrics[name]
        bad = -m.difference.low if m.higher_is_better else m.difference.high
        if not bad <= margin:
            raise AssertionError(f"{self.b} is worse than {self.a} in {name}: B - A = {m.difference} "
                                 f"(allowed margin {margin:g}); {self.a}: {m.a}, {self.b}: {m.b}")


def compare(scenario: ScenarioLike, a: object, b: object, *, replications: int = 5, jobs: int | None = None,
            seed: int | None = None, level: float = 0.95,
            metrics: Mapping[str, tuple[Metric, bool]] | None = None,
            extra_metrics: Mapping[str, tuple[Metric, bool]] | None = None,
            a_options: Mapping[str, Any] | None = None, b_options: Mapping[str, Any] | None = None) -> Comparison:
    """Run policies ``a`` and ``b`` (names, variants of the scenario, or classes; with ``a_options`` and
    ``b_options``, see the module docstring) on ``replications`` common seeds spawned from ``seed`` (default:
    the scenario's) and compare ``metrics`` (default ``METRICS``) and ``extra_metrics``."""
    if replications < 2:
        raise ValueError(f"a paired comparison needs at least 2 replications, got {replications}")
    base = as_scenario(scenario)
    chosen = {**(METRICS if metrics is None else metrics), **(extra_metrics or {})}
    first, second = with_policy(base, a, a_options), with_policy(base, b, b_options)
    seeds = tuple(replication_seeds(base.run.seed if seed is None else seed, replications))
    values: dict[str, list[list[float]]] = {name: [[], []] for name in chosen}
    for s in seeds:
        for side, variant in enumerate((first, second)):
            result = simulate(variant, seed=s, jobs=jobs)
            summary = result.summary()
            for name, (metric, _) in chosen.items():
                values[name][side].append(metric(result, summary))
    compared = {name: MetricComparison(
        name, t_interval(va, level), t_interval(vb, level),
        t_interval(np.subtract(vb, va), level), higher) for name, ((va, vb), (_, higher)) in
        ((n, (values[n], chosen[n])) for n in chosen)}
    return Comparison(base.name, _label(a, first), _label(b, second), jobs or base.run.jobs, seeds, level, compared,
                      dict(first.scheduler.options), dict(second.scheduler.options))


def _options(options: Mapping[str, Any]) -> str:
    """Options as a TOML inline table, for the table's head (nothing when there are none)."""
    if not options:
        return ""
    return " " + _inline(options)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return repr(value)


def _label(given: object, scenario: Any) -> str:
    return given if isinstance(given, str) else str(scenario.scheduler.policy)
