"""The capacity question: the highest load, or the fewest servers, at which a service-level target holds.

A *target* is a metric, a threshold and a confidence level, such as "p95 turnaround below 10 minutes at 95%
confidence". It *holds* at a point of a sweep when the whole confidence interval of the metric over the
replications lies on the right side of the threshold: for ``below``, the interval's high end is below it (for
``above``, its low end is above it). An interval that cannot be estimated (fewer than two values) never holds.

The search varies one scenario key over a range and assumes the target gets harder as the key grows
(``find = "max"``: arrival rates, job sizes) or easier (``find = "min"``: workers, instruments). It bisects:
whole numbers until the answer is bracketed by neighbours, real numbers until the bracket is narrower than
``tolerance`` times its top. Every probe runs the same replication seeds (common random numbers), which makes
neighbouring probes comparable. A sweep file gives the target as a table::

    [target]
    metric = "turnaround.p95"          # any metric name of the tidy table
    below = "15min"                    # or above = ...; a number, or a duration with a unit
    confidence = 0.95                  # default: the sweep's
    search = "arrivals.rate"           # the key to search (stationsim capacity)
    range = ["100/h", "1500/h"]        # its lowest and highest values: numbers, rates or durations
    find = "max"                       # "max": the highest value that holds; "min": the lowest
    tolerance = 0.01                   # real-valued keys: stop when the bracket is this narrow (relative)

``stationsim capacity SWEEP.toml`` searches once for every combination of the sweep's other factors;
``stationsim sweep`` also reads the answer off its grid when the searched key is one of the factors.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Generator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sim.experiments.replications import (
    COUNTED_BY_KEY,
    Metrics,
    RunSpec,
    format_metric,
    interval,
    metric_values,
    run_replication,
)
from sim.scenario.config import ScenarioError, Table
from sim.scenario.units import SECONDS_PER_UNIT, format_seconds, parse_duration, parse_rate

if TYPE_CHECKING:
    from sim.experiments.confidence import Interval
    from sim.experiments.sweeps import Sweep
    from sim.scenario.scenario import Scenario

Find = Literal["max", "min"]


def numeric(value: object) -> float:
    """A factor value as a number for ordering and bisection: rates per second, durations in seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, a rate or a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.strip() == "inf":
            return math.inf
        return parse_rate(value) if "/" in value else parse_duration(value)
    raise ValueError(f"expected a number, a rate or a duration, got {value!r}")


def _unit(value: object) -> str:
    """How to write values of the searched key: ``/h`` for rates given per hour, ``s`` for durations, ``int``
    for whole numbers, ``""`` for other numbers."""
    if isinstance(value, str):
        return "/" + value.partition("/")[2].strip() if "/" in value else "s"
    return "int" if isinstance(value, int) else ""


@dataclass(frozen=True)
class Target:
    """A service-level target, and optionally the key and range over which to search for it."""

    metric: str
    threshold: float
    below: bool = True
    level: float = 0.95
    search: str | None = None
    low: float = math.nan
    high: float = math.nan
    unit: str = ""
    """How the searched key's values are written (see ``_unit``)."""
    find: Find = "max"
    tolerance: float = 0.01

    def holds(self, estimate: Interval) -> bool:
        if self.below:
            return estimate.high < self.threshold
        return estimate.low > self.threshold

    def scenario_value(self, value: float) -> Any:
        """The searched key's value as the scenario takes it (rates per second, durations in seconds)."""
        return int(value) if self.unit == "int" else value

    def format_value(self, value: float) -> str:
        if self.unit == "int":
            return str(int(value))
        if self.unit == "s":
            return format_seconds(value)
        if self.unit.startswith("/"):
            return f"{value * SECONDS_PER_UNIT[self.unit[1:]]:.4g}{self.unit}"
        return f"{value:.4g}"

    def __str__(self) -> str:
        side = "<" if self.below else ">"
        return f"{self.metric} {side} {format_metric(self.metric, self.threshold)} at {self.level:.0%} confidence"

    def check_metric(self, metrics: Mapping[str, float], source: str) -> None:
        """Raise ``ScenarioError`` unless the runs have the target's metric (checked on the first run)."""
        if self.metric in metrics or self.metric.startswith(COUNTED_BY_KEY):
            return
        close = difflib.get_close_matches(self.metric, list(metrics), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see the metric column of the sweep table)"
        raise ScenarioError(source, "target.metric", f"no metric {self.metric!r}{hint}")


