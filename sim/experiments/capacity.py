"""The capacity question: the highest load, or the fewest servers, at which a service-level target holds.

A *target* (``sim.experiments.target``) is a metric, a threshold and a confidence level, such as "p95
turnaround below 10 minutes at 95% confidence", or "the chance that a day's p95 turnaround misses 10 minutes
below 5%". Each probe of the search decides it with the one-sided test at the stated level
(``sim.experiments.decision``): *holds*, *fails*, or too close to call, in which case the probe gets more
replications (the next seeds of the same sequence), ``replications`` at a time up to ``max_replications``,
before it is decided; a probe still undecided then counts as failing (the runs did not show that the target
holds), and says so.

The search varies one scenario key over a range and assumes the target gets harder as the key grows
(``find = "max"``: arrival rates, job sizes) or easier (``find = "min"``: workers, instruments). It probes
both ends of the range, then bisects between the best value known to hold and the nearest known to fail:
whole numbers until they are neighbours, real numbers until the bracket is narrower than ``tolerance`` times
its top. Every probe lies strictly inside the current bracket, so the probes stay consistent with the assumed
order: every value easier than one that holds was found to hold, every harder one than a failure was found
to fail. The answer comes with its evidence: the value that holds and the nearest that fails, with the
estimate, the one-sided bound and the replications at each; every probe is kept.

Every probe of a search runs the same replication seeds (common random numbers), which makes neighbouring
probes comparable. ``stationsim capacity SWEEP.toml`` searches once for every combination of the sweep's
other factors; ``stationsim sweep`` also reads the answer off its grid when the searched key is a factor.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.experiments.decision import Evidence, Sequential, decide_mean, decide_miss
from sim.experiments.replications import Metrics, RunSpec, format_metric, metric_values, run_replication
from sim.experiments.target import (
    Find,
    Target,
    confidence_level,
    format_share,
    numeric,
    parse_target,
    search_target,
)
from sim.scenario.streams import replication_seeds

if TYPE_CHECKING:
    from sim.experiments.sweeps import Sweep
    from sim.scenario.scenario import Scenario

__all__ = ["CapacityAnswer", "Find", "Probe", "Target", "bisection", "confidence_level", "decide",
           "find_capacity", "grid_answers", "numeric", "parse_target", "run_search", "search_target"]

BUDGET_FACTOR = 3
"""Without ``max_replications``, a probe may get up to this many times the sweep's replications."""


def decide(target: Target, runs: Sequence[Mapping[str, float]], level: float) -> Evidence:
    """What the runs at one probe say about the target, tested one-sided at ``level``."""
    if target.per is None:
        return decide_mean(metric_values(runs, target.metric), target.threshold, target.below, level)
    period = target.period_target()
    assert period is not None
    periods = sum(int(run.get(f"{period.prefix}.periods", 0.0)) for run in runs)
    misses = sum(int(run.get(f"{period.prefix}.misses", 0.0)) for run in runs)
    return decide_miss(misses, periods, len(runs), target.miss_probability or 0.0, level)


def budget(target: Target, replications: int) -> Sequential:
    """How a probe's replications grow: ``replications`` at a time, up to the target's ``max_replications``."""
    most = target.max_replications or BUDGET_FACTOR * replications
    return Sequential(replications, max(most, replications))


# --- the search ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Probe:
    """The verdict at one value of the searched key, with its evidence and the looks it took."""

    value: float
    evidence: Evidence
    looks: int = 1

    @property
    def holds(self) -> bool:
        return self.evidence.verdict == "holds"


def _bound(target: Target, probe: Probe, which: str) -> str:
    """``upper 98.3% bound 9.6min`` for the side that decides: the upper bound for a target below a threshold
    that holds (or the lower one that shows it fails)."""
    e = probe.evidence
    value = e.high if which == "upper" else e.low
    shown = format_share(value) if target.on_misses else format_metric(target.metric, value)
    return f"one-sided {which} {100 * e.level:.3g}% bound {shown}"


