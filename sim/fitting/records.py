"""Job records in: the timelines of a station's jobs, read from IQM job-data JSON lines or a CSV table.

Two forms are read, the two that ``stationsim export`` writes (``sim.results.export``):

- **JSON lines**: one IQM job-data object per line, with a ``timeline`` of ``{source, status, timestamp}``
  entries. Entries from another source than ``iqm-station-control`` (the server's own ``created``, say) are
  skipped; an entry without a source counts as the station's.
- **CSV**: a header row, one row per job, one column per status value (``received`` ... ``aborted``) holding the
  time the job reached it (empty if never).

Timestamps are ISO 8601 (``2026-01-01T09:00:00.25Z``; a time without an offset is UTC) or plain numbers of
seconds. The workload fields ``kind`` (or IQM's ``type``), ``shots``, ``circuits``, ``depth``, ``sweep_points``,
``qubits``, ``user``, ``project``, ``priority`` and ``use_timeslot`` are optional; a missing one is unknown, and
the fit leaves out what needs it. A failed job's ``errors[0].message`` (CSV: ``error_message``) and full log
(``messages[0].message``; CSV: ``error_log``) are kept for the scenario's error catalogue.

A job's statuses must come in lifecycle order (each later than the one before in ``JobExecutorStatus``, none
after a terminal one) and their times must not decrease. Statuses may be missing between two others (a real
station may not report every one). Anything else wrong stops the reading with a ``RecordsError`` naming the
file, the line (and column or entry) and what was expected.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.model.status import N_STATUSES, READY, STATUSES

STATION_SOURCE = "iqm-station-control"
STATUS_NAMES = tuple(s.value for s in STATUSES)
STATUS_CODE = {name: code for code, name in enumerate(STATUS_NAMES)}
KINDS = ("circuit", "pulse")
NUMBERS = ("shots", "circuits", "depth", "sweep_points", "qubits", "priority")
TEXTS = ("user", "project")
OTHER_CSV_COLUMNS = ("id", "job_id", "status", "kind", "type", "job_class", "use_timeslot", "error_message",
                     "error_code", "error_log", *NUMBERS, *TEXTS)
_MICROSECOND = timedelta(microseconds=1)
_UNIX = datetime(1970, 1, 1, tzinfo=UTC)


class RecordsError(ValueError):
    """A file that is not job records as expected; the message names the file, where, and what was expected."""


@dataclass(frozen=True)
class JobTable:
    """The jobs of a file as columns, in file order. Times are seconds from ``origin`` (the first RECEIVED)."""

    source: str
    times: npt.NDArray[np.float64]
    """Jobs x 18 statuses: when each job reached each status, NaN where it did not."""
    origin: datetime
    kind: npt.NDArray[np.int64]
    """Index into ``KINDS``."""
    numbers: Mapping[str, npt.NDArray[np.float64]]
    """``shots``, ``circuits``, ``depth``, ``sweep_points``, ``qubits``, ``priority``: NaN where not given."""
    user: tuple[str, ...]
    project: tuple[str, ...]
    use_timeslot: npt.NDArray[np.bool_]
    error_message: tuple[str, ...]
    """The user message of a failed job ("" otherwise)."""
    error_log: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.kind)

    def has(self, name: str) -> bool:
        """Whether every job gives the workload field ``name``."""
        return bool(np.isfinite(self.numbers[name]).all())


@dataclass
class _Columns:
    """Columns collected while reading, one entry per job."""

    micros: list[list[int | None]]
    kind: list[int]
    numbers: dict[str, list[float]]
    user: list[str]
    project: list[str]
    use_timeslot: list[bool]
    error_message: list[str]
    error_log: list[str]

    @classmethod
    def empty(cls) -> _Columns:
        return cls([], [], {name: [] for name in NUMBERS}, [], [], [], [], [])


def _error(path: Path, where: str, message: str) -> RecordsError:
    return RecordsError(f"{path}: {where}: {message}")


def _microseconds(value: object) -> int:
    """Microseconds since 1970 (UTC) of an ISO 8601 timestamp, or of a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return round(value * 1e6)
    if isinstance(value, str):
        try:
            return round(float(value) * 1e6)
        except ValueError:
            pass
        try:
            stamp = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            return (stamp - _UNIX) // _MICROSECOND
    raise ValueError(f"expected an ISO 8601 time such as 2026-01-01T09:00:00Z (or seconds), got {value!r}")


