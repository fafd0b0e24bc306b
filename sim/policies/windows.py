"""Reserved windows of the timeslot queue: times in which only one user's or one project's jobs may start.

IQM's users can book a *timeslot* and submit jobs to the timeslot queue (``submit_job(..., use_timeslot=True)``)
instead of the shared FIFO. A window names its owner, a user or a project, and is either *daily* (clock times,
``start = "09:00"``, ``end = "11:00"``, on the clock given by ``[scheduler] start_time_of_day``; a window whose
end comes before its start runs over midnight) or *absolute* (durations from the start of the run,
``start = "2h"``, ``end = "3h"``). In the scenario::

    [[scheduler.windows]]
    user = "alice"          # or project = "qec"
    start = "09:00"
    end = "11:00"

A window is open from its start (included) to its end (excluded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hardware_mock.calibration import SECONDS_PER_DAY


@dataclass(frozen=True)
class Window:
    """A reserved window: ``owner`` (a user's or a project's name, by ``by``) alone may start jobs in it."""

    by: str
    """``user`` or ``project``."""
    owner: str
    start: float
    """Seconds after midnight (daily) or from the start of the run (absolute)."""
    end: float
    daily: bool

    def __post_init__(self) -> None:
        if self.by not in ("user", "project"):
            raise ValueError(f"a window belongs to a user or a project, got {self.by!r}")
        if self.daily and self.start == self.end:
            raise ValueError("a daily window must not end when it starts")
        if not self.daily and not 0 <= self.start < self.end:
            raise ValueError(f"an absolute window must start at 0 or later and end after it starts, got "
                             f"{self.start:g} s to {self.end:g} s")

    def _day(self, t: float, clock: float) -> tuple[int, float]:
        """The day number on the clock at run time ``t``, and the seconds since that day's midnight."""
        x = clock + t
        day = math.floor(x / SECONDS_PER_DAY)
        return day, x - day * SECONDS_PER_DAY

    def is_open(self, t: float, clock: float = 0.0) -> bool:
        """Whether the window is open at run time ``t`` (``clock``: the time of day at the start of the run)."""
        if not self.daily:
            return self.start <= t < self.end
        _, time_of_day = self._day(t, clock)
        if self.start < self.end:
            return self.start <= time_of_day < self.end
        return time_of_day >= self.start or time_of_day < self.end

    def next_edge(self, t: float, clock: float = 0.0) -> float:
        """The first opening or closing strictly after run time ``t`` (inf when there is none)."""
        if not self.daily:
            return next((edge for edge in (self.start, self.end) if edge > t), math.inf)
        day, _ = self._day(t, clock)
        for d in (day, day + 1, day + 2):
            for edge in sorted((self.start, self.end)):
                at = d * SECONDS_PER_DAY + edge - clock
                if at > t:
                    return at
        raise AssertionError("unreachable: a daily window opens within two days")  # pragma: no cover

    @property
    def closes_for_good(self) -> float:
        """When the window closes for the last time (inf for a daily one)."""
        return math.inf if self.daily else self.end

