"""Validating TOML configuration: tables that know their file and key path, and parsers of plain values.

Every scenario section is read through a ``Table``: it rejects unknown keys, parses each known key with its
parser, leaves absent keys to the dataclass default, and turns any bad value into a ``ScenarioError`` that
names the file, the full key path, what is wrong and what was expected.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, fields
from typing import Any

from sim.scenario.distributions import FieldError, count, parse_distribution
from sim.scenario.units import parse_duration

Parser = Callable[[Any], Any]


class ScenarioError(ValueError):
    """A scenario that cannot be used: names the file, the key and what was expected."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(f"{source}: {key}: {message}" if key else f"{source}: {message}")
        self.source = source
        self.key = key
        self.message = message



class Table:
    """A TOML table being validated: knows its file and key path so that every error can name them."""

    def __init__(self, source: str, path: str, data: object) -> None:
        self.source = source
        self.path = path
        if not isinstance(data, Mapping):
            raise self.error("", f"expected a table, got {data!r}")
        self.data: Mapping[str, Any] = data

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str) -> ScenarioError:
        return ScenarioError(self.source, self.key(name) if name else self.path, message)

    def table(self, name: str) -> Table:
        return Table(self.source, self.key(name), self.data.get(name, {}))

    def parse(self, name: str, parser: Parser) -> Any:
        try:
            return parser(self.data[name])
        except ScenarioError:
            raise
        except FieldError as error:
            key = f"{name}.{error.field}" if error.field else name
            raise self.error(key, error.message) from None
        except ValueError as error:
            raise self.error(name, str(error)) from None

    def build(self, cls: type, parsers: Mapping[str, Parser]) -> Any:
        """``cls(**parsed values)``: every key must have a parser; absent keys take the dataclass default."""
        for name in self.data:
            if name not in parsers:
                raise self.error(name, f"unknown key; expected one of {', '.join(parsers)}")
        kwargs = {name: self.parse(name, parser) for name, parser in parsers.items() if name in self.data}
        for f in fields(cls):
            required = f.default is MISSING and f.default_factory is MISSING
            if required and f.name not in kwargs:
                raise self.error(f.name, "missing; this key is required")
        try:
            return cls(**kwargs)
        except ValueError as error:  # the dataclass's own consistency checks
            raise self.error("", str(error)) from None

    def build_by_units(self, cls: type, base: Any = None, extra: Mapping[str, Parser] | None = None,
                       internal: Mapping[str, Any] | None = None) -> Any:
        """``cls`` with each field parsed by the unit in its metadata (``field_parser``), starting from the
        field values of ``base`` when given; ``extra`` keys are parsed but not passed on; ``internal`` gives the
        values of fields that are not keys of the file (unit ``internal``)."""
        parsers = {**(extra or {}), **{f.name: field_parser(f) for f in fields(cls)
                                        if f.metadata.get("unit") != "internal"}}
        for name in self.data:
            if name not in parsers:
                raise self.error(name, f"unknown key; expected one of {', '.join(parsers)}")
        kwargs = {f.name: getattr(base, f.name) for f in fields(cls)} if base is not None else {}
        kwargs.update({name: self.parse(name, parsers[name]) for name in self.data if name not in (extra or {})})
        kwargs.update(internal or {})
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.name not in kwargs]
        if missing:
            raise self.error(missing[0], "missing; this key is required")
        try:
            return cls(**kwargs)
        except ValueError as error:
            raise self.error("", str(error)) from None


def integer(minimum: int) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {value!r}")
        if value < minimum:
            raise ValueError(f"expected a whole number of at least {minimum}, got {value}")
        return value
    return parse


def workers(value: object) -> float:
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return value
    return float(integer(1)(value))


def positive_number(value: object) -> float:
    number = count(value)
    if number <= 0:
        raise ValueError(f"expected a number above zero, got {value!r}")
    return number


def choice(options: tuple[str, ...]) -> Parser:
    def parse(value: object) -> str:
        if value not in options:
            raise ValueError(f"unknown value {value!r}; expected one of {', '.join(options)}")
        return str(value)
    return parse


def names(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"expected a non-empty list of names, got {value!r}")
    return tuple(value)


def times_list(value: object) -> tuple[float, ...]:
    """A non-empty, non-decreasing list of times."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of times, got {value!r}")
    times = tuple(parse_duration(v) for v in value)
    if any(b < a for a, b in itertools.pairwise(times)):
        raise ValueError("expected times in non-decreasing order")
    return times


def distribution(parser: Parser) -> Parser:
    return lambda spec: parse_distribution(spec, parser)


def probability(value: object) -> float:
    number = count(value)
    if number > 1:
        raise ValueError(f"expected a probability between 0 and 1, got {value!r}")
    return number


def time_of_day(value: object) -> float:
    """Seconds after midnight in ``"HH:MM"`` or ``"HH:MM:SS"``."""
    from hardware_mock.calibration import parse_time_of_day

    if not isinstance(value, str):
        raise ValueError(f"expected a time of day such as \"14:15\", got {value!r}")
    return parse_time_of_day(value)


def times_of_day(value: object) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of times of day such as [\"00:45\", \"14:15\"], got {value!r}")
    return tuple(time_of_day(v) for v in value)


def messages(value: object) -> tuple[tuple[str, str], ...]:
    """A catalogue of errors: a list of [user message, log detail] pairs."""
    if not isinstance(value, list) or not value or not all(
            isinstance(v, list) and len(v) == 2 and all(isinstance(t, str) for t in v) for v in value):
        raise ValueError(f"expected a non-empty list of [user message, log detail] pairs, got {value!r}")
    return tuple((v[0], v[1]) for v in value)


def seconds_or_inf(value: object) -> float:
    """A duration, or ``inf`` for "never"."""
    if isinstance(value, float) and math.isinf(value) and value > 0:
        return value
    return parse_duration(value)


def text(value: object) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a non-empty string, got {value!r}")
    return value


def duration_or_distribution(value: object) -> Any:
    """A duration (a float of seconds), or a distribution of durations (a table such as ``{dist = "uniform",
    low = "30min", high = "60min"}``)."""
    if isinstance(value, Mapping):
        return parse_distribution(value, parse_duration)
    return parse_duration(value)


UNIT_PARSERS: dict[str, Parser] = {
    "seconds": seconds_or_inf, "count": integer(0), "number": count, "fraction": probability, "text": text,
    "time_of_day": time_of_day, "times_of_day": times_of_day, "messages": messages,
    "duration_distribution": duration_or_distribution,
}


def field_parser(f: Field[Any]) -> Parser:
    """How a configuration dataclass's field is read: by the ``unit`` in its metadata (default: seconds)."""
    return UNIT_PARSERS[f.metadata.get("unit", "seconds")]


def boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value
