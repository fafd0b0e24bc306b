"""A service-level target: a metric, a threshold, a confidence level, and what a sweep searches for it.

Two kinds of target, both tested one-sided at the stated level (``sim.experiments.decision``):

- on a **mean** over replications: "p95 turnaround below 10 minutes" holds when the one-sided upper bound of
  the mean over runs of each run's p95 is below 10 minutes;
- on a **miss probability**: "the chance that a day's p95 turnaround misses 10 minutes is below 5%" holds when
  the one-sided Clopper-Pearson upper bound of the share of days (of every run) that missed is below 5%.

A sweep file gives the target as a table::

    [target]
    metric = "turnaround.p95"          # any metric name of the tidy table
    below = "10min"                    # or above = ...; a number, or a duration with a unit
    per = "1d"                         # optional: the metric of each day (or "1h", "1w") ...
    miss_probability = 0.05            # ... and the largest acceptable chance that a day misses
    confidence = 0.95                  # default: the sweep's
    search = "arrivals.rate"           # the key to search (stationsim capacity)
    range = ["100/h", "1500/h"]        # its lowest and highest values: numbers, rates or durations
    find = "max"                       # "max": the highest value that holds; "min": the lowest
    tolerance = 0.01                   # real-valued keys: stop when the bracket is this narrow (relative)
    max_replications = 15              # a probe too close to call gets more runs, up to this many
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sim.experiments.replications import COUNTED_BY_KEY, PeriodTarget, format_metric, period_label
from sim.scenario.config import ScenarioError, Table
from sim.scenario.units import SECONDS_PER_UNIT, format_seconds, parse_duration, parse_rate

Find = Literal["max", "min"]
TARGET_KEYS = ("metric", "below", "above", "per", "miss_probability", "confidence", "search", "range", "find",
               "tolerance", "max_replications")


def numeric(value: object) -> float:
    """A factor value as a number for ordering and bisection: rates per second, durations in seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, a rate or a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        if value.strip() == "inf":
            return math.inf
        return parse_rate(value) if "/" in value else parse_duration(value)
    raise ValueError(f"expected a number, a rate or a duration, got {value!r}")


def _unit(value: object) -> str:
    """How to write values of the searched key: ``/h`` for rates given per hour, ``s`` for durations, ``int``
    for whole numbers, ``""`` for other numbers."""
    if isinstance(value, str):
        return "/" + value.partition("/")[2].strip() if "/" in value else "s"
    return "int" if isinstance(value, int) else ""


