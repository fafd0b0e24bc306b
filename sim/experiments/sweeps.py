"""Sweeps: a base scenario and factors, expanded as a product, each point run with R replications.

A sweep file names a base scenario and the factors to vary (dotted scenario keys, as in
``Scenario.with_values``), each with a list of levels; the points of the sweep are every combination
(desmod's ``factorial_config``), the first factor varying slowest::

    scenario = "baseline.toml"          # relative to the sweep file
    replications = 5
    seed = 1                            # the base of the replication seeds (default: the scenario's run.seed)
    jobs = 5000                         # jobs per run (default: the scenario's run.jobs)
    warmup_jobs = 500                   # or warmup = "1h": what each run deletes from its start
    confidence = 0.95

    [factors]
    "hardware.instruments" = [1, 2, 3, 4]
    "arrivals.rate" = ["300/h", "600/h", "900/h", "1200/h"]

    [target]                            # optional: the capacity question (see sim.experiments.capacity)

Every point runs the *same* R seeds (common random numbers), so that differences between points come from
the factors rather than from luck. Every point's scenario is validated before anything runs. The result is a
tidy table, one row per point and metric, with the factor levels as columns (named by their dotted keys) and
``metric, mean, half_width, low, high, n``; ``write_sweep`` stores it, with the points and every
replication's value, in ``DIR/sweep.sqlite`` and ``DIR/sweep.csv``, each written whole at the end (an
interrupted sweep leaves no table behind).
"""

from __future__ import annotations

import itertools
import time
import tomllib
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.experiments.capacity import Target, confidence_level, parse_target
from sim.experiments.replications import (
    TABLE_COLUMNS,
    ExperimentError,
    Metrics,
    RunSpec,
    Warmup,
    format_metric,
    interval_row,
    intervals,
    metric_names,
    metric_values,
    run_replication,
    write_csv,
    write_tables,
)
from sim.scenario.config import ScenarioError, Table, integer, text
from sim.scenario.scenario import Scenario
from sim.scenario.streams import replication_seeds
from sim.scenario.units import parse_duration

if TYPE_CHECKING:
    import pandas as pd

SWEEP_KEYS = ("name", "scenario", "replications", "seed", "jobs", "warmup", "warmup_jobs", "confidence",
              "factors", "target")
HEADLINE = ("turnaround.mean", "turnaround.p95", "stages.execution.wait.p95", "stages.execution.utilisation",
            "throughput_per_hour")
"""The metrics ``SweepResult.report`` shows by default."""


