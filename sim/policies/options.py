"""Reading the options of the built-in policies (``[scheduler.options]``), with errors that name the option.

Each reader raises ``FieldError(option, message)``; the scenario turns it into a ``ScenarioError`` naming
``scheduler.options.OPTION``. Durations take units as everywhere in a scenario (``"10min"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from sim.policies.context import GROUPINGS
from sim.scenario.distributions import FieldError
from sim.scenario.units import parse_duration


def duration(name: str, value: object, *, positive: bool = True) -> float:
    """A duration (a number of seconds or a string with a unit), above zero when ``positive``."""
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise FieldError(name, str(error)) from None
    if positive and not seconds > 0:
        raise FieldError(name, f"expected a duration above zero, got {value!r}")
    if math.isinf(seconds):
        raise FieldError(name, f"expected a finite duration, got {value!r}")
    return seconds


def grouping(name: str, value: object) -> str:
    """``user`` or ``project``."""
    if value not in GROUPINGS:
        raise FieldError(name, f"unknown value {value!r}; expected one of {', '.join(GROUPINGS)}")
    return str(value)


def positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 or math.isinf(value):
        raise FieldError(name, f"expected a number above zero, got {value!r}")
    return float(value)


def weights(name: str, value: object) -> dict[str, float]:
    """A table of group name -> weight above zero."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(name, f"expected a table of names and weights, such as {{ alice = 2, bob = 1 }}, "
                         f"got {value!r}")
    return {str(group): positive(f"{name}.{group}", weight) for group, weight in value.items()}
