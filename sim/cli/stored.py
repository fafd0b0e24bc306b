"""``stationsim report PATH``: what a folder written by the tool holds, whichever command wrote it.

- ``run --out``: ``results.sqlite``, every run's per-stage table (from one snapshot of the database, so a live
  run is reported as of one moment), saying which runs are incomplete, and each run's figures;
- ``run --replications R --out``: ``replications.sqlite``, every metric's mean and confidence interval;
- ``sweep --out``: ``sweep.sqlite``, one line per point with the headline metrics;
- ``capacity --out``: ``capacity.csv``, the answer of each search.

PATH is the folder or one of its files. Every database is opened read-only.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.cli.args import UsageError
from sim.cli.report import summary_table
from sim.results.reading import is_sqlite_file, load_run, open_readonly, run_ids, run_info, snapshot

if TYPE_CHECKING:
    import pandas as pd

    from sim.results.run import RunResult

FILES = ("results.sqlite", "replications.sqlite", "sweep.sqlite", "capacity.csv")
"""What each ``--out`` of the tool writes, in the order the report shows them."""
TABLES = {"runs": "results.sqlite", "replications_info": "replications.sqlite", "sweep_info": "sweep.sqlite"}
"""The table by which a database file is recognised, and the kind of file it makes it."""
NOTHING_HERE = ("no results here (expected a folder written by run --out, run --replications --out, sweep --out "
                "or capacity --out, or one of its files)")


def _kind_of_file(path: Path) -> str:
    if path.suffix == ".csv":
        if path.name in ("capacity.csv", "capacity_probes.csv"):
            return "capacity.csv"
        raise UsageError(f"{path}: not a file report reads (expected capacity.csv; for sweep.csv and "
                         "replications.csv give the .sqlite beside it)")
    if not is_sqlite_file(path):
        raise UsageError(f"{path}: not a results database (not an SQLite file)")
    try:
        connection = open_readonly(path)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise UsageError(f"{path}: not a results database ({error})") from None
    for table, kind in TABLES.items():
        if table in tables:
            return kind
    raise UsageError(f"{path}: not a results database (it has none of the tables {', '.join(TABLES)})")


def _found(path: Path) -> list[tuple[str, Path]]:
    if path.is_dir():
        return [(name, path / name) for name in FILES if (path / name).is_file()]
    if path.is_file():
        kind = _kind_of_file(path)
        return [(kind, path.with_name("capacity.csv") if kind == "capacity.csv" else path)]
    raise UsageError(f"{path}: no such file or folder")


def report(args: argparse.Namespace) -> int:
    found = _found(args.results)
    if not found:
        raise UsageError(f"{args.results}: {NOTHING_HERE}")
    if args.run_id is not None and not any(kind == "results.sqlite" for kind, _ in found):
        raise UsageError(f"{args.results}: --run-id: goes with a results database written by run --out")
    readers: dict[str, Callable[[Path, argparse.Namespace], str]] = {
        "results.sqlite": _runs, "replications.sqlite": _replications, "sweep.sqlite": _sweep,
        "capacity.csv": _capacity}
    texts = [readers[kind](path, args) for kind, path in found]
    print("\n\n".join(text.rstrip("\n") for text in texts))
    return 0


def _read(path: Path, read: Callable[[sqlite3.Connection], Any]) -> Any:
    """``read(connection)`` on the database at ``path``, opened read-only, in one snapshot."""
    try:
        connection = open_readonly(path)
        try:
            with snapshot(connection):
                return read(connection)
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise UsageError(f"{path}: cannot read this results database ({error})") from None


# --- run --out ------------------------------------------------------------------------------------------------

def _state(info: dict[str, Any]) -> str:
    if info["complete"]:
        return "complete"
    written, jobs = info["jobs_written"], info["jobs"]
    still = " (it may still be running, or stopped at its very end)" if written == jobs else ""
    return f"INCOMPLETE: the run did not finish{still}; {written:,} of {jobs:,} jobs were written"


def _runs(path: Path, args: argparse.Namespace) -> str:
    def read(connection: sqlite3.Connection) -> list[tuple[dict[str, Any], RunResult]]:
        ids = run_ids(connection)
        if args.run_id is not None:
            if args.run_id not in ids:
                raise UsageError(f"{path}: --run-id: no run {args.run_id}; the runs are {ids}")
            ids = [args.run_id]
        return [(run_info(connection, run_id), load_run(connection, run_id)) for run_id in ids]

    runs = _read(path, read)
    if not runs:
        raise UsageError(f"{path}: the results database holds no runs yet")
    parts = []
    for info, result in runs:
        parts.append(f"run {info['run_id']} ({_state(info)}), started {info['started_at']}\n"
                     f"{summary_table(result.summary())}\n")
        if not args.no_figures:
            parts.append(_figures(result, path, args))
    return "\n".join(parts)


def _figures(result: RunResult, database: Path, args: argparse.Namespace) -> str:
    """Write a run's figures into FIGURES/run-N/ (FIGURES: --figures, or figures/ beside the database); the
    titles of an incomplete run's figures say how many of its jobs they show."""
    from sim.plots.run import write_report_figures  # matplotlib only when figures are wanted

    folder = (args.figures if args.figures is not None else database.parent / "figures") / f"run-{result.run_id}"
    try:
        paths = write_report_figures(result, folder)
    except OSError as error:
        raise UsageError(f"{folder}: --figures: cannot write figures here ({error.strerror or error})") from None
    which = "" if result.complete else f" ({result.describe_jobs()})"
    return (f"wrote {len(paths)} figures of run {result.run_id}{which} into {folder}: "
            f"{', '.join(p.name for p in paths)}\n")