def parse_target(table: Table, level: float) -> Target:
    """The ``[target]`` table of a sweep file (``level``: the sweep's confidence, the default)."""
    allowed = ("metric", "below", "above", "confidence", "search", "range", "find", "tolerance")
    for key in table.data:
        if key not in allowed:
            raise table.error(key, f"unknown key; expected one of {', '.join(allowed)}")
    if "metric" not in table.data or not isinstance(table.data["metric"], str) or not table.data["metric"]:
        raise table.error("metric", "expected the name of a metric, such as \"turnaround.p95\"")
    if ("below" in table.data) == ("above" in table.data):
        raise table.error("below", "give exactly one of below or above (the threshold)")
    side = "below" if "below" in table.data else "above"
    threshold = table.parse(side, _threshold)
    confidence = table.parse("confidence", confidence_level) if "confidence" in table.data else level
    search: dict[str, Any] = {}
    if "search" in table.data or "range" in table.data:
        search = _search(table)
    return Target(table.data["metric"], threshold, side == "below", confidence, **search)


def _threshold(value: object) -> float:
    number = parse_duration(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError(f"expected a number or a duration such as \"10min\", got {value!r}")
    return float(number)


def confidence_level(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"expected a confidence level between 0 and 1, such as 0.95, got {value!r}")
    return float(value)


def _search(table: Table) -> dict[str, Any]:
    key = table.data.get("search")
    if not isinstance(key, str) or not key:
        raise table.error("search", "expected the dotted scenario key to search, such as \"arrivals.rate\"")
    ends = table.data.get("range")
    if not isinstance(ends, list) or len(ends) != 2:
        raise table.error("range", f"expected [lowest, highest] values of {key}, got {ends!r}")
    try:
        low, high = (numeric(v) for v in ends)
    except ValueError as error:
        raise table.error("range", str(error)) from None
    if not low < high:
        raise table.error("range", f"expected the lowest value first, then a higher one, got {ends!r}")
    units = {_unit(v) for v in ends}
    if len(units) != 1:
        raise table.error("range", f"expected both ends in the same kind and unit, got {ends!r}")
    find = table.data.get("find", "max")
    if find not in ("max", "min"):
        raise table.error("find", f"expected \"max\" (the highest value that holds) or \"min\", got {find!r}")
    tolerance = table.data.get("tolerance", 0.01)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 < tolerance < 1:
        raise table.error("tolerance", f"expected a share between 0 and 1, such as 0.01, got {tolerance!r}")
    return {"search": key, "low": low, "high": high, "unit": units.pop(), "find": find,
            "tolerance": float(tolerance)}


# --- the search ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """The metric's interval at one value of the searched key."""

    value: float
    estimate: Interval
    holds: bool


@dataclass(frozen=True)
class CapacityAnswer:
    """The outcome of one search: the best value at which the target holds (None: not even at the easy end
    of the range), the probe there and the nearest probe at which it fails (None: it holds across the range)."""

    target: Target
    context: dict[str, Any]
    """The values of the sweep's other factors during this search."""
    value: float | None
    holds_at: Probe | None
    fails_at: Probe | None
    probes: tuple[Probe, ...]

    @property
    def status(self) -> str:
        if self.value is None:
            return "fails across the range"
        return "holds across the range" if self.fails_at is None else "found"

    def describe(self) -> str:
        t = self.target
        where = ", ".join(f"{k} = {v}" for k, v in self.context.items())
        head = (f"{'highest' if t.find == 'max' else 'lowest'} {t.search} at which {t}"
                + (f", with {where}" if where else "") + ":")
        lines = [head]
        if self.holds_at is not None:
            lines.append(f"  answer: {t.format_value(self.holds_at.value)}"
                         + (" (the end of the range: the target holds across it)" if self.fails_at is None else ""))
        else:
            easiest = t.format_value(self.probes[0].value)
            lines.append(f"  answer: none; the target fails even at {t.search} = {easiest}")
        for label, probe in (("holds", self.holds_at), ("fails", self.fails_at)):
            if probe is not None:
                e = probe.estimate
                lines.append(f"  {label} at {t.format_value(probe.value)}: {t.metric} = "
                             f"{format_metric(t.metric, e.mean)} +- {format_metric(t.metric, e.half_width)} "
                             f"[{format_metric(t.metric, e.low)}, {format_metric(t.metric, e.high)}], n={e.n}")
        lines.append(f"  ({len(self.probes)} probes)")
        return "\n".join(lines)

    def probe_rows(self) -> list[dict[str, Any]]:
        """One row per probe, in the order the search made them: the other factors, the searched value, the
        metric's interval there and whether the target held."""
        t = self.target
        return [{**self.context, str(t.search): t.format_value(p.value), "value": p.value, "metric": t.metric,
                 "mean": p.estimate.mean, "half_width": p.estimate.half_width, "low": p.estimate.low,
                 "high": p.estimate.high, "n": p.estimate.n, "holds": p.holds} for p in self.probes]

    def row(self) -> dict[str, Any]:
        """A row of the capacity table (``answer_value`` and ``fails_at_value`` in the scenario's units: per
        second for rates, seconds for durations)."""
        t = self.target
        probe = self.holds_at
        estimate = probe.estimate if probe else interval([], t.level)
        return {**self.context, "search": t.search, "find": t.find, "metric": t.metric,
                "threshold": t.threshold, "side": "below" if t.below else "above", "confidence": t.level,
                "status": self.status, "answer": None if probe is None else t.format_value(probe.value),
                "answer_value": None if probe is None else probe.value,
                "fails_at_value": None if self.fails_at is None else self.fails_at.value,
                "mean": estimate.mean, "half_width": estimate.half_width, "low": estimate.low,
                "high": estimate.high, "n": estimate.n, "probes": len(self.probes)}


Bracket = tuple[float | None, float | None]


def bisection(target: Target) -> Generator[tuple[float, ...], tuple[bool, ...], Bracket]:
    """The search as a generator: it yields the values to probe next and is sent back whether the target
    holds at each; it returns (the best value known to hold or None, the nearest known to fail or None)."""
    easy, hard = (target.low, target.high) if target.find == "max" else (target.high, target.low)
    at_easy, at_hard = yield (easy, hard)
    if not at_easy:
        return None, easy
    if at_hard:
        return hard, None
    good, bad = easy, hard
    while not _converged(target, good, bad):
        middle = float((good + bad) // 2) if target.unit == "int" else (good + bad) / 2
        (holds,) = yield (middle,)
        good, bad = (middle, bad) if holds else (good, middle)
    return good, bad


def _converged(target: Target, good: float, bad: float) -> bool:
    if target.unit == "int":
        return abs(good - bad) <= 1
    return abs(good - bad) <= target.tolerance * max(abs(good), abs(bad))


def search_contexts(sweep: Sweep, target: Target) -> list[dict[str, Any]]:
    """The combinations of the sweep's factors other than the searched key (one search each)."""
    return sweep.points(exclude=target.search)


def search_target(sweep: Sweep) -> Target:
    """The sweep's target, which must name a key and range to search (raises ``ScenarioError``)."""
    target = sweep.target
    if target is None:
        raise ScenarioError(sweep.source, "target", "no [target] table: give metric, below, search and range")
    if target.search is None:
        raise ScenarioError(sweep.source, "target.search", "missing; the capacity search needs search and range")
    return target


def find_capacity(sweep: Sweep, executor: Executor | None = None, *, progress: bool = False) -> list[CapacityAnswer]:
    """Search the sweep's ``[target]`` for every combination of its factors other than the searched key,
    all searches advancing together (each round's probes run as one batch of replications). Every scenario
    at both ends of the range is validated before anything runs."""
    from sim.experiments.executors import run_tasks

    target = search_target(sweep)
    sweep.check()  # every scenario at both ends of the range, before anything runs
    key = str(target.search)
    contexts = search_contexts(sweep, target)

    def scenario(context: dict[str, Any], value: float) -> Scenario:
        return sweep.scenario_for({**context, key: target.scenario_value(value)}, where="target.search")

    seeds = sweep.seeds()
    searches = [bisection(target) for _ in contexts]
    probes: list[list[Probe]] = [[] for _ in contexts]
    brackets: list[Bracket] = [(None, None)] * len(contexts)
    pending = {i: next(search) for i, search in enumerate(searches)}
    round_number = 0
    while pending:
        round_number += 1
        batch = [(i, value) for i, values in pending.items() for value in values]
        specs = [RunSpec.of(scenario(contexts[i], value), seed, sweep.jobs, sweep.warmup)
                 for i, value in batch for seed in seeds]
        runs = run_tasks(run_replication, specs, executor, progress=progress,
                         description=f"capacity search, round {round_number}")
        if round_number == 1:
            target.check_metric(runs[0], sweep.source)
        outcome: dict[int, list[bool]] = {}
        for k, (i, value) in enumerate(batch):
            estimate = interval(metric_values(runs[k * len(seeds):(k + 1) * len(seeds)], target.metric),
                                target.level)
            probes[i].append(Probe(value, estimate, target.holds(estimate)))
            outcome.setdefault(i, []).append(target.holds(estimate))
        pending = {}
        for i, holds in outcome.items():
            try:
                pending[i] = searches[i].send(tuple(holds))
            except StopIteration as done:
                brackets[i] = done.value
    return [_answer(target, context, found, bracket)
            for context, found, bracket in zip(contexts, probes, brackets, strict=True)]


def _answer(target: Target, context: dict[str, Any], probes: Sequence[Probe], bracket: Bracket) -> CapacityAnswer:
    good, bad = bracket
    by_value = {p.value: p for p in probes}
    return CapacityAnswer(target, context, good, by_value.get(good) if good is not None else None,
                          by_value.get(bad) if bad is not None else None, tuple(probes))


def grid_answers(target: Target, points: Sequence[Mapping[str, Any]], runs: Sequence[Sequence[Metrics]]) -> list[str]:
    """The target read off a sweep's grid: for each combination of the other factors, the best level of the
    searched factor at which it holds (empty when the searched key is not a factor)."""
    if target.search is None or not points or target.search not in points[0]:
        return []
    groups: dict[tuple[tuple[str, Any], ...], list[tuple[float, Any, Interval]]] = {}
    for point, point_runs in zip(points, runs, strict=True):
        context = tuple((k, v) for k, v in point.items() if k != target.search)
        level = point[target.search]
        estimate = interval(metric_values(point_runs, target.metric), target.level)
        try:
            position = numeric(level)
        except ValueError:  # levels that are not numbers have no order to read an answer off
            return []
        groups.setdefault(context, []).append((position, level, estimate))
    lines = []
    for context, levels in groups.items():
        holding = [(x, level, e) for x, level, e in levels if target.holds(e)]
        where = ", ".join(f"{k} = {v}" for k, v in context) or "the grid"
        if not holding:
            lines.append(f"{where}: the target fails at every level of {target.search}")
            continue
        best = max if target.find == "max" else min
        _, level, e = best(holding, key=lambda h: h[0])
        lines.append(f"{where}: {'highest' if target.find == 'max' else 'lowest'} {target.search} that holds: "
                     f"{level} ({target.metric} = {format_metric(target.metric, e.mean)} +- "
                     f"{format_metric(target.metric, e.half_width)})")
    return lines
