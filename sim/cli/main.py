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
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.cli.args import UsageError, changes, positive, prepare_out, seed
from sim.cli.experiments import add_experiment_commands, capacity, compare, run_replications, sweep
from sim.cli.fit import FIT_COMMANDS, add_fit_commands
from sim.cli.report import summary_table, write_summary_json
from sim.results.metrics import summarize
from sim.results.run import RunResult
from sim.results.store import load_run, run_ids, run_info
from sim.scenario.config import ScenarioError
from sim.simulation import load_scenario, simulate

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
    run.add_argument("--out", type=Path, help="folder for results.sqlite and summary.json")
    run.add_argument("--set", dest="changes", action="append", default=[], metavar="KEY=VALUE",
                     help="change a scenario key, such as --set restarts.policy=requeue (VALUE in TOML syntax; "
                     "a bare word is a string); may be repeated")
    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path, help="scenario TOML file")
    report = commands.add_parser("report", help="summarise the runs in a results folder (or database file)")
    report.add_argument("results", type=Path, help="a folder written by run --out, or its results.sqlite")
    report.add_argument("--run-id", type=positive, help="only this run (default: every run)")
    report.add_argument("--figures", type=Path, metavar="DIR", help="folder for each complete run's figures, as "
                        "PNG files in DIR/run-N/ (default: a figures folder next to the results database)")
    report.add_argument("--no-figures", action="store_true", help="print the tables only, write no figures")
    add_experiment_commands(commands, run)
    add_fit_commands(commands)
    return parser


def _run(args: argparse.Namespace) -> int:
    if any(getattr(args, name) is not None for name in ("replications", "warmup", "warmup_jobs", "processes",
                                                         "dask_scheduler")):
        return run_replications(args)
    scenario = load_scenario(args.scenario)
    if args.changes:
        scenario = scenario.with_values(changes(args.changes))
    out = prepare_out(args.out) if args.out else None
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
    from sim.plots.run import write_report_figures  # matplotlib only when figures are wanted

    results = args.results if args.results.is_dir() else args.results.parent
    folder = (args.figures if args.figures is not None else results / "figures") / f"run-{run_id}"
    try:
        paths = write_report_figures(result, folder)
    except OSError as error:
        raise UsageError(f"{folder}: --figures: cannot write figures here ({error.strerror or error})") from None
    print(f"wrote {len(paths)} figures of run {run_id} into {folder}: {', '.join(p.name for p in paths)}\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "validate": _validate, "report": _report, "sweep": sweep, "capacity": capacity,
                "compare": compare, **FIT_COMMANDS}
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