@dataclass(frozen=True)
class Target:
    """A service-level target, and optionally the key and range over which to search for it."""

    metric: str
    threshold: float
    below: bool = True
    level: float = 0.95
    search: str | None = None
    low: float = math.nan
    high: float = math.nan
    unit: str = ""
    """How the searched key's values are written (see ``_unit``)."""
    find: Find = "max"
    tolerance: float = 0.01
    per: float | None = None
    """Seconds: the target is on the chance that one such period's metric misses the threshold."""
    miss_probability: float | None = None
    max_replications: int | None = None
    """The most replications a probe may get (None: three times the sweep's)."""

    @property
    def on_misses(self) -> bool:
        return self.per is not None

    def period_target(self) -> PeriodTarget | None:
        """What each run must count for a miss-probability target (None for a target on a mean)."""
        if self.per is None:
            return None
        return PeriodTarget(self.metric, self.per, self.threshold, self.below)

    def scenario_value(self, value: float) -> Any:
        """The searched key's value as the scenario takes it (rates per second, durations in seconds)."""
        return int(value) if self.unit == "int" else value

    def format_value(self, value: float) -> str:
        if self.unit == "int":
            return str(int(value))
        if self.unit == "s":
            return format_seconds(value)
        if self.unit.startswith("/"):
            return f"{value * SECONDS_PER_UNIT[self.unit[1:]]:.4g}{self.unit}"
        return f"{value:.4g}"

    def condition(self) -> str:
        """The target without its level: ``turnaround.p95 < 10min`` or ``P(a 1d period's turnaround.p95 >=
        10min) < 5%``."""
        side = "<" if self.below else ">"
        limit = format_metric(self.metric, self.threshold)
        if self.per is None:
            return f"{self.metric} {side} {limit}"
        miss = ">=" if self.below else "<="
        return (f"P(a {period_label(self.per)} period's {self.metric} {miss} {limit}) < "
                f"{format_share(self.miss_probability or 0.0)}")

    def __str__(self) -> str:
        return f"{self.condition()} at {self.level:.0%} confidence (one-sided)"

    def check_metric(self, metrics: Mapping[str, float], source: str) -> None:
        """Raise ``ScenarioError`` unless the runs have the target's metric (checked on the first run)."""
        if self.metric in metrics or self.metric.startswith(COUNTED_BY_KEY) or self.per is not None:
            return
        close = difflib.get_close_matches(self.metric, list(metrics), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " (see the metric column of the sweep table)"
        raise ScenarioError(source, "target.metric", f"no metric {self.metric!r}{hint}")


def format_share(share: float) -> str:
    """A probability for people: ``5%``, ``0.5%``, ``12.3%``."""
    if share == 0:
        return "0%"
    return f"{100 * share:.3g}%"


def parse_target(table: Table, level: float) -> Target:
    """The ``[target]`` table of a sweep file (``level``: the sweep's confidence, the default)."""
    for key in table.data:
        if key not in TARGET_KEYS:
            raise table.error(key, f"unknown key; expected one of {', '.join(TARGET_KEYS)}")
    if "metric" not in table.data or not isinstance(table.data["metric"], str) or not table.data["metric"]:
        raise table.error("metric", "expected the name of a metric, such as \"turnaround.p95\"")
    if ("below" in table.data) == ("above" in table.data):
        raise table.error("below", "give exactly one of below or above (the threshold)")
    side = "below" if "below" in table.data else "above"
    threshold = table.parse(side, _threshold)
    confidence = table.parse("confidence", confidence_level) if "confidence" in table.data else level
    extra: dict[str, Any] = _tail(table)
    if "search" in table.data or "range" in table.data:
        extra |= _search(table)
    if "max_replications" in table.data:
        budget = table.data["max_replications"]
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise table.error("max_replications", f"expected a whole number of replications, got {budget!r}")
        extra["max_replications"] = budget
    return Target(table.data["metric"], threshold, side == "below", confidence, **extra)


def _tail(table: Table) -> dict[str, Any]:
    """``per`` and ``miss_probability``: both or neither."""
    if ("per" in table.data) != ("miss_probability" in table.data):
        raise table.error("per" if "per" not in table.data else "miss_probability",
                          "give per (the period, such as \"1d\") and miss_probability (such as 0.05) together")
    if "per" not in table.data:
        return {}
    from sim.results.periods import PeriodMetricError, check_period_metric

    per = table.parse("per", parse_duration)
    if not per > 0:
        raise table.error("per", f"expected a period such as \"1d\" or \"1w\", got {table.data['per']!r}")
    share = table.data["miss_probability"]
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise table.error("miss_probability", f"expected a probability between 0 and 1, such as 0.05, got {share!r}")
    try:
        check_period_metric(table.data["metric"])
    except PeriodMetricError as error:
        raise table.error("metric", str(error)) from None
    return {"per": per, "miss_probability": float(share)}


def _threshold(value: object) -> float:
    number = parse_duration(value) if isinstance(value, str) else value
    if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
        raise ValueError(f"expected a number or a duration such as \"10min\", got {value!r}")
    return float(number)


def confidence_level(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"expected a confidence level between 0 and 1, such as 0.95, got {value!r}")
    return float(value)


def _search(table: Table) -> dict[str, Any]:
    key = table.data.get("search")
    if not isinstance(key, str) or not key:
        raise table.error("search", "expected the dotted scenario key to search, such as \"arrivals.rate\"")
    ends = table.data.get("range")
    if not isinstance(ends, list) or len(ends) != 2:
        raise table.error("range", f"expected [lowest, highest] values of {key}, got {ends!r}")
    try:
        low, high = (numeric(v) for v in ends)
    except ValueError as error:
        raise table.error("range", str(error)) from None
    if not low < high:
        raise table.error("range", f"expected the lowest value first, then a higher one, got {ends!r}")
    units = {_unit(v) for v in ends}
    if len(units) != 1:
        raise table.error("range", f"expected both ends in the same kind and unit, got {ends!r}")
    find = table.data.get("find", "max")
    if find not in ("max", "min"):
        raise table.error("find", f"expected \"max\" (the highest value that holds) or \"min\", got {find!r}")
    tolerance = table.data.get("tolerance", 0.01)
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 < tolerance < 1:
        raise table.error("tolerance", f"expected a share between 0 and 1, such as 0.01, got {tolerance!r}")
    return {"search": key, "low": low, "high": high, "unit": units.pop(), "find": find,
            "tolerance": float(tolerance)}


def search_target(target: Target | None, source: str) -> Target:
    """The target, which must name a key and range to search (raises ``ScenarioError``)."""
    if target is None:
        raise ScenarioError(source, "target", "no [target] table: give metric, below, search and range")
    if target.search is None:
        raise ScenarioError(source, "target.search", "missing; the capacity search needs search and range")
    return target
