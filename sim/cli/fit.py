"""The commands that calibrate the model to a station: job timelines out, a fitted scenario in.

    stationsim export DIR [--run-id N] [--format iqm-jobs|csv] --out FILE
                                 a stored run's jobs as IQM job-data JSON lines (or CSV, a column per status)
    stationsim fit FILE [--out SCENARIO] [--workers STAGE=N ...] [--instruments N] [--name NAME]
                   [--validate [--replications R] [--seed S] [--figure PNG]]
                                 fit a scenario to job records; with --validate, run it against them
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.args import UsageError, positive, seed, whole_number
from sim.results.export import FORMATS

if TYPE_CHECKING:  # the fitting layer and sqlite3 are imported by these commands, not by every command line
    import sqlite3

    from sim.fitting.records import JobTable
    from sim.scenario.scenario import Scenario


def add_fit_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    export = commands.add_parser("export", help="write a stored run's jobs as IQM job data (JSON lines) or CSV")
    export.add_argument("results", type=Path, help="a folder written by run --out, or its results.sqlite")
    export.add_argument("--run-id", type=positive, metavar="N", help="the run to export (default: the last one)")
    export.add_argument("--format", choices=FORMATS, default="iqm-jobs",
                        help="iqm-jobs: one IQM job-data object a line (default); csv: a row per job, a column "
                        "per status time")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the file to write")
    fit = commands.add_parser("fit", help="fit a scenario to job records (JSON lines or CSV) and validate it")
    fit.add_argument("records", type=Path, help="job records: IQM job-data JSON lines, or CSV with a column per "
                     "status")
    fit.add_argument("--out", type=Path, metavar="SCENARIO", help="the scenario file to write (default: print it)")
    fit.add_argument("--workers", action="append", default=[], metavar="STAGE=N",
                     help="workers of a stage, instead of the largest concurrency in the records; may be repeated")
    fit.add_argument("--instruments", type=positive, metavar="N",
                     help="instruments, instead of the largest concurrency")
    fit.add_argument("--name", help="the scenario's name (default: fitted-<records file name>)")
    fit.add_argument("--validate", action="store_true", help="run the fitted scenario against the records: a "
                     "table of observed against simulated, and a figure")
    fit.add_argument("--replications", type=whole_number(2), default=5, metavar="R",
                     help="runs of the validation (default 5)")
    fit.add_argument("--seed", type=seed, default=1, metavar="S", help="base seed of the validation's runs (default 1)")
    fit.add_argument("--figure", type=Path, metavar="PNG", help="the validation figure's PNG file (default: "
                     "<scenario or records name>-validation.png beside it)")


def _open(path: Path) -> sqlite3.Connection:
    """A read-only connection to the results database in ``path`` (a folder or the file itself)."""
    import sqlite3

    database = path / "results.sqlite" if path.is_dir() else path
    if not database.is_file():
        raise UsageError(f"{database}: no results database (expected a folder written by run --out)")
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        connection.execute("SELECT run_id FROM runs LIMIT 1")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise UsageError(f"{database}: not a results database ({error})") from None
    return connection


def export(args: argparse.Namespace) -> int:
    from sim.results.export import write_export
    from sim.results.store import load_run, run_ids, run_info

    connection = _open(args.results)
    try:
        ids = run_ids(connection)
        if not ids:
            raise UsageError(f"{args.results}: the results database holds no runs")
        run_id = ids[-1] if args.run_id is None else args.run_id
        if run_id not in ids:
            raise UsageError(f"{args.results}: --run-id: no run {run_id}; the runs are {ids}")
        complete = bool(run_info(connection, run_id)["complete"])
        result = load_run(connection, run_id)
    finally:
        connection.close()
    try:
        written = write_export(result, args.out, args.format, run_id)
    except OSError as error:
        raise UsageError(f"{args.out}: --out: cannot write here ({error.strerror or error})") from None
    note = "" if complete else " (the run is incomplete: only the jobs it had written)"
    print(f"wrote {written:,} jobs of run {run_id} to {args.out} ({args.format}){note}")
    return 0


def _workers(pairs: list[str]) -> dict[str, int]:
    workers = {}
    for pair in pairs:
        stage, _, text = pair.partition("=")
        if not text.isdigit() or int(text) < 1:
            raise UsageError(f"--workers {pair}: expected STAGE=N with N a whole number of at least 1, "
                             "such as compilation=4")
        workers[stage.strip()] = int(text)
    return workers


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"{path}: --out: cannot write here ({error.strerror or error})") from None


def fit(args: argparse.Namespace) -> int:
    from sim.fitting.records import RecordsError, read_jobs
    from sim.fitting.station import fit_station

    try:
        table = read_jobs(args.records)
        fitted = fit_station(table, workers=_workers(args.workers), instruments=args.instruments,
                             name=args.name or f"fitted-{args.records.stem}")
    except RecordsError as error:
        raise UsageError(str(error)) from None
    text = fitted.toml()
    scenario = fitted.scenario()  # validated as stationsim validate would
    if args.out is None:
        print(text, end="")
    else:
        _write(args.out, text)
        print(f"wrote the scenario fitted to {len(table):,} jobs to {args.out}")
    if args.validate:
        _validate(args, table, scenario)
    return 0


def _validate(args: argparse.Namespace, table: JobTable, scenario: Scenario) -> None:
    from sim.fitting.figure import write_validation_figure
    from sim.fitting.validation import validate

    validation = validate(table, scenario, replications=args.replications, seed=args.seed)
    print(validation.format())
    named = args.out if args.out is not None else args.records
    figure = args.figure or named.with_name(f"{named.stem}-validation.png")
    try:
        write_validation_figure(validation, figure, f"{args.records.name}: records against the fitted model")
    except OSError as error:
        raise UsageError(f"{figure}: --figure: cannot write here ({error.strerror or error})") from None
    print(f"wrote the validation figure to {figure}")


FIT_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"export": export, "fit": fit}