def describe_probe(target: Target, probe: Probe) -> str:
    """One probe for people: ``620/h: turnaround.p95 = 7.9min, upper 98.3% bound 9.6min < 10min (10 runs)``."""
    e = probe.evidence
    holds_side = "upper" if target.below else "lower"
    which = holds_side if probe.holds else ("lower" if target.below else "upper")
    if probe.evidence.verdict == "undecided":
        which = holds_side
    if target.on_misses:
        what = f"{e.misses:,} of {e.periods:,} periods missed ({format_share(e.estimate) if e.periods else '-'})"
    else:
        what = f"{target.metric} = {format_metric(target.metric, e.estimate)}"
    verdict = {"holds": "holds", "fails": "fails",
               "undecided": f"undecided after {e.n} runs, counted as failing"}[e.verdict]
    return f"{target.format_value(probe.value)}: {what}, {_bound(target, probe, which)}, {e.n} runs: {verdict}"


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
    looks: int = 1
    """The most looks a probe could have (the test's level is split over them)."""

    @property
    def status(self) -> str:
        if self.value is None:
            return "fails across the range"
        return "holds across the range" if self.fails_at is None else "found"

    @property
    def runs(self) -> int:
        return sum(p.evidence.n for p in self.probes)

    def describe(self) -> str:
        t = self.target
        where = ", ".join(f"{k} = {v}" for k, v in self.context.items())
        head = (f"{'highest' if t.find == 'max' else 'lowest'} {t.search} at which {t}"
                + (f", with {where}" if where else "") + ":")
        lines = [head]
        if self.holds_at is not None and self.fails_at is not None:
            lines.append(f"  answer: {t.format_value(self.holds_at.value)} (it holds there and fails at "
                         f"{t.format_value(self.fails_at.value)})")
        elif self.holds_at is not None:
            lines.append(f"  answer: at least {t.format_value(self.holds_at.value)}: the target holds across the "
                         f"range, up to its {'top' if t.find == 'max' else 'bottom'}; widen the range to find "
                         "where it fails")
        else:
            easiest = t.format_value(t.low if t.find == "max" else t.high)
            lines.append(f"  answer: none; the target fails even at {t.search} = {easiest}")
        for label, probe in (("holds at", self.holds_at), ("fails at", self.fails_at)):
            if probe is not None:
                lines.append(f"  {label} {describe_probe(t, probe)}")
        each = 100 - 100 * (1 - t.level) / self.looks
        split = (f"; each of up to {self.looks} looks at a probe tested at {each:.3g}%, so that a probe errs at "
                 f"most {1 - t.level:.0%}") if self.looks > 1 else ""
        lines.append(f"  ({len(self.probes)} probes, {self.runs:,} runs{split})")
        hint = self._periods_hint()
        return "\n".join([*lines, *([hint] if hint else [])])

    def _periods_hint(self) -> str:
        """For a miss probability: when a probe without a single miss could not be decided, how many periods
        it takes before none missing shows the target at this level."""
        t = self.target
        undecided = [p for p in self.probes if p.evidence.verdict == "undecided" and p.evidence.misses == 0]
        if not t.on_misses or not undecided or t.miss_probability is None:
            return ""
        level = undecided[0].evidence.level
        needed = math.ceil(math.log(1 - level) / math.log(1 - t.miss_probability))
        return (f"  note: with no period missing, {needed:,} periods are needed to show a miss probability below "
                f"{format_share(t.miss_probability)} at {100 * level:.3g}%; "
                f"{undecided[0].evidence.periods:,} were run: give more replications, longer runs or a larger "
                "max_replications")

    def probe_rows(self) -> list[dict[str, Any]]:
        """One row per probe, in the order the search made them: the other factors, the searched value, the
        estimate and its one-sided bounds there, the runs (and periods) and the verdict."""
        t = self.target
        role = {id(self.holds_at): "answer", id(self.fails_at): "nearest failing"}
        return [{**self.context, str(t.search): t.format_value(p.value), "value": p.value, "metric": t.metric,
                 "estimate": p.evidence.estimate, "low": p.evidence.low, "high": p.evidence.high,
                 "bound_level": p.evidence.level, "n": p.evidence.n, "periods": p.evidence.periods,
                 "misses": p.evidence.misses, "looks": p.looks, "verdict": p.evidence.verdict,
                 "holds": p.holds, "role": role.get(id(p), "")} for p in self.probes]

    def row(self) -> dict[str, Any]:
        """A row of the capacity table: the answer, and the evidence on both sides of it (``answer_value`` and
        ``fails_at_value`` in the scenario's units: per second for rates, seconds for durations)."""
        t = self.target
        row: dict[str, Any] = {
            **self.context, "search": t.search, "find": t.find, "metric": t.metric, "threshold": t.threshold,
            "side": "below" if t.below else "above", "per": t.per, "miss_probability": t.miss_probability,
            "confidence": t.level, "status": self.status,
            "answer": None if self.holds_at is None else t.format_value(self.holds_at.value),
            "answer_value": None if self.holds_at is None else self.holds_at.value,
            "fails_at": None if self.fails_at is None else t.format_value(self.fails_at.value),
            "fails_at_value": None if self.fails_at is None else self.fails_at.value}
        for side, probe in (("holds", self.holds_at), ("fails", self.fails_at)):
            e = probe.evidence if probe is not None else None
            row |= {f"{side}_estimate": e.estimate if e else None, f"{side}_low": e.low if e else None,
                    f"{side}_high": e.high if e else None, f"{side}_n": e.n if e else None}
        return row | {"probes": len(self.probes), "runs": self.runs}


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


