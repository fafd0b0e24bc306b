"""Quantities with units, as written in scenario files: durations (``"250us"``, ``"15min"``, ``"12h"``) and
rates (``"300/h"``). Inside the simulator every time is a float number of seconds.

A bare number is already in seconds (durations) or per second (rates). Parsing errors are ``ValueError`` with
a message that says what was expected; the scenario loader adds the file and key.
"""

from __future__ import annotations

import math
import re

SECONDS_PER_UNIT: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zµ]*)\s*$")
_UNITS = ", ".join(SECONDS_PER_UNIT)


def _split(text: str) -> tuple[float, str] | None:
    match = _QUANTITY.match(text)
    if match is None:
        return None
    return float(match.group(1)), match.group(2)


def parse_duration(value: object) -> float:
    """Seconds in ``value``: a number of seconds, or a string with a unit (one of ns, us, ms, s, min, h, d, w)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as \"250us\" or \"15min\", got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        parts = _split(value)
        if parts is None or (parts[1] not in SECONDS_PER_UNIT and parts[1] != ""):
            raise ValueError(f"expected a duration with a unit ({_UNITS}), such as \"250us\", got {value!r}")
        number, unit = parts
        seconds = number * SECONDS_PER_UNIT.get(unit, 1.0)
    else:
        raise ValueError(f"expected a duration such as \"250us\" or \"15min\", got {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected a finite duration of zero or more, got {value!r}")
    return seconds


def parse_rate(value: object) -> float:
    """Events per second in ``value``: a number per second, or a string such as ``"300/h"`` or ``"5/min"``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a rate such as \"300/h\", got {value!r}")
    if isinstance(value, int | float):
        rate = float(value)
    elif isinstance(value, str) and "/" in value:
        count_text, _, unit = value.partition("/")
        parts = _split(count_text)
        unit = unit.strip()
        if parts is None or parts[1] or unit not in SECONDS_PER_UNIT:
            raise ValueError(f"expected a rate such as \"300/h\" (per {_UNITS}), got {value!r}")
        rate = parts[0] / SECONDS_PER_UNIT[unit]
    else:
        raise ValueError(f"expected a rate such as \"300/h\", got {value!r}")
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"expected a positive rate, got {value!r}")
    return rate


def format_seconds(seconds: float) -> str:
    """A short human reading of a duration: ``0.35ms``, ``4.2s``, ``3.1min``, ``2.5h``."""
    if math.isnan(seconds):
        return "-"
    magnitude = abs(seconds)
    if magnitude == 0:
        return "0"
    for unit, scale, limit in (("us", 1e-6, 1e-3), ("ms", 1e-3, 1.0), ("s", 1.0, 120.0), ("min", 60.0, 7200.0)):
        if magnitude < limit:
            return f"{seconds / scale:.3g}{unit}"
    return f"{seconds / 3600.0:.3g}h"
