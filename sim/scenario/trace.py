"""Trace-driven workloads: replay a recorded list of submissions exactly.

A trace is a CSV file with a header row, or a JSON-lines file (one object per line), one submission each:

| column         | required | meaning                                                            |
|----------------|----------|--------------------------------------------------------------------|
| ``time``       | yes      | submission time: seconds from the start, or a duration (``"90s"``) |
| ``job_type``   | yes      | ``circuit`` or ``pulse``                                           |
| ``shots``      | yes      | shots per circuit (whole number, at least 1)                       |
| ``circuits``   | yes      | circuits (or playlist segments), at least 1                        |
| ``depth``      | no       | layers per circuit (default 20)                                    |
| ``sweep_points``| no      | sweep points (default 1)                                           |
| ``qubits``     | no       | qubits used (default 5)                                            |
| ``user``       | no       | who submitted it (default ``user``)                                |
| ``priority``   | no       | whole number, higher first under the priority policy (default 0)   |
| ``project``    | no       | the project it is charged to (default ``default``)                 |
| ``use_timeslot``| no      | ``true`` for IQM's timeslot queue (default ``false``)              |
| ``abort_at``   | no       | when the user cancels it, seconds from the start (empty: never)    |

Rows must be in non-decreasing time order. A scenario uses a trace with ``[arrivals] trace = "file.csv"``
(relative to the scenario file); the run submits the trace's jobs, job ``i`` being row ``i``. Errors name the
file, the line and the column.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sim.scenario.config import ScenarioError
from sim.scenario.units import parse_duration

JOB_TYPES = ("circuit", "pulse")
COLUMNS = ("time", "job_type", "shots", "circuits", "depth", "sweep_points", "qubits", "user", "priority",
           "abort_at", "project", "use_timeslot")
REQUIRED = ("time", "job_type", "shots", "circuits")
DEFAULTS: dict[str, object] = {"depth": 20, "sweep_points": 1, "qubits": 5, "user": "user", "priority": 0,
                               "abort_at": None, "project": "default", "use_timeslot": False}


@dataclass(frozen=True)
class Trace:
    """The submissions of a trace as columns, in file order."""

    path: str
    time: npt.NDArray[np.float64]
    kind: npt.NDArray[np.int64]
    """Index into ``JOB_TYPES``."""
    shots: npt.NDArray[np.int64]
    circuits: npt.NDArray[np.int64]
    depth: npt.NDArray[np.int64]
    sweep_points: npt.NDArray[np.int64]
    qubits: npt.NDArray[np.int64]
    user: tuple[str, ...]
    priority: npt.NDArray[np.int64]
    abort_at: npt.NDArray[np.float64]
    """NaN where the user never cancels."""
    project: tuple[str, ...] = ()
    use_timeslot: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __len__(self) -> int:
        return len(self.time)


def _rows(path: Path) -> Iterator[tuple[int, Mapping[str, object]]]:
    """(line number, row) of a CSV or JSON-lines trace."""
    with path.open(encoding="utf-8", newline="") as stream:
        if path.suffix in (".jsonl", ".ndjson", ".json"):
            for number, line in enumerate(stream, start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ScenarioError(str(path), f"line {number}", f"not valid JSON ({error.msg})") from None
                    if not isinstance(row, dict):
                        raise ScenarioError(str(path), f"line {number}", "expected a JSON object")
                    yield number, row
        else:
            reader = csv.DictReader(stream)
            unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
            if unknown:
                raise ScenarioError(str(path), f"line 1: {unknown[0]}",
                                    f"unknown column; expected some of {', '.join(COLUMNS)}")
            for row in reader:
                yield reader.line_num, {k: v for k, v in row.items() if v not in ("", None)}


def _whole(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if not number.is_integer() or number < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}, got {value!r}")
        return int(number)
    return parse


def _seconds(value: object) -> float:
    if isinstance(value, str):
        try:
            return parse_duration(float(value))
        except ValueError:
            return parse_duration(value)
    return parse_duration(value)


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _job_type(value: object) -> int:
    if value not in JOB_TYPES:
        raise ValueError(f"expected one of {', '.join(JOB_TYPES)}, got {value!r}")
    return JOB_TYPES.index(str(value))


PARSERS: dict[str, Callable[[object], object]] = {
    "time": _seconds, "job_type": _job_type, "shots": _whole(1), "circuits": _whole(1), "depth": _whole(0),
    "sweep_points": _whole(1), "qubits": _whole(1), "user": str, "priority": _whole(0), "abort_at": _seconds,
    "project": str, "use_timeslot": _flag,
}


def read_trace(path: str | Path) -> Trace:
    """Read and validate a trace file."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), "", "no such trace file")
    columns: dict[str, list[object]] = {name: [] for name in COLUMNS}
    try:
        for number, row in _rows(path):
            for name in row:
                if name not in COLUMNS:
                    raise ScenarioError(str(path), f"line {number}: {name}",
                                        f"unknown column; expected some of {', '.join(COLUMNS)}")
            for name in COLUMNS:
                if name not in row and name in REQUIRED:
                    raise ScenarioError(str(path), f"line {number}: {name}", "missing; this column is required")
                value = row.get(name, DEFAULTS.get(name))
                try:
                    columns[name].append(None if value is None else PARSERS[name](value))
                except ValueError as error:
                    raise ScenarioError(str(path), f"line {number}: {name}", str(error)) from None
            if len(columns["time"]) > 1 and columns["time"][-1] < columns["time"][-2]:  # type: ignore[operator]
                raise ScenarioError(str(path), f"line {number}: time", "submissions must be in time order")
            abort = columns["abort_at"][-1]
            if abort is not None and abort < columns["time"][-1]:  # type: ignore[operator]
                raise ScenarioError(str(path), f"line {number}: abort_at", "the abort comes before the submission")
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "not a text file in UTF-8") from None
    if not columns["time"]:
        raise ScenarioError(str(path), "", "the trace has no submissions")

    def ints(name: str) -> npt.NDArray[np.int64]:
        return np.asarray(columns[name], dtype=np.int64)

    return Trace(path=str(path), time=np.asarray(columns["time"], dtype=float), kind=ints("job_type"),
                 shots=ints("shots"), circuits=ints("circuits"), depth=ints("depth"),
                 sweep_points=ints("sweep_points"), qubits=ints("qubits"), user=tuple(map(str, columns["user"])),
                 priority=ints("priority"), project=tuple(map(str, columns["project"])),
                 use_timeslot=np.asarray(columns["use_timeslot"], dtype=bool),
                 abort_at=np.array([math.nan if a is None else a for a in columns["abort_at"]], dtype=float))