Request = tuple[int, float, int]
"""One run a search needs: (search number, value of the searched key, seed)."""
RunBatch = Callable[[Sequence[Request]], list[Metrics]]
"""Runs a batch of requests (in one go, on any executor) and returns their metrics in the same order."""


def run_search(target: Target, searches: int, seeds: Sequence[int], sequential: Sequential,
               run_batch: RunBatch) -> list[tuple[list[Probe], Bracket]]:
    """Run ``searches`` bisections of ``target`` side by side: each round runs every open probe's next
    replications as one batch (``seeds``: at least ``sequential.budget`` of them, the same for every probe),
    decides the probes that can be decided and moves their searches on. Returns each search's probes (in the
    order it made them) and its bracket."""
    if len(seeds) < sequential.budget:
        raise ValueError(f"expected {sequential.budget} seeds, got {len(seeds)}")
    level = sequential.look_level(target.level)
    generators = [bisection(target) for _ in range(searches)]
    asked: dict[int, tuple[float, ...]] = {i: next(g) for i, g in enumerate(generators)}
    runs: dict[tuple[int, float], list[Metrics]] = {(i, v): [] for i, values in asked.items() for v in values}
    decided: dict[tuple[int, float], Probe] = {}
    probes: list[list[Probe]] = [[] for _ in range(searches)]
    brackets: list[Bracket] = [(None, None)] * searches
    while runs:
        requests = [(i, v, seeds[k]) for (i, v), done in runs.items()
                    for k in range(len(done), sequential.next_size(len(done)))]
        for (i, v, _), metrics in zip(requests, run_batch(requests), strict=True):
            runs[(i, v)].append(metrics)
        for (i, v), done in list(runs.items()):
            evidence = decide(target, done, level)
            if evidence.verdict != "undecided" or len(done) >= sequential.budget:
                looks = math.ceil(len(done) / sequential.step)
                decided[(i, v)] = probe = Probe(v, evidence, looks)
                probes[i].append(probe)
                del runs[(i, v)]
        for i in list(asked):
            if any((i, v) not in decided for v in asked[i]):
                continue
            try:
                asked[i] = generators[i].send(tuple(decided[(i, v)].holds for v in asked[i]))
            except StopIteration as done:
                brackets[i] = done.value
                del asked[i]
                continue
            for v in asked[i]:
                if (i, v) not in decided:  # bisection never asks twice; a repeat would reuse the verdict
                    runs[(i, v)] = []
    return [(found, bracket) for found, bracket in zip(probes, brackets, strict=True)]


