"""The ``stationsim`` command line.

    stationsim run SCENARIO [--jobs N] [--seed S] [--out DIR] [--set KEY=VALUE ...]
                                                                run one simulation, print the per-stage table
    stationsim validate SCENARIO                                check a scenario file without running it
    stationsim report DIR [--run-id N]                          summarise stored runs, saying which are incomplete
                          [--figures FIGDIR | --no-figures]     and write each complete run's figures as PNG
                                                                into FIGDIR/run-N/ (default DIR/figures/run-N/)
    stationsim run SCENARIO --replications R [--warmup TIME | --warmup-jobs N] [--confidence C]
                                                                R replications: every metric with its interval
    stationsim sweep SWEEP [--out DIR] [--factor KEY=V1,V2 ...] run a sweep: sweep.sqlite and sweep.csv
    stationsim capacity SWEEP [--out DIR]                       search for the capacity at which [target] holds
    (replications, sweep and capacity take --processes N, --dask-scheduler ADDRESS and --quiet)
    stationsim compare SCENARIO --policy A --policy B [--replications R] [--jobs N] [--seed S]
                                                                paired comparison of two scheduling policies

Bad input (a missing file, bad TOML, an unknown key, a wrong type, a bad value) prints one line naming the
file, the key and what was expected, and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sqlite3
import sys
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path

from sim.config import ScenarioError
from sim.experiments import ExperimentError, Warmup
from sim.metrics import summarize
from sim.report import summary_table, write_summary_json
from sim.results import RunResult
from sim.simulation import load_scenario, simulate
from sim.store import load_run, run_ids, run_info
from sim.sweeps import Sweep, parse_factor

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input given on the command line itself."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of zero or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    from sim import __version__

    parser = argparse.ArgumentParser(prog="stationsim", description="Discrete-event simulation of a quantum "
                                     "computer's job-execution service (IQM Station Control's job executor).")
    parser.add_argument("--version", action="version", version=f"stationsim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one simulation and print the per-stage summary")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--jobs", type=_positive_int, help="jobs to submit (default: the scenario's run.jobs)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's run.seed)")
    run.add_argument("--out", type=Path, help="folder for results.sqlite and summary.json")
    run.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                     help="change a scenario key, such as --set restarts.policy=requeue (VALUE in TOML syntax; "
                     "a bare word is a string); may be repeated")
    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path, help="scenario TOML file")
    report = commands.add_parser("report", help="summarise the runs in a results folder (or database file)")
    report.add_argument("results", type=Path, help="a folder written by run --out, or its results.sqlite")
    report.add_argument("--run-id", type=_positive_int, help="only this run (default: every run)")
    report.add_argument("--figures", type=Path, metavar="DIR", help="folder for each complete run's figures, as "
                        "PNG files in DIR/run-N/ (default: a figures folder next to the results database)")
    report.add_argument("--no-figures", action="store_true", help="print the tables only, write no figures")
    _add_experiment_commands(commands, run)
    _add_compare_command(commands)
    return parser


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out: expected a folder, but this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{out}: --out: cannot make this folder ({error.strerror})") from None
    return out


def _changes(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs with VALUE read as a TOML value (a bare word as a string)."""
    changes: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair}: expected KEY=VALUE, such as restarts.policy=requeue")
        try:
            changes[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            changes[key.strip()] = text
    return changes


def _run(args: argparse.Namespace) -> int:
    if any(getattr(args, name) is not None for name in ("replications", "warmup", "warmup_jobs", "processes",
                                                         "dask_scheduler")):
        return _run_replications(args)
    scenario = load_scenario(args.scenario)
    if args.changes:
        scenario = scenario.with_values(_changes(args.changes))
    out = _prepare_out(args.out) if args.out else None
    result = simulate(scenario, seed=args.seed, jobs=args.jobs, store=out / "results.sqlite" if out else None)
    summary = result.summary()
    print(summary_table(summary))
    if out is not None:
        write_summary_json(summary, out / "summary.json")
        print(f"\nwrote {out / 'results.sqlite'} and {out / 'summary.json'}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    devices = ", ".join(d.name for d in scenario.hardware.devices)
    print(f"{args.scenario}: valid scenario {scenario.name!r}: {scenario.run.jobs:,} jobs, "
          f"{len(scenario.workload)} job classes, policy {scenario.scheduler.policy}, instruments: {devices}")
    return 0


def _open_results(path: Path) -> sqlite3.Connection:
    database = path / "results.sqlite" if path.is_dir() else path
    if not database.is_file():
        raise UsageError(f"{database}: no results database here (expected a folder written by run --out)")
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        run_ids(connection)
    except sqlite3.DatabaseError as error:
        raise UsageError(f"{database}: not a results database ({error})") from None
    return connection


def _report(args: argparse.Namespace) -> int:
    connection = _open_results(args.results)
    try:
        ids = run_ids(connection)
        if args.run_id is not None:
            if args.run_id not in ids:
                raise UsageError(f"{args.results}: --run-id: no run {args.run_id}; the runs are {ids}")
            ids = [args.run_id]
        for run_id in ids:
            info = run_info(connection, run_id)
            result = load_run(connection, run_id)
            written = connection.execute("SELECT COUNT(*) FROM jobs WHERE run_id = ?", (run_id,)).fetchone()[0]
            state = "complete" if info["complete"] else (
                f"INCOMPLETE: the run did not finish; {written:,} of {info['jobs']:,} jobs were written")
            print(f"run {run_id} ({state}), started {info['started_at']}")
            print(summary_table(summarize(result)) + "\n")
            if not args.no_figures:
                _report_figures(result, args, run_id, complete=bool(info["complete"]))
    finally:
        connection.close()
    return 0


def _report_figures(result: RunResult, args: argparse.Namespace, run_id: int, complete: bool) -> None:
    """Write a complete run's figures into FIGURES/run-N/ (FIGURES: --figures, or figures/ beside the database);
    an incomplete run gets none, so that no partial results pass for complete ones."""
    if not complete:
        print(f"no figures for run {run_id}: it is incomplete\n")
        return
    from sim.plots import write_report_figures  # matplotlib only when figures are wanted

    results = args.results if args.results.is_dir() else args.results.parent
    folder = (args.figures if args.figures is not None else results / "figures") / f"run-{run_id}"
    try:
        paths = write_report_figures(result, folder)
    except OSError as error:
        raise UsageError(f"{folder}: --figures: cannot write figures here ({error.strerror or error})") from None
    print(f"wrote {len(paths)} figures of run {run_id} into {folder}: {', '.join(p.name for p in paths)}\n")


# --- experiments: replications, sweeps and the capacity search (sim.experiments, sim.sweeps, sim.capacity) ------

def _duration_arg(text: str) -> float:
    from sim.units import parse_duration

    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of zero or more, got {value}")
    return value


def _level_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a confidence level between 0 and 1, such as 0.95, got {text!r}")
    return value


def _add_experiment_options(parser: argparse.ArgumentParser, *, sweep: bool) -> None:
    if sweep:
        parser.add_argument("--factor", dest="factors", action="append", default=[], metavar="KEY=V1,V2,...",
                            help="vary a scenario key over these levels (TOML values, or bare words such as "
                            "300/h), replacing the sweep file's factor of the same key; may be repeated")
        parser.add_argument("--jobs", type=_positive_int, metavar="N", help="jobs per run (default: the sweep's)")
        parser.add_argument("--seed", type=_seed, metavar="S",
                            help="base seed of the replications (default: the sweep's)")
        parser.add_argument("--replications", type=_positive_int, metavar="R", help="replications per point")
    warmup = parser.add_mutually_exclusive_group()
    warmup.add_argument("--warmup", type=_duration_arg, metavar="TIME",
                        help="delete from each run the jobs submitted before TIME (such as 2h)")
    warmup.add_argument("--warmup-jobs", type=_count_arg, metavar="N", help="delete each run's first N jobs")
    parser.add_argument("--processes", type=_positive_int, metavar="N",
                        help="local worker processes (default: one per core; 1 runs in this process)")
    parser.add_argument("--dask-scheduler", metavar="ADDRESS",
                        help="run on the Dask distributed cluster whose scheduler is at ADDRESS (tcp://host:8786)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_experiment_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser],
                             run: argparse.ArgumentParser) -> None:
    run.add_argument("--replications", type=_positive_int, metavar="R",
                     help="run R independent replications and print every metric's mean and confidence interval")
    run.add_argument("--confidence", type=_level_arg, default=0.95, help="confidence level (default 0.95)")
    _add_experiment_options(run, sweep=False)
    sweep = commands.add_parser("sweep", help="run a sweep: every combination of the factors, R replications each")
    sweep.add_argument("sweep", type=Path, help="sweep TOML file (or a scenario file, with --factor)")
    sweep.add_argument("--out", type=Path, metavar="DIR", help="folder for sweep.sqlite and sweep.csv")
    sweep.add_argument("--show", action="append", default=[], metavar="METRIC",
                       help="a metric to print for every point (default: the target's and a few headline ones)")
    _add_experiment_options(sweep, sweep=True)
    capacity = commands.add_parser("capacity", help="search for the highest load (or fewest servers) at which the "
                                   "sweep file's [target] holds")
    capacity.add_argument("sweep", type=Path, help="sweep TOML file with a [target] table")
    capacity.add_argument("--out", type=Path, metavar="DIR", help="folder for capacity.csv and capacity_probes.csv")
    _add_experiment_options(capacity, sweep=True)


def _warmup_of(args: argparse.Namespace) -> Warmup | None:
    if args.warmup is not None:
        return Warmup(time=args.warmup)
    return Warmup(jobs=args.warmup_jobs) if args.warmup_jobs is not None else None


def _executor_name(args: argparse.Namespace) -> str:
    from sim.executors import cores

    if args.dask_scheduler:
        return f"Dask cluster {args.dask_scheduler}"
    processes = args.processes or cores()
    return "this process" if processes == 1 else f"{processes} local processes"


@contextlib.contextmanager
def _experiment(args: argparse.Namespace) -> Iterator[Executor]:
    """The executor the options ask for; its errors and the experiments' become bad input (exit 2)."""
    from sim.executors import ExecutorError, open_executor

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


def _run_replications(args: argparse.Namespace) -> int:
    from sim.executors import show_progress
    from sim.experiments import format_table, replicate, write_replications

    if args.replications is None:
        raise UsageError("--warmup, --warmup-jobs, --processes and --dask-scheduler go with --replications R")
    scenario = load_scenario(args.scenario)
    if args.changes:
        scenario = scenario.with_values(_changes(args.changes))
    out = _prepare_out(args.out) if args.out else None
    warmup = _warmup_of(args) or Warmup()
    try:
        warmup.check(args.jobs or scenario.run.jobs)
    except ExperimentError as error:
        raise UsageError(f"--warmup-jobs: {error}") from None
    try:
        with _experiment(args) as executor:
            replications = replicate(scenario, args.replications, seed=args.seed, jobs=args.jobs, warmup=warmup,
                                     level=args.confidence, executor=executor, progress=show_progress(args.quiet))
    except KeyboardInterrupt:
        return _interrupted()
    written = write_replications(replications, out) if out is not None else ()
    jobs = args.jobs or scenario.run.jobs
    print(f"scenario {scenario.name}: {args.replications} replications of {jobs:,} jobs (seeds spawned from "
          f"{scenario.run.seed if args.seed is None else args.seed}), warm-up {warmup}, "
          f"{args.confidence:.0%} confidence intervals, on {_executor_name(args)}\n")
    print(format_table(replications.rows()))
    if written:
        print(f"\nwrote {written[0]} and {written[1]}")
    return 0


def _load_sweep(args: argparse.Namespace) -> Sweep:
    try:
        factors = [parse_factor(text) for text in args.factors]
    except ExperimentError as error:
        raise UsageError(str(error)) from None
    return Sweep.from_toml(args.sweep).with_changes(factors=factors, replications=args.replications, seed=args.seed,
                                                    jobs=args.jobs, warmup=_warmup_of(args))


def _sweep(args: argparse.Namespace) -> int:
    from sim.capacity import grid_answers
    from sim.executors import show_progress
    from sim.sweeps import run_sweep, write_sweep

    sweep = _load_sweep(args)
    out = _prepare_out(args.out) if args.out else None
    try:
        with _experiment(args) as executor:
            result = run_sweep(sweep, executor, progress=show_progress(args.quiet), executor_name=_executor_name(args))
    except KeyboardInterrupt:
        return _interrupted()
    written = write_sweep(result, out) if out is not None else ()
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
    return 0


def _capacity(args: argparse.Namespace) -> int:
    import pandas as pd

    from sim.capacity import find_capacity, search_target
    from sim.executors import show_progress
    from sim.experiments import write_csv

    sweep = _load_sweep(args)
    search_target(sweep)
    out = _prepare_out(args.out) if args.out else None
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

def _add_compare_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    compare = commands.add_parser("compare", help="compare two scheduling policies on paired replications (common "
                                  "random numbers): differences of the summary metrics with confidence intervals")
    compare.add_argument("scenario", type=Path, help="scenario TOML file")
    compare.add_argument("--policy", dest="policies", action="append", default=[], metavar="POLICY",
                         help="a built-in policy (fifo, priority, fair_share, ...), a variant the scenario defines "
                         "under [scheduler.variants], or a user's module:Class; give it twice: A, then B")
    compare.add_argument("--replications", type=_positive_int, default=5, metavar="R",
                         help="paired replications (default 5, at least 2)")
    compare.add_argument("--jobs", type=_positive_int, help="jobs per run (default: the scenario's run.jobs)")
    compare.add_argument("--seed", type=_seed, help="base seed of the replications (default: the scenario's)")


def _compare(args: argparse.Namespace) -> int:
    from sim.testing.comparison import compare  # the testing kit only when comparing

    if len(args.policies) != 2:
        raise UsageError(f"--policy: give exactly two policies to compare, such as --policy fifo --policy "
                         f"fair_share (got {len(args.policies)})")
    if args.replications < 2:
        raise UsageError("--replications: a paired comparison needs at least 2 replications")
    comparison = compare(load_scenario(args.scenario), *args.policies, replications=args.replications,
                         jobs=args.jobs, seed=args.seed)
    print(comparison.table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "validate": _validate, "report": _report, "sweep": _sweep, "capacity": _capacity,
                "compare": _compare}
    try:
        return handlers[args.command](args)
    except (ScenarioError, UsageError) as error:
        print(f"stationsim: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def entry_point() -> None:
    try:
        sys.exit(main())
    except BrokenPipeError:  # the reader of our output went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
