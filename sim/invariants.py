"""The invariant checker, under the name users' tests import (``from sim.invariants import check``); it
lives in ``sim.results.invariants``."""

from sim.results.invariants import History, assert_invariants, check, check_history
from sim.results.violation import Violation

__all__ = ["History", "Violation", "assert_invariants", "check", "check_history"]