def find_capacity(sweep: Sweep, executor: Executor | None = None, *, progress: bool = False) -> list[CapacityAnswer]:
    """Search the sweep's ``[target]`` for every combination of its factors other than the searched key,
    all searches advancing together (each round's probes run as one batch of replications). Every scenario
    at both ends of the range is validated before anything runs."""
    from sim.experiments.executors import run_tasks

    target = search_target(sweep.target, sweep.source)
    sweep.check()  # every scenario at both ends of the range, before anything runs
    key = str(target.search)
    contexts = sweep.points(exclude=key)
    sequential = budget(target, sweep.replications)
    seeds = replication_seeds(sweep.seed, sequential.budget)  # the sweep's seeds, then the next ones
    periods = (target.period_target(),) if target.per is not None else ()
    rounds = [0]

    def scenario(context: dict[str, Any], value: float) -> Scenario:
        return sweep.scenario_for({**context, key: target.scenario_value(value)}, where="target.search")

    def run_batch(requests: Sequence[Request]) -> list[Metrics]:
        rounds[0] += 1
        specs = [RunSpec.of(scenario(contexts[i], value), seed, sweep.jobs, sweep.warmup,
                            tuple(p for p in periods if p is not None)) for i, value, seed in requests]
        runs = run_tasks(run_replication, specs, executor, progress=progress,
                         description=f"capacity search, round {rounds[0]}")
        if rounds[0] == 1 and runs:
            target.check_metric(runs[0], sweep.source)
        return runs

    outcomes = run_search(target, len(contexts), seeds, sequential, run_batch)
    return [_answer(target, context, found, bracket, sequential.looks)
            for context, (found, bracket) in zip(contexts, outcomes, strict=True)]


def _answer(target: Target, context: dict[str, Any], probes: Sequence[Probe], bracket: Bracket,
            looks: int) -> CapacityAnswer:
    good, bad = bracket
    by_value = {p.value: p for p in probes}
    return CapacityAnswer(target, context, good, by_value.get(good) if good is not None else None,
                          by_value.get(bad) if bad is not None else None, tuple(probes), looks)


def grid_answers(target: Target, points: Sequence[Mapping[str, Any]], runs: Sequence[Sequence[Metrics]]) -> list[str]:
    """The target read off a sweep's grid (each point tested one-sided at the target's level with its runs,
    no more): for each combination of the other factors, the best level of the searched factor at which it
    holds, and whether that is where it stops holding or only the end of the grid (empty when the searched
    key is not a factor)."""
    if target.search is None or not points or target.search not in points[0]:
        return []
    groups: dict[tuple[tuple[str, Any], ...], list[tuple[float, Any, Evidence]]] = {}
    for point, point_runs in zip(points, runs, strict=True):
        context = tuple((k, v) for k, v in point.items() if k != target.search)
        level = point[target.search]
        try:
            position = numeric(level)
        except ValueError:  # levels that are not numbers have no order to read an answer off
            return []
        groups.setdefault(context, []).append((position, level, decide(target, point_runs, target.level)))
    return [_grid_line(target, context, levels) for context, levels in groups.items()]


def _grid_line(target: Target, context: tuple[tuple[str, Any], ...],
               levels: list[tuple[float, Any, Evidence]]) -> str:
    where = ", ".join(f"{k} = {v}" for k, v in context) or "the grid"
    levels = sorted(levels, key=lambda item: item[0], reverse=target.find == "min")  # easiest first
    holding = [item for item in levels if item[2].verdict == "holds"]
    if not holding:
        easiest, evidence = levels[0][1], levels[0][2]
        if evidence.verdict == "fails":
            return f"{where}: the target does not hold at any level of {target.search}"
        seen = (f"{evidence.misses} of {evidence.periods} periods missed" if target.on_misses
                else f"{target.metric} {format_metric(target.metric, evidence.estimate)}")
        return (f"{where}: not shown to hold at any level of {target.search}: at the easiest, {easiest}, {seen}, "
                f"too few runs to decide (stationsim capacity adds runs until it can)")
    # the best level that holds with every easier level holding too (monotone), and the next one
    prefix = 0
    while prefix < len(levels) and levels[prefix][2].verdict == "holds":
        prefix += 1
    if prefix == 0:
        return (f"{where}: the target does not hold at the easiest level, {levels[0][1]}, though it does at a "
                "harder one: the grid is too noisy to read (use stationsim capacity)")
    _, best, evidence = levels[prefix - 1]
    direction = "up to" if target.find == "max" else "down to"
    shown = (f"{format_share(evidence.estimate)} of periods missed" if target.on_misses
             else f"{target.metric} {format_metric(target.metric, evidence.estimate)}")
    if prefix == len(levels):
        return (f"{where}: holds at every level of the grid, {direction} {best} ({shown}); the "
                "grid does not reach where it stops holding")
    after = levels[prefix]
    state = "fails" if after[2].verdict == "fails" else "is not shown to hold"
    return (f"{where}: holds {direction} {best} ({shown}) and {state} at {after[1]}; the "
            "capacity lies between (stationsim capacity narrows it down)")
