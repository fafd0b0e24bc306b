"""The scheduling-policy protocol: what the execution queue asks of a policy, and when.

Jobs in PENDING_EXECUTION wait for an instrument. The station's instrument pool owns the instruments and one
grant event per waiting job; the *policy* owns the order. The pool tells the policy that a job joined the queue
(``push``) or left it without starting (``remove``: an abort, a restart), and whenever an instrument is free it
asks which waiting job starts on it now (``pop``). The answer may depend on the time (a reserved window is open,
a recalibration is near, a user's share is used up), so the question is asked at dispatch time, never answered
in advance by a key computed when the job arrived:

- ``pop(now)`` returns the job to start, or None for "nothing may start now" although jobs wait. The pool then
  asks ``next_change(now)``: the time at which the answer may change (a window opens), or None if only a new
  arrival or a freed instrument can change it; it wakes itself up then and asks again;
- ``position(job, now)`` is the number of jobs ahead of ``job`` (what IQM's ``JobData.position`` shows); a
  policy whose order changes with time gives its best estimate and says how in its docstring;
- ``sees_every_job`` (an optional attribute, True when absent): False if the policy never holds a job back
  while an instrument is free and need not see a job that arrives to an idle pool with nobody waiting; the
  pool then starts such a job at once without asking (its fast path, which costs nothing). FIFO and the other
  key policies set it False; policies that keep accounts of every start (fair share) or that hold jobs back
  (reserved windows, calibration-aware) leave it True.

A policy is built once per run by a *factory* called with the run's ``QueueContext`` (its read-only view of the
jobs) and the scenario's ``[scheduler.options]`` as keyword arguments; a policy class whose constructor is
``__init__(self, context, **options)`` is such a factory. Ties must be broken explicitly, by queue-entry time
and then job id, never by the order of a dict or set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from sim.scenario.config import ScenarioError

REQUIRED_METHODS = ("push", "pop", "remove", "position", "next_change", "__len__")


@runtime_checkable
class SchedulingPolicy(Protocol):
    """The order of a queue of jobs waiting for a server (see the module docstring). A policy may also have a
    ``sees_every_job`` attribute (True when absent)."""

    def push(self, job: int, now: float) -> None:
        """``job`` joined the queue at ``now`` (its queue-entry time, which a rejoining job keeps, is
        ``context.entered(job)``)."""

    def pop(self, now: float) -> int | None:
        """The waiting job that takes the free server now, removed from the queue; None: none may start now."""

    def remove(self, job: int) -> None:
        """``job`` left the queue without starting (aborted, or lost in a restart)."""

    def position(self, job: int, now: float) -> int:
        """How many waiting jobs are ahead of ``job``."""

    def next_change(self, now: float) -> float | None:
        """After ``pop(now)`` returned None: the time (after ``now``) at which a job may become able to start,
        or None if only an arrival or a freed server can make one."""

    def __len__(self) -> int:
        """How many jobs wait."""


PolicyFactory = Callable[..., SchedulingPolicy]
"""Builds a run's policy: ``factory(context, **options)``."""


class PolicyError(ScenarioError):
    """A scheduling policy that cannot be used or that broke the protocol during a run: names the scenario file,
    the key (``scheduler.policy`` or one of its options) and what is wrong."""

    def __init__(self, source: str, key: str, message: str) -> None:
        super().__init__(source, key, message)
        self.args = (source, key, message)  # SimPy rebuilds a process's exception from its args

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.message}" if self.key else f"{self.source}: {self.message}"


def missing_methods(candidate: Any) -> list[str]:
    """The protocol's methods that ``candidate`` (a policy or its class) lacks."""
    return [name for name in REQUIRED_METHODS if not callable(getattr(candidate, name, None))]


def describe(factory: Callable[..., Any]) -> str:
    """A factory's import path, ``module:QualName`` (how a scenario names it)."""
    module = getattr(factory, "__module__", None) or "?"
    name = getattr(factory, "__qualname__", None) or type(factory).__qualname__
    return f"{module}:{name}"

