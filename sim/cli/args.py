"""Command-line arguments shared by the ``stationsim`` subcommands: value types with one-line errors, and the
options that change a scenario or name an output folder."""

from __future__ import annotations

import argparse
import math
import tomllib
from collections.abc import Callable
from pathlib import Path

from sim.scenario.units import parse_duration


class UsageError(Exception):
    """Bad input given on the command line itself."""


def whole_number(minimum: int, what: str = "a whole number", maximum: int | None = None) -> Callable[[str], int]:
    """An argument type: a whole number of at least ``minimum`` (and at most ``maximum``)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"expected {what} from {minimum} to {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what} of at least {minimum}, got {value}")
        return value
    return parse


positive = whole_number(1)
seed = whole_number(0, "a seed", 2**63 - 1)  # results databases keep seeds as SQLite's signed 64-bit INTEGER
count = whole_number(0)


def duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a confidence level between 0 and 1, such as 0.95, got {text!r}")
    return value


def out_folder(text: str) -> Path:
    """An argument type: a folder name, not empty (``Path('')`` would silently be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder name, got an empty one")
    return Path(text)


def prepare_out(out: Path) -> Path:
    """The ``--out`` folder, made if need be."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out: expected a folder, but this is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"{out}: --out: cannot make this folder ({error.strerror})") from None
    return out


def changes(pairs: list[str]) -> dict[str, object]:
    """``--set KEY=VALUE`` pairs with VALUE read as a TOML value (a bare word as a string)."""
    result: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {pair}: expected KEY=VALUE, such as restarts.policy=requeue")
        try:
            result[key.strip()] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            result[key.strip()] = text
    return result
