"""The experiment subcommands of ``stationsim``: ``run --replications``, ``sweep``, ``capacity``
(``sim.experiments.replications``, ``sim.experiments.sweeps``, ``sim.experiments.capacity``) and ``compare``
(``sim.testing.comparison``). Each runs many simulations on an executor (local processes by default, or a Dask
cluster) and prints intervals, never one run's anecdote."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.args import UsageError, changes, count, duration, level, out_folder, positive, prepare_out, seed
from sim.simulation import load_scenario

if TYPE_CHECKING:  # the experiment layer is imported by the commands that use it, not by a single run
    from concurrent.futures import Executor

    import pandas as pd

    from sim.experiments.replications import PeriodTarget, Warmup
    from sim.experiments.sweeps import Sweep


def _add_experiment_options(parser: argparse.ArgumentParser, *, sweep: bool) -> None:
    if sweep:
        parser.add_argument("--factor", dest="factors", action="append", default=[], metavar="KEY=V1,V2,...",
                            help="vary a scenario key over these levels (TOML values, or bare words such as "
                            "300/h), replacing the sweep file's factor of the same key; may be repeated")
        parser.add_argument("--jobs", type=positive, metavar="N", help="jobs per run (default: the sweep's)")
        parser.add_argument("--seed", type=seed, metavar="S",
                            help="base seed of the replications (default: the sweep's)")
        parser.add_argument("--replications", type=positive, metavar="R", help="replications per point")
    warmup = parser.add_mutually_exclusive_group()
    warmup.add_argument("--warmup", type=duration, metavar="TIME",
                        help="delete from each run the jobs submitted before TIME (such as 2h)")
    warmup.add_argument("--warmup-jobs", type=count, metavar="N", help="delete each run's first N jobs")
    parser.add_argument("--processes", type=positive, metavar="N",
                        help="local worker processes (default: one per core; 1 runs in this process)")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run on the Dask distributed cluster whose scheduler is at ADDRESS (tcp://host:8786)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress (a bar on a terminal, otherwise a line every tenth of the runs)")


def add_experiment_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                             run: argparse.ArgumentParser) -> None:
    run.add_argument("--replications", type=positive, metavar="R",
                     help="run R independent replications and print every metric's mean and confidence interval")
    run.add_argument("--confidence", type=level, default=0.95, help="confidence level (default 0.95)")
    run.add_argument("--all", dest="all_metrics", action="store_true",
                     help="print every metric, not only the headline ones (--out always writes them all)")
    run.add_argument("--tail", metavar="METRIC<THRESHOLD",
                     help="the chance that a period's METRIC misses THRESHOLD, such as 'turnaround.p95<10min' "
                     "(a period's p95 of 10 min or more is a miss); the period is --per")
    run.add_argument("--per", type=duration, default=86400.0, metavar="PERIOD",
                     help="the period of --tail, such as 1h, 1d (default) or 1w")
    _add_experiment_options(run, sweep=False)
    sweep = commands.add_parser("sweep", help="run a sweep: every combination of the factors, R replications each")
    sweep.add_argument("sweep", type=Path, help="sweep TOML file (or a scenario file, with --factor)")
    sweep.add_argument("--out", type=out_folder, metavar="DIR", help="folder for sweep.sqlite and sweep.csv")
    sweep.add_argument("--show", action="append", default=[], metavar="METRIC",
                       help="a metric to print for every point and to draw (with --out), besides the target's and "
                       "a few headline ones; may be repeated")
    sweep.add_argument("--log", action="append", default=[], metavar="METRIC",
                       help="draw this metric on a log axis (ticked in its units); may be repeated")
    _add_experiment_options(sweep, sweep=True)
    capacity = commands.add_parser("capacity", help="search for the highest load (or fewest servers) at which the "
                                   "sweep file's [target] holds")
    capacity.add_argument("sweep", type=Path, help="sweep TOML file with a [target] table")
    capacity.add_argument("--out", type=out_folder, metavar="DIR",
                          help="folder for capacity.csv and capacity_probes.csv")
    _add_experiment_options(capacity, sweep=True)
    add_compare_command(commands)


def _warmup_of(args: argparse.Namespace) -> Warmup | None:
    from sim.experiments.replications import Warmup

    if args.warmup is not None:
        return Warmup(time=args.warmup)
    return Warmup(jobs=args.warmup_jobs) if args.warmup_jobs is not None else None


def _executor_name(args: argparse.Namespace) -> str:
    from sim.experiments.executors import cores

    if args.dask_scheduler:
        return f"Dask cluster {args.dask_scheduler}"
    processes = args.processes or cores()
    return "this process" if processes == 1 else f"{processes} local processes"


@contextlib.contextmanager
def _experiment(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor the options ask for; its errors and the experiments' become bad input (exit 2)."""
    import logging

    from sim.experiments.executors import ExecutorError, open_executor
    from sim.experiments.replications import ExperimentError

    try:
        with open_executor(args.processes, args.dask_scheduler) as executor:
            if args.dask_scheduler:  # a lost scheduler is reported in one line below, not by the client's log
                logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            yield executor
    except (ExecutorError, ExperimentError) as error:
        raise UsageError(str(error)) from None