@dataclass(frozen=True)
class Factor:
    """A scenario key and the levels it takes in the sweep."""

    key: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Sweep:
    """A validated sweep: base scenario, factors, replications, seeds, warm-up and an optional target."""

    scenario: Scenario
    factors: tuple[Factor, ...] = ()
    replications: int = 5
    seed: int = 0
    jobs: int | None = None
    warmup: Warmup = field(default_factory=Warmup)
    level: float = 0.95
    target: Target | None = None
    source: str = "<sweep>"
    name: str = "sweep"

    @classmethod
    def from_toml(cls, path: str | Path) -> Sweep:
        """Read and validate a sweep file; a scenario file is taken as a sweep of that scenario without
        factors (give them with ``with_changes``)."""
        path = Path(path)
        data = _read(path)
        if "scenario" not in data:
            scenario = Scenario.from_toml(path)
            return cls(scenario, seed=scenario.run.seed, source=str(path), name=path.stem)
        return cls.from_dict(data, source=str(path), folder=path.parent, name=path.stem)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<sweep>", folder: Path = Path(),
                  name: str = "sweep") -> Sweep:
        """Validate a sweep given as the TOML structure; ``scenario`` is a path relative to ``folder``."""
        table = Table(source, "", data)
        for key in data:
            if key not in SWEEP_KEYS:
                raise table.error(key, f"unknown key; expected one of {', '.join(SWEEP_KEYS)}")
        if not isinstance(data.get("scenario"), str) or not data["scenario"]:
            raise table.error("scenario", "expected the path of the base scenario file, relative to this file")
        scenario = Scenario.from_toml(folder / data["scenario"])
        level = table.parse("confidence", confidence_level) if "confidence" in data else 0.95
        sweep = cls(
            scenario=scenario,
            factors=_factors(table.table("factors")),
            replications=table.parse("replications", integer(1)) if "replications" in data else 5,
            seed=table.parse("seed", integer(0)) if "seed" in data else scenario.run.seed,
            jobs=table.parse("jobs", integer(1)) if "jobs" in data else None,
            warmup=_warmup(table),
            level=level,
            target=parse_target(table.table("target"), level) if "target" in data else None,
            source=source, name=table.parse("name", text) if "name" in data else name)
        sweep.check()
        return sweep

    def with_changes(self, *, factors: Sequence[Factor] = (), replications: int | None = None,
                     seed: int | None = None, jobs: int | None = None, warmup: Warmup | None = None,
                     target: Target | None = None, only: bool = False) -> Sweep:
        """The sweep with settings overridden (as the command line does); a factor replaces the factor of the
        same key or is added last (with ``only``, the given factors replace them all). Validated again."""
        merged = {} if only else {f.key: f for f in self.factors}
        merged |= {f.key: f for f in factors}
        sweep = replace(self, factors=tuple(merged.values()),
                        replications=self.replications if replications is None else replications,
                        seed=self.seed if seed is None else seed, jobs=self.jobs if jobs is None else jobs,
                        warmup=self.warmup if warmup is None else warmup,
                        target=self.target if target is None else target)
        sweep.check()
        return sweep

    def points(self, exclude: str | None = None) -> list[dict[str, Any]]:
        """Every combination of the factors' levels (of the factors other than ``exclude``)."""
        factors = [f for f in self.factors if f.key != exclude]
        return [dict(zip((f.key for f in factors), levels, strict=True))
                for levels in itertools.product(*(f.values for f in factors))]

    def seeds(self) -> list[int]:
        """The replication seeds, the same at every point (common random numbers)."""
        return replication_seeds(self.seed, self.replications)

    def scenario_for(self, changes: Mapping[str, Any], where: str | None = None) -> Scenario:
        """The base scenario with ``changes``; a ``ScenarioError`` names the sweep file and the factor."""
        try:
            return self.scenario.with_values(changes)
        except ScenarioError as error:
            (key, value), *others = changes.items()
            if others:
                where = where or "factors"
                shown = "the point " + ", ".join(f"{k} = {v!r}" for k, v in changes.items())
            else:
                where = where or f'factors."{key}"'
                shown = f"level {value!r}"
            inner = error.message if error.key in ("", key) else f"{error.key}: {error.message}"
            base = "" if error.source == self.source else f" (in the base scenario {error.source})"
            raise ScenarioError(self.source, where, f"{shown}: {inner}{base}") from None

    def point_scenarios(self) -> list[Scenario]:
        """The validated scenario of every point: each level alone first (to name the culprit), then every
        combination."""
        for factor in self.factors:
            for value in factor.values:
                self.scenario_for({factor.key: value})
        return [self.scenario_for(point) for point in self.points()]

    def check(self) -> None:
        """Raise ``ScenarioError`` (naming the sweep file) for anything that would fail once running."""
        try:
            self.warmup.check(self.jobs if self.jobs is not None else self.scenario.run.jobs)
        except ExperimentError as error:
            raise ScenarioError(self.source, "warmup_jobs", str(error)) from None
        self.point_scenarios()
        if self.target is not None and self.target.search is not None:
            for point in self.points(exclude=self.target.search):
                for end in (self.target.low, self.target.high):
                    self.scenario_for({**point, self.target.search: self.target.scenario_value(end)},
                                      where="target.search")


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(str(path), "", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(str(path), "", f"cannot read the file ({error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(str(path), "", f"not valid TOML ({error})") from None


def _factors(table: Table) -> tuple[Factor, ...]:
    factors = []
    for key, values in table.data.items():
        if not isinstance(values, list) or not values:
            raise table.error(f'"{key}"', f"expected a non-empty list of levels, got {values!r}")
        if len({repr(v) for v in values}) != len(values):
            raise table.error(f'"{key}"', f"a level appears twice in {values!r}")
        factors.append(Factor(key, tuple(values)))
    return tuple(factors)


def _warmup(table: Table) -> Warmup:
    if "warmup" in table.data and "warmup_jobs" in table.data:
        raise table.error("warmup", "give either warmup (a time) or warmup_jobs, not both")
    if "warmup" in table.data:
        return Warmup(time=table.parse("warmup", parse_duration))
    return Warmup(jobs=table.parse("warmup_jobs", integer(0))) if "warmup_jobs" in table.data else Warmup()


def parse_factor(text: str) -> Factor:
    """A command-line factor ``KEY=V1,V2,...``; each level is a TOML value or, failing that, a bare word
    (``arrivals.rate=300/h,600/h``)."""
    key, sep, levels = text.partition("=")
    if not sep or not key.strip() or not levels.strip():
        raise ExperimentError(f"--factor {text}: expected KEY=V1,V2,..., such as stages.compilation.workers=1,2,4")
    try:
        values = tomllib.loads(f"v = [{levels}]")["v"]
    except tomllib.TOMLDecodeError:
        values = [_toml_or_word(level.strip()) for level in levels.split(",")]
    if len({repr(v) for v in values}) != len(values):
        raise ExperimentError(f"--factor {text}: a level appears twice")
    return Factor(key.strip(), tuple(values))


def _toml_or_word(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


# --- running ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepResult:
    """Every replication's metrics at every point of a sweep, and the tidy tables made from them."""

    sweep: Sweep
    points: tuple[dict[str, Any], ...]
    scenarios: tuple[Scenario, ...]
    seeds: tuple[int, ...]
    runs: tuple[tuple[Metrics, ...], ...]
    """``runs[point][replication]``: one dict of metrics per run."""
    started_at: str = ""
    wall_seconds: float = 0.0
    executor: str = ""
    metrics: tuple[str, ...] = field(default=(), compare=False)

    def metric_names(self) -> list[str]:
        return list(self.metrics) or metric_names([run for point in self.runs for run in point])

    def rows(self) -> list[dict[str, Any]]:
        """The tidy table's rows: factor levels, then metric, mean, half_width, low, high, n."""
        names = self.metric_names()
        return [{**point, **interval_row(name, estimate)}
                for point, point_runs in zip(self.points, self.runs, strict=True)
                for name, estimate in intervals(point_runs, self.sweep.level, names).items()]

    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=[*(f.key for f in self.sweep.factors), *TABLE_COLUMNS])

    def points_table(self) -> pd.DataFrame:
        """One row per point: its index, factor levels and validated scenario (JSON)."""
        import pandas as pd

        return pd.DataFrame([{"point": i, **point, "scenario_json": scenario.to_json()}
                             for i, (point, scenario) in enumerate(zip(self.points, self.scenarios, strict=True))])

    def values_table(self) -> pd.DataFrame:
        """Every run's value of every metric: point, replication, seed, metric, value (for paired comparisons
        across points, which share their seeds)."""
        import pandas as pd

        names = self.metric_names()
        rows = [(p, r, seed, name, value) for p, point_runs in enumerate(self.runs) for name in names
                for r, (seed, value) in enumerate(zip(self.seeds, metric_values(point_runs, name), strict=True))]
        return pd.DataFrame(rows, columns=["point", "replication", "seed", "metric", "value"])

    def info(self) -> dict[str, Any]:
        """The sweep's settings and outcome: one row of the ``sweep_info`` table."""
        from sim import __version__

        s = self.sweep
        return {"name": s.name, "sweep_file": s.source, "scenario": s.scenario.source, "points": len(self.points),
                "replications": s.replications, "seed": s.seed, "jobs": s.jobs or s.scenario.run.jobs,
                "warmup": str(s.warmup), "confidence": s.level, "executor": self.executor,
                "started_at": self.started_at, "finished_at": _now(), "wall_seconds": self.wall_seconds,
                "version": __version__, "complete": 1}

    def report(self, metrics: Sequence[str] = ()) -> str:
        """One line per point: its factor levels and the mean +- CI half-width of the target's metric,
        ``metrics`` and the headline ones."""
        target = [self.sweep.target.metric] if self.sweep.target and not self.sweep.target.on_misses else []
        names = list(dict.fromkeys([*target, *metrics, *HEADLINE]))
        keys = [f.key for f in self.sweep.factors]
        cells = [[str(point[k]) for k in keys] + [
            f"{format_metric(n, e.mean)} +- {format_metric(n, e.half_width)}"
            for n, e in intervals(point_runs, self.sweep.level, names).items()]
            for point, point_runs in zip(self.points, self.runs, strict=True)]
        header = keys + names
        widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
        return "\n".join(lines)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_sweep(sweep: Sweep, executor: Executor | None = None, *, progress: bool = False,
              executor_name: str = "") -> SweepResult:
    """Run every point's replications on ``executor`` (default: in this process) and collect the metrics."""
    from sim.experiments.executors import run_tasks

    scenarios = sweep.point_scenarios()
    seeds = sweep.seeds()
    target = sweep.target
    period = target.period_target() if target is not None else None
    periods = (period,) if period is not None else ()  # a miss-probability target: each run counts its periods
    specs = [RunSpec.of(scenario, seed, sweep.jobs, sweep.warmup, periods) for scenario in scenarios
             for seed in seeds]
    check = (lambda metrics: target.check_metric(metrics, sweep.source)) if target is not None else None
    started, clock = _now(), time.perf_counter()
    flat = run_tasks(run_replication, specs, executor, progress=progress, description=sweep.name, check=check)
    runs = tuple(tuple(flat[i:i + len(seeds)]) for i in range(0, len(flat), len(seeds)))
    return SweepResult(sweep, tuple(sweep.points()), tuple(scenarios), tuple(seeds), runs, started,
                       time.perf_counter() - clock, executor_name, tuple(metric_names(flat)))


def write_sweep(result: SweepResult, out: Path) -> tuple[Path, Path]:
    """Write ``out/sweep.sqlite`` (tables ``sweep``: the tidy table; ``points``; ``replications``: every run's
    value; ``sweep_info``: settings, with ``complete = 1``) and ``out/sweep.csv`` (the tidy table); each file
    appears whole or not at all, and only after the whole sweep has run."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    table = result.table()
    database = write_tables(out / "sweep.sqlite", {
        "sweep": table, "points": result.points_table(), "replications": result.values_table(),
        "sweep_info": pd.DataFrame([result.info()])})
    return database, write_csv(out / "sweep.csv", table)
