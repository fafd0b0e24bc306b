"""Loading a module of ``tests/policies_outside`` by file, as a scenario's ``"file.py:Class"`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.policies.registry import _load_file  # the same loader, so classes are the same objects

FOLDER = Path(__file__).parent / "policies_outside"


def load(name: str) -> Any:
    return _load_file(name, FOLDER)