def _check_order(entries: list[tuple[str, int, int]], path: Path, line: int) -> list[int | None]:
    """The job's time per status code from its (where, code, microseconds) entries, checked for order; ``where``
    names the entry (``line 4: timeline[2]``, ``line 4, column compilation_started``)."""
    row: list[int | None] = [None] * N_STATUSES
    previous: tuple[str, int, int] | None = None
    for where, code, micros in entries:
        if previous is not None:
            before, before_code, before_micros = previous
            if before_code >= READY:
                raise _error(path, where, f"{STATUS_NAMES[code]!r} after the terminal status "
                             f"{STATUS_NAMES[before_code]!r}; nothing follows a terminal status")
            if code <= before_code:
                raise _error(path, where, f"{STATUS_NAMES[code]!r} after {STATUS_NAMES[before_code]!r}; expected "
                             f"statuses in lifecycle order ({', '.join(STATUS_NAMES[:3])}, ..., ready, then failed "
                             "or aborted)")
            if micros < before_micros:
                raise _error(path, where, f"{STATUS_NAMES[code]!r} is earlier than {STATUS_NAMES[before_code]!r} "
                             f"({before}); expected times that never decrease")
        row[code] = micros
        previous = (where, code, micros)
    if row[0] is None:
        raise _error(path, f"line {line}", "the job has no 'received' status; expected every timeline to start "
                     "with it")
    return row


def _status_code(name: object, path: Path, where: str) -> int:
    code = STATUS_CODE.get(str(name).lower()) if isinstance(name, str) else None
    if code is None:
        raise _error(path, where, f"unknown status {name!r}; expected a JobExecutorStatus value "
                     f"({', '.join(STATUS_NAMES)})")
    return code


def _timeline(record: Mapping[str, Any], path: Path, line: int) -> list[int | None]:
    timeline = record.get("timeline")
    if not isinstance(timeline, list):
        raise _error(path, f"line {line}: timeline", "missing or not a list; expected a list of "
                     "{source, status, timestamp} entries (IQM job data)")
    entries = []
    for i, entry in enumerate(timeline):
        where = f"timeline[{i}]"
        if not isinstance(entry, Mapping) or "status" not in entry or "timestamp" not in entry:
            raise _error(path, f"line {line}: {where}", f"expected {{source, status, timestamp}}, got {entry!r}")
        if entry.get("source", STATION_SOURCE) != STATION_SOURCE:
            continue
        code = _status_code(entry["status"], path, f"line {line}: {where}.status")
        try:
            micros = _microseconds(entry["timestamp"])
        except ValueError as error:
            raise _error(path, f"line {line}: {where}.timestamp", str(error)) from None
        entries.append((f"line {line}: {where}", code, micros))
    return _check_order(entries, path, line)


def _first(values: object, key: str) -> str:
    """``values[0][key]`` of a list of dicts (IQM's errors and messages), or ""."""
    if isinstance(values, list) and values and isinstance(values[0], Mapping):
        return str(values[0].get(key) or "")
    return ""


