"""Time axes of run figures on the UTC clock, where the scenario puts the run on it.

A planner sets recalibrations, maintenance windows and reserved windows in UTC ("00:45 and 14:15"); a figure
that shows them at "6.75 h since the start" makes them look up a start time and add. When the scenario says
where its run starts (``[run] start``, or a start time of day in ``[scheduler]`` or ``[calibration]``, or a
calibration schedule written in UTC), run figures are ticked as UTC clock readings: ``14:15``, or with days
(``Tue 14:15`` when the run has a date, ``day 2, 14:15`` when it has only a time of day).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.ticker import FixedLocator, FuncFormatter

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.scenario.clock import Clock
    from sim.scenario.scenario import Scenario

NICE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0,
              21600.0, 43200.0, 86400.0, 172800.0, 604800.0)
"""Tick spacings (seconds) that read well: 1 s ... 30 s, 1 min ... 30 min, 1 h ... 12 h, 1 d, 2 d, 1 week."""


def utc_clock(scenario: Scenario) -> Clock | None:
    """The run's UTC clock when the scenario says where the run starts on it (None: it does not)."""
    run_start = getattr(scenario.run, "start", None)
    calibration = scenario.calibration
    placed = (run_start is not None or scenario.scheduler.start_time_of_day is not None
              or (calibration is not None and (calibration.start_time_of_day is not None
                                               or bool(calibration.times_of_day))))
    return getattr(scenario, "clock", None) if placed else None


def utc_reading(clock: Clock, seconds: float, days: bool, with_seconds: bool = False) -> str:
    """The UTC clock at ``seconds`` into the run: ``14:15``; with ``days``, ``Tue 14:15`` (a dated run) or
    ``day 2, 14:15`` (day 1 is the day the run starts)."""
    moment = clock.start + timedelta(seconds=round(seconds if with_seconds else seconds / 60.0 * 60.0))
    moment = moment if with_seconds else moment.replace(second=0)
    text = moment.strftime("%H:%M:%S" if with_seconds else "%H:%M")
    if not days:
        return text
    if clock.dated:
        return f"{moment.strftime('%a')} {text}"
    return f"day {(moment.date() - clock.start.date()).days + 1}, {text}"


def utc_axis(ax: Axes, low: float, high: float, clock: Clock) -> str:
    """Tick the x axis (seconds since the start of the run) at round UTC times over ``[low, high]``, about six
    to eight ticks; returns the axis label."""
    step = next((s for s in NICE_STEPS if (high - low) / s <= 8), NICE_STEPS[-1])
    offset = clock.time_of_day if step <= 86400 else clock.week_time
    first = math.ceil((low + offset) / step) * step - offset
    ticks = np.arange(first, high + 1e-9 * max(step, 1.0), step)
    days = high - low > 86400 or (clock.time_of_day + low) // 86400 != (clock.time_of_day + high) // 86400
    with_seconds = step < 60
    ax.xaxis.set_major_locator(FixedLocator(ticks.tolist()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: utc_reading(clock, value, days, with_seconds)))
    what = ("weekday " if clock.dated else "day, ") if days else ""
    return f"UTC time ({what}hh:mm{':ss' if with_seconds else ''})"
