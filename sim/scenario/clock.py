"""The run's clock: where simulated time 0 falls on the UTC calendar.

Simulated times are seconds from the start of the run. Daily and weekly things (arrival profiles, recalibration
times, reserved windows, maintenance windows) are written on the UTC clock, so the run needs to know where it
starts: ``[run] start = "2026-12-07T08:00:00Z"`` gives the date, the weekday and the time of day. Without it,
the run starts on ``EPOCH_DATE`` at the time of day the scheduler or calibration table gives (midnight when
neither does), and anything that needs a weekday or a date is refused at validation with a message saying so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

SECONDS_PER_DAY = 86_400.0
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
EPOCH_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""The date a run starts on when its scenario gives no ``[run] start`` (the time of day still applies)."""
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_WEEKLY = re.compile(r"^\s*([A-Za-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def parse_datetime(value: object) -> datetime:
    """A UTC date-time written in ISO 8601 (``"2026-12-07T08:00:00Z"``, ``"2026-12-07 08:00"``, ``"2026-12-07"``);
    a time without a zone is UTC, another zone is converted."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):  # a TOML local date
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected a UTC date and time such as \"2026-12-07T08:00:00Z\", got {value!r}") from None
    else:
        raise ValueError(f"expected a UTC date and time such as \"2026-12-07T08:00:00Z\", got {value!r}")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_weekly(value: object) -> float:
    """Seconds after Monday 00:00 UTC of a weekly time written ``"Tue 06:00"`` (a weekday, then HH:MM[:SS])."""
    match = _WEEKLY.match(value) if isinstance(value, str) else None
    day = match.group(1).capitalize() if match else ""
    if match is None or day not in WEEKDAYS or int(match.group(2)) > 23 or int(match.group(3)) > 59:
        raise ValueError(f"expected a weekday and a UTC time such as \"Tue 06:00\", got {value!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups()[1:])
    return WEEKDAYS.index(day) * SECONDS_PER_DAY + hours * 3600.0 + minutes * 60.0 + seconds


@dataclass(frozen=True)
class Clock:
    """Where the run's time 0 falls: a UTC date-time, and whether the scenario gave the date itself."""

    start: datetime = EPOCH_DATE
    dated: bool = False
    """True when the scenario gave ``[run] start`` (weekdays and dates mean something)."""

    @classmethod
    def at_time_of_day(cls, seconds: float) -> Clock:
        return cls(EPOCH_DATE + timedelta(seconds=seconds), dated=False)

    @property
    def time_of_day(self) -> float:
        """Seconds after midnight UTC at time 0."""
        midnight = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        return (self.start - midnight).total_seconds()

    @property
    def week_time(self) -> float:
        """Seconds after Monday 00:00 UTC at time 0."""
        return self.start.weekday() * SECONDS_PER_DAY + self.time_of_day

    def at(self, moment: datetime) -> float:
        """Simulated seconds of a UTC date-time (negative before the start)."""
        return (moment - self.start).total_seconds()

    def next_weekly(self, week_time: float, now: float) -> float:
        """The first simulated time at or after ``now`` at which the week clock reads ``week_time``."""
        since_monday = self.week_time + now
        week_start = math.floor(since_monday / SECONDS_PER_WEEK) * SECONDS_PER_WEEK
        t = week_start + week_time - self.week_time
        return t if t >= now else t + SECONDS_PER_WEEK