def _workload(record: Mapping[str, Any], columns: _Columns, path: Path, where: str) -> None:
    kind = record.get("kind", record.get("type", "circuit")) or "circuit"
    if kind not in KINDS:
        raise _error(path, f"{where}: kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    columns.kind.append(KINDS.index(str(kind)))
    for name in NUMBERS:
        value = record.get(name)
        if value in (None, ""):
            columns.numbers[name].append(math.nan)
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not (math.isfinite(number) and number >= 0 and number == int(number)):
            raise _error(path, f"{where}: {name}", f"expected a whole number of zero or more, got {value!r}")
        columns.numbers[name].append(number)
    for name, values in (("user", columns.user), ("project", columns.project)):
        values.append(str(record.get(name) or ("default" if name == "project" else "user")))
    columns.use_timeslot.append(str(record.get("use_timeslot", False)).lower() in ("true", "1"))


def _json_lines(path: Path, lines: Iterator[str], columns: _Columns) -> None:
    for line, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            raise _error(path, f"line {line}", "not a job record; expected one JSON object a line with a "
                         "timeline (IQM job data), or a CSV table with a column per status")
        columns.micros.append(_timeline(record, path, line))
        _workload(record, columns, path, f"line {line}")
        columns.error_message.append(_first(record.get("errors"), "message"))
        columns.error_log.append(_first(record.get("messages"), "message"))


def _csv(path: Path, lines: Iterator[str], columns: _Columns) -> None:
    reader = csv.DictReader(lines)
    header = reader.fieldnames or []
    if "received" not in header:
        raise _error(path, "line 1", "not job records; expected a CSV header with a column per status "
                     f"({', '.join(STATUS_NAMES[:2])}, ...), or JSON lines of IQM job data")
    for name in header:
        if name not in STATUS_CODE and name not in OTHER_CSV_COLUMNS:
            raise _error(path, f"line 1, column {name!r}", "unknown column; expected a status value "
                         f"({', '.join(STATUS_NAMES)}) or one of {', '.join(OTHER_CSV_COLUMNS)}")
    statuses = sorted((STATUS_CODE[name], name) for name in header if name in STATUS_CODE)
    for row in reader:
        line = reader.line_num
        entries = []
        for code, name in statuses:
            value = row.get(name)
            if value in (None, ""):
                continue
            try:
                entries.append((f"line {line}, column {name}", code, _microseconds(value)))
            except ValueError as error:
                raise _error(path, f"line {line}, column {name}", str(error)) from None
        columns.micros.append(_check_order(entries, path, line))
        _workload(row, columns, path, f"line {line}")
        columns.error_message.append(row.get("error_message") or "")
        columns.error_log.append(row.get("error_log") or "")


def read_jobs(path: str | Path) -> JobTable:
    """Read a file of job records (JSON lines or CSV, told apart by the first character)."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as stream:
            first = stream.read(1)
            while first.isspace():
                first = stream.read(1)
            stream.seek(0)
            columns = _Columns.empty()
            (_json_lines if first == "{" else _csv)(path, iter(stream), columns)
    except FileNotFoundError:
        raise _error(path, "file", "no such file") from None
    except IsADirectoryError:
        raise _error(path, "file", "a folder; expected a file of job records") from None
    except UnicodeDecodeError:
        raise _error(path, "file", "not a text file in UTF-8; expected job records") from None
    if not columns.micros:
        raise _error(path, "file", "no job records in it")
    return _table(path, columns)


def _table(path: Path, columns: _Columns) -> JobTable:
    reached = np.array([[m is not None for m in row] for row in columns.micros], dtype=bool)
    micros = np.array([[m or 0 for m in row] for row in columns.micros], dtype=np.int64)
    origin = int(micros[:, 0].min())
    # whole microseconds from the origin first, so that CSV and JSON forms of the same times agree exactly
    times = np.where(reached, (micros - origin) / 1e6, np.nan)
    return JobTable(
        source=str(path), times=times, origin=_UNIX + timedelta(microseconds=origin),
        kind=np.array(columns.kind, dtype=np.int64),
        numbers={name: np.array(values, dtype=np.float64) for name, values in columns.numbers.items()},
        user=tuple(columns.user), project=tuple(columns.project),
        use_timeslot=np.array(columns.use_timeslot, dtype=bool),
        error_message=tuple(columns.error_message), error_log=tuple(columns.error_log))