def _interrupted() -> int:
    print("stationsim: interrupted; no results were written", file=sys.stderr)
    return 130


def _tail_of(args: argparse.Namespace) -> tuple[PeriodTarget, ...]:
    """``--tail METRIC<THRESHOLD`` (or ``>``) and ``--per``, as the per-period count each run makes."""
    from sim.experiments.replications import PeriodTarget
    from sim.results.periods import PeriodMetricError, check_period_metric
    from sim.scenario.units import parse_duration

    if args.tail is None:
        return ()
    below = "<" in args.tail
    metric, sep, limit = args.tail.partition("<" if below else ">")
    if not sep or not metric.strip() or not limit.strip():
        raise UsageError(f"--tail {args.tail}: expected METRIC<THRESHOLD or METRIC>THRESHOLD, such as "
                         "'turnaround.p95<10min'")
    try:
        check_period_metric(metric.strip())
        threshold = parse_duration(limit.strip())
    except (PeriodMetricError, ValueError) as error:
        raise UsageError(f"--tail {args.tail}: {error}") from None
    if not args.per > 0:
        raise UsageError(f"--per: expected a period such as 1d, got {args.per:g} s")
    return (PeriodTarget(metric.strip(), args.per, threshold, below),)


def run_replications(args: argparse.Namespace) -> int:
    from sim.experiments.executors import show_progress
    from sim.experiments.replications import (
        ExperimentError,
        Warmup,
        format_table,
        headline_rows,
        replicate,
        write_replications,
    )

    if args.replications is None:
        raise UsageError("--warmup, --warmup-jobs, --processes, --dask-scheduler, --all and --tail go with "
                         "--replications R")
    scenario = load_scenario(args.scenario)
    if args.changes:
        scenario = scenario.with_values(changes(args.changes))
    periods = _tail_of(args)
    out = prepare_out(args.out) if args.out else None
    warmup = _warmup_of(args) or Warmup()
    try:
        warmup.check(args.jobs or scenario.run.jobs)
    except ExperimentError as error:
        raise UsageError(f"--warmup-jobs: {error}") from None
    try:
        with _experiment(args) as executor:
            replications = replicate(scenario, args.replications, seed=args.seed, jobs=args.jobs, warmup=warmup,
                                     level=args.confidence, executor=executor, progress=show_progress(args.quiet),
                                     periods=periods)
    except KeyboardInterrupt:
        return _interrupted()
    written = write_replications(replications, out) if out is not None else ()
    jobs = args.jobs or scenario.run.jobs
    print(f"scenario {scenario.name}: {args.replications} replications of {jobs:,} jobs (seeds spawned from "
          f"{scenario.run.seed if args.seed is None else args.seed}), warm-up {warmup}, "
          f"{args.confidence:.0%} confidence intervals, on {_executor_name(args)}\n")
    rows = replications.rows()
    shown = rows if args.all_metrics else headline_rows(rows)
    print(format_table(shown, args.confidence))
    if len(shown) < len(rows):
        where = f" and in {written[1]}" if written else ""
        print(f"({len(rows) - len(shown)} more metrics with --all{where})")
    for period in periods:
        print("\n" + _tail_line(replications.runs, period, args.confidence))
    if written:
        print(f"\nwrote {written[0]} and {written[1]}")
    return 0


def _tail_line(runs: Sequence[Mapping[str, float]], period: PeriodTarget, level: float) -> str:
    from sim.experiments.replications import format_metric, miss_probability, period_label
    from sim.experiments.target import format_share

    count, misses, share, low, high = miss_probability(runs, period, level)
    miss = ">=" if period.below else "<="
    what = f"P(a {period_label(period.period)} period's {period.metric} {miss} " \
        f"{format_metric(period.metric, period.threshold)})"
    if count == 0:
        return (f"{what}: no whole {period_label(period.period)} period after the warm-up in any run; run more "
                "jobs or choose a shorter --per")
    worst = max(run.get(f"{period.prefix}.worst", math.nan) for run in runs)
    return (f"{what} = {format_share(share)}: {misses:,} of {count:,} periods over {len(runs)} runs, "
            f"{level:.0%} interval [{format_share(low)}, {format_share(high)}] (Clopper-Pearson, periods taken "
            f"as independent); the worst period's {period.metric}: {format_metric(period.metric, worst)}")


