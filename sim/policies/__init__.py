"""Scheduling policies of the execution queue: which job waiting in PENDING_EXECUTION gets the next instrument.

The instruments' pool owns the instruments and the waiting jobs' grant events; a *policy* owns the order. It is
told when a job joins or leaves the queue and asked, whenever an instrument is free, which job starts now: a
question answered at dispatch time, so that the answer may depend on the time (``sim.policies.protocol``).
Policies read the jobs through a ``QueueContext`` (``sim.policies.context``), never the station.

Built-in policies, by the name a scenario gives them (``[scheduler] policy = "..."``), with their options
(``[scheduler.options]``); each module's docstring states the policy's promise:

- ``fifo``: queue-entry order (IQM's shared queue; the default). ``sim.policies.ordering``
- ``priority``: strict priority classes, FIFO within a class. ``sim.policies.ordering``
- ``timeslot``: IQM's timeslot queue beside the shared FIFO, with reserved windows; option
  ``shared_jobs_in_window``. ``sim.policies.timeslot``
- ``shortest_first``: least expected execution time first. ``sim.policies.ordering``
- ``fair_share``: least exponentially decayed usage per weight, by user or project; options ``by``,
  ``weights``, ``default_weight``, ``half_life``. ``sim.policies.fair_share``
- ``aging``: priority that grows with the time waited; option ``step``. ``sim.policies.ordering``
- ``calibration_aware``: FIFO, holding back jobs that would run into the next recalibration.
  ``sim.policies.calibration_aware``

A user's policy is a plain class in the user's own module, named in the scenario as ``"module:Class"`` (or
``"file.py:Class"`` next to the scenario file), built as ``Class(context, **options)``. Subclass ``KeyPolicy``
(a key per job, O(log n)) or ``SelectPolicy`` (choose among all waiting jobs, O(n)), or implement the protocol
directly (``pop(now, instrument)``, optional ``started`` and ``finished`` callbacks; no preemption).

A policy's options that are wrong raise ``OptionError(key, message)`` from its constructor (``key`` a dotted path
inside ``[scheduler.options]``, such as ``"slack.batch"``): ``stationsim validate`` and every run then name
``scheduler.options.slack.batch``. ``sim.policies.options`` has readers for durations, weights and numbers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sim.policies.base import KeyPolicy, SelectPolicy
from sim.policies.context import QueueContext
from sim.policies.ordering import Aging, Fifo, ShortestFirst, StrictPriority
from sim.policies.protocol import RUN_ENDS, PolicyError, PolicyFactory, RunOutcome, SchedulingPolicy
from sim.policies.ranked import RankedList
from sim.policies.registry import BUILTIN, policy_for_run, resolve
from sim.scenario.distributions import FieldError as OptionError  # a bad option: OptionError("slack.batch", "...")

if TYPE_CHECKING:
    from sim.policies.calibration_aware import CalibrationAware
    from sim.policies.fair_share import FairShare
    from sim.policies.timeslot import Timeslot
    from sim.policies.windows import Window

_HOMES = {"CalibrationAware": "sim.policies.calibration_aware", "FairShare": "sim.policies.fair_share",
          "Timeslot": "sim.policies.timeslot", "Window": "sim.policies.windows"}
"""Names imported on first use (PEP 562): a run loads the module of its own policy only (``BUILTIN``)."""

__all__ = [
    "BUILTIN",
    "RUN_ENDS",
    "Aging",
    "CalibrationAware",
    "FairShare",
    "Fifo",
    "KeyPolicy",
    "OptionError",
    "PolicyError",
    "PolicyFactory",
    "QueueContext",
    "RankedList",
    "RunOutcome",
    "SchedulingPolicy",
    "SelectPolicy",
    "ShortestFirst",
    "StrictPriority",
    "Timeslot",
    "Window",
    "policy_for_run",
    "resolve",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'sim.policies' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # looked up once: later reads find it in the module's namespace
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
