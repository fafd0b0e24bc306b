"""Scheduled maintenance of named instruments: ``[[maintenance]]`` tables.

::

    [[maintenance]]
    instrument = "qpu-3"        # a name from [hardware] names (or an index, 0 for the first)
    weekly = "Tue 06:00"        # every week at this UTC weekday and time (needs [run] start)
    duration = "2h"

    [[maintenance]]
    instrument = "qpu-1"
    at = "2026-12-09T13:00:00Z" # once (a UTC date-time, needs [run] start; or a time from the start, "36h")
    duration = "4h"
    every = "2w"                # optional: and again every two weeks

The instrument is out of service for exactly the window: no user job runs on it from the first second to the
last (``sim.model.downtime`` says what happens to a job still running when the window opens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.scenario.clock import SECONDS_PER_WEEK, Clock, parse_datetime, parse_weekly
from sim.scenario.config import ScenarioError, Table
from sim.scenario.units import parse_duration


@dataclass(frozen=True)
class MaintenanceWindow:
    """One instrument out of service for ``duration`` from ``first`` (seconds from the start), and every
    ``every`` seconds after (inf: once)."""

    instrument: int
    first: float
    duration: float
    every: float = math.inf

    def __post_init__(self) -> None:
        if not self.duration > 0:
            raise ValueError(f"a maintenance window must last some time, got duration {self.duration}")
        if self.every <= self.duration:
            raise ValueError(f"a repeating window must end before the next begins (every {self.every:g} s, "
                             f"duration {self.duration:g} s)")


def instrument_index(table: Table, key: str, names: tuple[str, ...]) -> int:
    """The index of the instrument a key names (by name or by index)."""
    value = table.data[key]
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(names):
        return value
    raise table.error(key, f"unknown instrument {value!r}; expected one of {', '.join(names)} "
                      f"(or an index from 0 to {len(names) - 1})")


def parse_maintenance(source: str, data: object, names: tuple[str, ...], clock: Clock) -> tuple[MaintenanceWindow,
                                                                                                 ...]:
    """Every ``[[maintenance]]`` table, validated, its times on the run's clock."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ScenarioError(source, "maintenance", "expected [[maintenance]] tables")
    return tuple(_window(Table(source, f"maintenance[{i}]", entry), names, clock) for i, entry in enumerate(data))


def _window(table: Table, names: tuple[str, ...], clock: Clock) -> MaintenanceWindow:
    allowed = ("instrument", "at", "weekly", "duration", "every")
    for key in table.data:
        if key not in allowed:
            raise table.error(key, f"unknown key; expected one of {', '.join(allowed)}")
    for key in ("instrument", "duration"):
        if key not in table.data:
            raise table.error(key, "missing; this key is required")
    if ("at" in table.data) == ("weekly" in table.data):
        raise table.error("at", "give either at (once, or from then on with every) or weekly (\"Tue 06:00\")")
    instrument = instrument_index(table, "instrument", names)
    duration = table.parse("duration", parse_duration)
    if "weekly" in table.data:
        if not clock.dated:
            raise table.error("weekly", "a weekday needs the run's date: set [run] start, such as "
                              "\"2026-12-07T08:00:00Z\"")
        if "every" in table.data:
            raise table.error("every", "a weekly window repeats every week; give at with every for other periods")
        first = clock.next_weekly(table.parse("weekly", parse_weekly), -duration)
        return _checked(table, instrument, first, duration, SECONDS_PER_WEEK)
    first = _start(table, clock)
    every = table.parse("every", parse_duration) if "every" in table.data else math.inf
    return _checked(table, instrument, first, duration, every)


def _start(table: Table, clock: Clock) -> float:
    try:
        offset: float = table.parse("at", parse_duration)
        return offset
    except ScenarioError:
        moment = table.parse("at", parse_datetime)
        if not clock.dated:
            raise table.error("at", "a date needs the run's date: set [run] start, or give a time from the "
                              "start such as \"36h\"") from None
        return clock.at(moment)


def _checked(table: Table, instrument: int, first: float, duration: float, every: float) -> MaintenanceWindow:
    try:
        return MaintenanceWindow(instrument, first, duration, every)
    except ValueError as error:
        raise table.error("duration", str(error)) from None