def _load_sweep(args: argparse.Namespace) -> Sweep:
    from sim.experiments.replications import ExperimentError
    from sim.experiments.sweeps import Sweep, parse_factor

    try:
        factors = [parse_factor(text) for text in args.factors]
    except ExperimentError as error:
        raise UsageError(str(error)) from None
    return Sweep.from_toml(args.sweep).with_changes(factors=factors, replications=args.replications, seed=args.seed,
                                                    jobs=args.jobs, warmup=_warmup_of(args))


def sweep(args: argparse.Namespace) -> int:
    from sim.experiments.capacity import grid_answers
    from sim.experiments.executors import show_progress
    from sim.experiments.sweeps import run_sweep, write_sweep

    sweep = _load_sweep(args)
    out = prepare_out(args.out) if args.out else None
    try:
        with _experiment(args) as executor:
            result = run_sweep(sweep, executor, progress=show_progress(args.quiet), executor_name=_executor_name(args))
    except KeyboardInterrupt:
        return _interrupted()
    written = write_sweep(result, out) if out is not None else ()
    figures = _sweep_figures(sweep, result.table(), out, args.show, args.log) if out is not None else []
    jobs = sweep.jobs or sweep.scenario.run.jobs
    points = f"{len(result.points)} point" + ("s" if len(result.points) != 1 else "")
    print(f"sweep {sweep.name}: {points} x {sweep.replications} replications of {jobs:,} jobs "
          f"(common seeds from {sweep.seed}), warm-up {sweep.warmup}, {sweep.level:.0%} confidence, "
          f"{result.wall_seconds:.1f} s on {_executor_name(args)}\n")
    print(result.report(args.show))
    if sweep.target is not None:
        answers = grid_answers(sweep.target, result.points, result.runs)
        if answers:
            print(f"\ntarget {sweep.target}, read off the grid:\n  " + "\n  ".join(answers))
    if written:
        print(f"\nwrote {written[0]} (tables sweep, points, replications, sweep_info) and {written[1]}")
    if figures:
        print(f"wrote {len(figures)} figures into {figures[0].parent}: {', '.join(p.name for p in figures)}")
    return 0


def _sweep_figures(sweep: Sweep, table: pd.DataFrame, out: Path, show: Sequence[str] = (),
                   log: Sequence[str] = ()) -> list[Path]:
    """The sweep's figures, one per metric: the target's (against its search key, with its threshold), each
    ``--show`` metric, and the headline ones; ``--log`` metrics on a log axis."""
    from sim.plots.sweeps import SWEEP_HEADLINES, write_sweep_figures

    target = sweep.target
    metrics = (*((target.metric,) if target is not None else ()), *show, *SWEEP_HEADLINES)
    x = target.search if target is not None and target.search in [f.key for f in sweep.factors] else None
    line = (target.metric, target.threshold) if target is not None and not target.on_misses else None
    return write_sweep_figures(table, [f.key for f in sweep.factors], out / "figures", metrics, x, line,
                               level=sweep.level, log=log)