# --- run --replications, sweep and capacity -------------------------------------------------------------------

def _frames(path: Path, *queries: str) -> list[pd.DataFrame]:
    import pandas as pd

    return list(_read(path, lambda connection: [pd.read_sql_query(q, connection) for q in queries]))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _first_row(frame: pd.DataFrame) -> dict[str, Any]:
    rows = _records(frame.head(1))
    return rows[0] if rows else {}


def _unfinished(info: dict[str, Any]) -> str:
    return "" if info.get("complete", 1) else " (INCOMPLETE: the command did not finish)"


def _replications(path: Path, args: argparse.Namespace) -> str:
    from sim.experiments.replications import format_table

    info_frame, table = _frames(path, "SELECT * FROM replications_info", "SELECT * FROM replications")
    info = _first_row(info_frame)
    return (f"{path}: {info.get('replications', '?')} replications of scenario {info.get('scenario', '?')}, "
            f"{info.get('jobs', 0):,} jobs each, warm-up {info.get('warmup', '?')}, "
            f"{info.get('confidence', 0):.0%} confidence intervals{_unfinished(info)}\n\n"
            f"{format_table(_records(table))}")


def _sweep(path: Path, args: argparse.Namespace) -> str:
    from sim.experiments.replications import TABLE_COLUMNS, format_metric
    from sim.experiments.sweeps import HEADLINE

    info_frame, table = _frames(path, "SELECT * FROM sweep_info", "SELECT * FROM sweep")
    info = _first_row(info_frame)
    keys = [c for c in table.columns if c not in TABLE_COLUMNS]
    metrics = [m for m in HEADLINE if m in set(table["metric"])]
    rows = [[*keys, *metrics]]
    for levels, point in table.groupby(keys, sort=False) if keys else [((), table)]:
        means = dict(zip(point["metric"], point["mean"].astype(float), strict=True))
        half_widths = dict(zip(point["metric"], point["half_width"].astype(float), strict=True))
        rows.append([*(str(v) for v in (levels if isinstance(levels, tuple) else (levels,))), *(
            f"{format_metric(m, means[m])} +- {format_metric(m, half_widths[m])}" for m in metrics)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    return (f"{path}: sweep {info.get('name', '?')} of scenario {info.get('scenario', '?')}: "
            f"{info.get('points', '?')} points x {info.get('replications', '?')} replications of "
            f"{info.get('jobs', 0):,} jobs, warm-up {info.get('warmup', '?')}, "
            f"{info.get('confidence', 0):.0%} confidence{_unfinished(info)}\n\n" + "\n".join(lines))


def _capacity(path: Path, args: argparse.Namespace) -> str:
    import pandas as pd

    try:
        answers = pd.read_csv(path)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: cannot read this capacity table ({error})") from None
    fixed = [c for c in answers.columns if "." in c and c != "search"]
    lines = [f"{path}: {len(answers)} capacity search{'es' if len(answers) != 1 else ''}"]
    for row in _records(answers):
        where = ", ".join(f"{key} = {row[key]}" for key in fixed)
        lines.append(f"  {where + ': ' if where else ''}{row['find']} {row['search']} at which {_condition(row)} at "
                     f"{row['confidence']:.0%} confidence (one-sided): {row['answer']}"
                     + (f", failing at {row['fails_at']}" if _given(row.get("fails_at")) else "")
                     + f" ({row['status']}, {row['probes']} probes)")
    return "\n".join(lines)


def _given(value: object) -> bool:
    """Whether a cell of a table read back holds a value (not empty, not NaN)."""
    return value is not None and value == value and value != ""


def _condition(row: dict[str, Any]) -> str:
    """The target of a ``capacity.csv`` row in words: ``turnaround.p95 is below 10min``, or ``the chance that a
    1d period's turnaround.p95 misses 10min is below 5%``."""
    from sim.experiments.replications import format_metric, period_label
    from sim.experiments.target import format_share

    limit = format_metric(str(row["metric"]), float(row["threshold"]))
    per, share = row.get("per"), row.get("miss_probability")
    if isinstance(per, float) and per == per and isinstance(share, float) and share == share:  # not NaN
        return (f"the chance that a {period_label(per)} period's {row['metric']} misses {limit} is below "
                f"{format_share(share)}")
    return f"{row['metric']} is {row['side']} {limit}"
