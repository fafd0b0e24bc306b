"""The ``stationsim`` command line.

    stationsim run SCENARIO [--jobs N] [--seed S] [--out DIR] [--set KEY=VALUE ...]
                                                                run one simulation, print the per-stage table
    stationsim validate FILE                                    check a scenario or sweep file without running it
    stationsim report PATH [--run-id N]                         what a folder written by run --out, run
                           [--figures FIGDIR | --no-figures]    --replications --out, sweep --out or capacity
                                                                --out holds; of runs, the tables (saying which
                                                                are incomplete) and figures in FIGDIR/run-N/
    stationsim run SCENARIO --replications R [--warmup TIME | --warmup-jobs N] [--confidence C]
                                                                R replications: every metric with its interval
    stationsim sweep SWEEP [--out DIR] [--factor KEY=V1,V2 ...] run a sweep: sweep.sqlite and sweep.csv
    stationsim capacity SWEEP [--out DIR]                       search for the capacity at which [target] holds
    (replications, sweep and capacity take --processes N, --dask-scheduler ADDRESS and --quiet)
    stationsim compare SCENARIO --policy A --policy B [--replications R] [--jobs N] [--seed S]
                                                                paired comparison of two scheduling policies
    stationsim serve SCENARIO [--host H] [--port P] [--speed X] [--out DIR] [--token T] [--no-background]
                                                                the station over IQM's HTTP API (sim.cli.serve)

Bad input (a missing file, bad TOML, an unknown key, a wrong type, a bad value) prints one line naming the
file, the key and what was expected, and exits with status 2, without a traceback; so does every output
failure of ``run --out`` (see ``sim.cli.output``). Ctrl-C exits 130 and SIGTERM 143, each with one line saying
what the run left.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.args import UsageError, changes, out_folder, positive, seed
from sim.cli.experiments import add_experiment_commands, capacity, compare, run_replications, sweep
from sim.cli.fit import FIT_COMMANDS, add_fit_commands
from sim.cli.output import (
    RunOutput,
    Terminated,
    check_memory,
    check_run_out,
    interrupted,
    stopped_run,
    terminate_cleanly,
    write_json,
)
from sim.cli.report import summary_json, summary_table
from sim.cli.serve import SERVE_COMMANDS, add_serve_command
from sim.model.service import NoProgress
from sim.policies import PolicyError
from sim.scenario.config import ScenarioError
from sim.scenario.scheduler import with_policy_reset
from sim.simulation import load_scenario, simulate

if TYPE_CHECKING:
    from sim.results.run import RunResult
    from sim.scenario.scenario import Scenario

EXIT_BAD_INPUT = 2


class _VersionAction(argparse.Action):
    """``--version``: reads the installed version only when asked (importlib.metadata is slow to import)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest=dest, nargs=0, help="show the program's version number and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from sim import __version__

        print(f"stationsim {__version__}")  # on stdout, as argparse's own version action does
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stationsim", description="Discrete-event simulation of a quantum "
                                     "computer's job-execution service (IQM Station Control's job executor).")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one simulation and print the per-stage summary")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--jobs", type=positive, help="jobs to submit (default: the scenario's run.jobs)")
    run.add_argument("--seed", type=seed, help="random seed (default: the scenario's run.seed)")
    run.add_argument("--out", type=out_folder, help="folder for results.sqlite and summary.json")
    run.add_argument("--by-user", action="store_true", help="each user's waits, services and turnaround too "
                     "(in the table and summary.json)")
    run.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                     help="change a scenario key, such as --set restarts.policy=requeue (VALUE in TOML syntax; "
                     "a bare word is a string); may be repeated")
    validate = commands.add_parser("validate", help="check a scenario or sweep file without running it")
    validate.add_argument("scenario", type=Path, help="scenario or sweep TOML file")
    report = commands.add_parser("report", help="summarise what a results folder holds (runs, replications, a "
                                 "sweep, a capacity search)")
    report.add_argument("results", type=Path, help="a folder written by run --out, run --replications --out, "
                        "sweep --out or capacity --out, or one of its files")
    report.add_argument("--run-id", type=positive, help="only this run (default: every run)")
    report.add_argument("--figures", type=Path, metavar="DIR", help="folder for each run's figures, as PNG files "
                        "in DIR/run-N/ (default: a figures folder next to the results database)")
    report.add_argument("--no-figures", action="store_true", help="print the tables only, write no figures")
    add_experiment_commands(commands, run)
    add_fit_commands(commands)
    add_serve_command(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    if any(getattr(args, name) is not None for name in ("replications", "warmup", "warmup_jobs", "processes",
                                                         "dask_scheduler", "tail")) or args.all_metrics:
        return run_replications(args)  # (which refuses these options without --replications)
    scenario = load_scenario(args.scenario)
    if args.changes:
        scenario = scenario.with_values(with_policy_reset(scenario.scheduler.policy, changes(args.changes)))
    check_memory(args.jobs or scenario.run.jobs)
    output = check_run_out(args.out) if args.out is not None else None
    try:
        return _run_and_write(scenario, args, output)
    except PolicyError as error:  # the scheduling policy raised, broke the protocol or stalled the station
        kept = f"; {stopped_run(output)}" if output is not None else ""
        raise UsageError(f"{error}{kept}") from None
    except NoProgress as error:
        kept = f"; {stopped_run(output)}" if output is not None else ""
        raise UsageError(f"{args.scenario}: the station makes no progress: {error}{kept}") from None
    except KeyboardInterrupt:
        return interrupted(output, signal.SIGINT)
    except Terminated:
        return interrupted(output, signal.SIGTERM)


def _run_and_write(scenario: Scenario, args: argparse.Namespace, output: RunOutput | None) -> int:
    result = _simulate(scenario, args, output)
    summary = result.summary(by_user=args.by_user)
    print(summary_table(summary))
    if output is not None:
        write_json(output.summary, summary_json(result, summary, output.database.name))
        before = f" (which already held run{'s' if len(output.runs_before) > 1 else ''} " \
            f"{', '.join(map(str, output.runs_before))})" if output.runs_before else ""
        print(f"\nwrote run {result.run_id} into {output.database}{before} and its summary into {output.summary}")
    return 0


def _simulate(scenario: Scenario, args: argparse.Namespace, output: RunOutput | None) -> RunResult:
    if output is None:
        return simulate(scenario, seed=args.seed, jobs=args.jobs)
    from sim.results.writer import WriterError  # with the results database: a run without --out never writes

    try:
        return simulate(scenario, seed=args.seed, jobs=args.jobs, store=output.database)
    except WriterError as error:
        raise UsageError(f"{error}; {stopped_run(output)}") from None


def _report(args: argparse.Namespace) -> int:
    from sim.cli.stored import report  # reading stored results: only this command does

    return report(args)


def _validate(args: argparse.Namespace) -> int:
    if _is_sweep_file(args.scenario):
        return _validate_sweep(args.scenario)
    scenario = load_scenario(args.scenario)
    devices = ", ".join(d.name for d in scenario.hardware.devices)
    print(f"{args.scenario}: valid scenario {scenario.name!r}: {scenario.run.jobs:,} jobs, "
          f"{len(scenario.workload)} job classes, policy {scenario.scheduler.policy}, instruments: {devices}")
    return 0


def _is_sweep_file(path: Path) -> bool:
    """A sweep file names its base scenario; anything unreadable is left to the scenario's own checks."""
    try:
        return "scenario" in tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def _validate_sweep(path: Path) -> int:
    from sim.experiments.sweeps import Sweep

    sweep = Sweep.from_toml(path)
    points = len(sweep.point_scenarios())  # every point's scenario validated
    factors = ", ".join(f"{f.key} ({len(f.values)} levels)" for f in sweep.factors) or "no factors"
    target = f", target {sweep.target}" if sweep.target is not None else ""
    print(f"{path}: valid sweep {sweep.name!r} of scenario {sweep.scenario.name!r}: {points} point"
          f"{'s' if points != 1 else ''} ({factors}) x {sweep.replications} replications of "
          f"{sweep.jobs or sweep.scenario.run.jobs:,} jobs{target}")
    return 0


@contextlib.contextmanager
def _file_size_limit_as_error() -> Iterator[None]:
    """Past ``ulimit -f`` a write fails with an error that we report (SIGXFSZ would dump core instead)."""
    if not hasattr(signal, "SIGXFSZ") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGXFSZ, previous)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "validate": _validate, "report": _report, "sweep": sweep, "capacity": capacity,
                "compare": compare, **FIT_COMMANDS, **SERVE_COMMANDS}
    try:
        with terminate_cleanly(), _file_size_limit_as_error():
            return handlers[args.command](args)
    except (ScenarioError, UsageError) as error:
        print(f"stationsim: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NoProgress as error:  # in one of many runs (replications, sweeps, comparisons)
        print(f"stationsim: error: the station makes no progress: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return interrupted(None, signal.SIGINT)
    except Terminated:
        return interrupted(None, signal.SIGTERM)


def entry_point() -> None:
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # before main's own handling began (while starting up)
        sys.exit(interrupted(None, signal.SIGINT))
    except BrokenPipeError:  # the reader of our output went away (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