def capacity(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.experiments.capacity import find_capacity, search_target
    from sim.experiments.executors import show_progress
    from sim.experiments.replications import write_csv

    sweep = _load_sweep(args)
    search_target(sweep.target, sweep.source)
    out = prepare_out(args.out) if args.out else None
    try:
        with _experiment(args) as executor:
            answers = find_capacity(sweep, executor, progress=show_progress(args.quiet))
    except KeyboardInterrupt:
        return _interrupted()
    written = None
    if out is not None:
        write_csv(out / "capacity_probes.csv", pd.DataFrame([row for a in answers for row in a.probe_rows()]))
        written = write_csv(out / "capacity.csv", pd.DataFrame([a.row() for a in answers]))
    jobs = sweep.jobs or sweep.scenario.run.jobs
    print(f"capacity search on {sweep.scenario.name}: {sweep.replications} replications of {jobs:,} jobs per probe "
          f"(common seeds from {sweep.seed}), warm-up {sweep.warmup}\n")
    print("\n\n".join(answer.describe() for answer in answers))
    if written is not None:
        print(f"\nwrote {written} and {written.with_name('capacity_probes.csv')}")
    return 0


# --- compare: two scheduling policies on common random numbers (sim.testing.comparison) -------------------------

def add_compare_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser("compare", help="compare two scheduling policies on paired replications (common "
                                  "random numbers): differences of the summary metrics with confidence intervals")
    compare.add_argument("scenario", type=Path, help="scenario TOML file")
    compare.add_argument("--policy", dest="policies", action="append", default=[], metavar="POLICY",
                         help="a built-in policy (fifo, priority, fair_share, ...), a variant the scenario defines "
                         "under [scheduler.variants], or a user's module:Class; give it twice: A, then B")
    compare.add_argument("--options", dest="options", action="append", default=[], metavar="A|B={...}",
                         help="the options of policy A or B as a TOML inline table, such as "
                         "B='{ slack = { interactive = \"30s\" } }' (default: those the scenario gives it, else "
                         "none); may be given for each")
    compare.add_argument("--metric", dest="metrics", action="append", default=[], metavar="NAME[={...}]",
                         help="an extra metric: deadline_misses='{ slack = { interactive = \"30s\" } }', "
                         "class_wait='{ job_class = \"batch\" }', or a user's module:function; may be repeated")
    compare.add_argument("--replications", type=positive, default=5, metavar="R",
                         help="paired replications (default 5, at least 2)")
    compare.add_argument("--jobs", type=positive, help="jobs per run (default: the scenario's run.jobs)")
    compare.add_argument("--seed", type=seed, help="base seed of the replications (default: the scenario's)")


def _inline_table(option: str, text: str) -> dict[str, object]:
    import tomllib

    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{option}: expected a TOML inline table such as '{{ step = \"5min\" }}', got {text!r} "
                         f"({error})") from None
    if not isinstance(value, dict):
        raise UsageError(f"{option}: expected a TOML inline table such as '{{ step = \"5min\" }}', got {text!r}")
    return value


def _policy_options(given: list[str], policies: list[str]) -> list[dict[str, object] | None]:
    """``--options A={...}`` / ``B={...}`` (or the policy's own name before the ``=``), per policy."""
    chosen: list[dict[str, object] | None] = [None, None]
    for entry in given:
        label, equals, text = entry.partition("=")
        side = {"A": 0, "B": 1}.get(label.strip())
        if side is None and label.strip() in policies:
            side = policies.index(label.strip())
        if not equals or side is None:
            raise UsageError(f"--options {entry!r}: expected A={{...}} or B={{...}} (the first or second --policy)")
        if chosen[side] is not None:
            raise UsageError(f"--options: policy {'AB'[side]} has options twice")
        chosen[side] = _inline_table(f"--options {'AB'[side]}", text)
    return chosen


def _extra_metrics(given: list[str]) -> dict[str, object]:
    from sim.testing.metrics import named_metrics

    extra: dict[str, object] = {}
    for entry in given:
        name, equals, text = entry.partition("=")
        options = _inline_table(f"--metric {name}", text) if equals else {}
        try:
            extra.update(named_metrics(name.strip(), options))
        except ValueError as error:
            raise UsageError(f"--metric {name.strip()}: {error}") from None
    return extra


def compare(args: argparse.Namespace) -> int:
    from sim.scenario.config import ScenarioError
    from sim.testing.comparison import compare  # the testing kit only when comparing
    from sim.testing.metrics import MetricError
    from sim.testing.running import with_policy

    if len(args.policies) != 2:
        raise UsageError(f"--policy: give exactly two policies to compare, such as --policy fifo --policy "
                         f"fair_share (got {len(args.policies)})")
    if args.replications < 2:
        raise UsageError("--replications: a paired comparison needs at least 2 replications")
    options = _policy_options(args.options, args.policies)
    metrics = _extra_metrics(args.metrics)
    scenario = load_scenario(args.scenario)
    for side, (policy, given) in enumerate(zip(args.policies, options, strict=True)):
        try:
            with_policy(scenario, policy, given)  # each side checked here, so that an error names its option
        except ScenarioError as error:
            if not error.key.startswith("scheduler.options"):
                raise
            key = error.key.removeprefix("scheduler.options").lstrip(".")
            raise UsageError(f"--options {'AB'[side]} (policy {policy}): {f'{key}: ' if key else ''}"
                             f"{error.message}") from None
    try:
        comparison = compare(scenario, *args.policies, replications=args.replications, jobs=args.jobs,
                             seed=args.seed, extra_metrics=metrics,  # type: ignore[arg-type]
                             a_options=options[0], b_options=options[1])
    except MetricError as error:
        raise UsageError(f"--metric {error}") from None
    print(comparison.table())
    return 0
