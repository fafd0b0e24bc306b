"""The scheduling-policy protocol: what the execution queue asks of a policy, and when.

Jobs in PENDING_EXECUTION wait for an instrument. The station's instrument pool owns the instruments and one
grant event per waiting job; the *policy* owns the order. The pool tells the policy that a job joined the queue
(``push``) or left it without starting (``remove``: an abort, a restart), and whenever an instrument is free it
asks which waiting job starts on it now (``pop``). The answer may depend on the time (a reserved window is open,
a recalibration is near, a user's share is used up), so the question is asked at dispatch time, never answered
in advance by a key computed when the job arrived:

- ``pop(now, instrument)`` returns the job to start on the free ``instrument`` (its index: ``context.devices``
  says what it is), or None for "nothing may start on it now" although jobs wait. When several instruments are
  free the pool asks for each, lowest index first. After a None it asks ``next_change(now)``: the time at which
  the answer may change (a window opens), or None if only a new arrival or a freed instrument can change it; it
  wakes itself up then and asks again. A policy written for the first version, ``pop(self, now)``, keeps
  working: the pool looks at the method's signature once, when the run starts, and then asks it once per
  dispatch, whatever instrument is free;
- ``position(job, now)`` is the number of jobs ahead of ``job`` (what IQM's ``JobData.position`` shows); a
  policy whose order changes with time gives its best estimate and says how in its docstring, or None when it
  cannot say (the client then sees no position);
- ``sees_every_job`` (an optional attribute, True when absent): False if the policy never holds a job back
  while an instrument is free and need not see a job that arrives to an idle pool with nobody waiting; the
  pool then starts such a job at once without asking (its fast path, which costs nothing). FIFO and the other
  key policies set it False; policies that keep accounts of every start (fair share) or that hold jobs back
  (reserved windows, calibration-aware) leave it True.

Two optional callbacks give a policy feedback from the instruments (adaptive policies, usage accounts); the
station looks them up once per run, so a policy without them costs nothing:

- ``started(job, instrument, now)``: ``job`` began its run on ``instrument`` (also when a restart's recovery
  runs it again on its own instrument, ahead of the queue, without ``pop``);
- ``finished(job, instrument, now, outcome)``: the run ended; ``outcome`` is a ``RunOutcome``: ``end`` is
  ``"ready"`` (ran to its end: EXECUTION_ENDED), ``"failed"`` (an instrument error, an outage, a station
  failure or the execution timeout), ``"aborted"`` (a user's cancel stopped it) or ``"restarted"`` (the service
  restarted under it), and ``run_time`` the seconds it actually held the instrument.

**Out of scope: preemption.** A policy chooses only which waiting job takes a *free* instrument; it cannot stop
a running job to make room for another (only an abort, an outage, the execution timeout or a restart ends a run
early), and a job it returned cannot be taken back.

**Errors.** A policy that raises in any of these methods, returns a job that does not wait (a stranger, or a job
it returned before), returns a ``next_change`` that is not after ``now``, or holds jobs back while instruments
are idle with nothing left to wake it (a stall), stops the run with a ``PolicyError`` whose one line names the
policy, the job (or the jobs waiting) and what happened (the exception's type and message). The command line
prints it and exits with status 2; ``sim.testing.run`` raises it.

A policy is built once per run by a *factory* called with the run's ``QueueContext`` (its read-only view of the
jobs) and the scenario's ``[scheduler.options]`` as keyword arguments; a policy class whose constructor is
``__init__(self, context, **options)`` is such a factory. Ties must be broken explicitly, by queue-entry time
and then job id, never by the order of a dict or set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, runtime_checkable

from sim.scenario.config import ScenarioError

REQUIRED_METHODS = ("push", "pop", "remove", "position", "next_change", "__len__")


@runtime_checkable
class SchedulingPolicy(Protocol):
    """The order of a queue of jobs waiting for a server (see the module docstring). A policy may also have a
    ``sees_every_job`` attribute (True when absent)."""

    def push(self, job: int, now: float) -> None:
        """``job`` joined the queue at ``now`` (its queue-entry time, which a rejoining job keeps, is
        ``context.entered(job)``)."""

    def pop(self, now: float, instrument: int) -> int | None:
        """The waiting job that takes the free ``instrument`` now, removed from the queue; None: none may start
        on it now. (``pop(self, now)`` without the instrument is still accepted.)"""

    def remove(self, job: int) -> None:
        """``job`` left the queue without starting (aborted, or lost in a restart)."""

    def position(self, job: int, now: float) -> int | None:
        """How many waiting jobs are ahead of ``job`` (None: the policy cannot say)."""

    def next_change(self, now: float) -> float | None:
        """After ``pop(now)`` returned None: the time (after ``now``) at which a job may become able to start,
        or None if only an arrival or a freed server can make one."""

    def __len__(self) -> int:
        """How many jobs wait."""


class RunOutcome(NamedTuple):
    """How a run on an instrument ended, as ``finished`` hears it."""

    end: str
    """``ready``, ``failed``, ``aborted`` or ``restarted`` (``RUN_ENDS``)."""
    run_time: float
    """Seconds the job actually held the instrument for this run."""


RUN_ENDS = ("ready", "failed", "aborted", "restarted")
"""Every ``RunOutcome.end``."""

PopAt = Callable[[float, int], "int | None"]
"""``pop`` called with the time and the free instrument."""


def pop_with_instrument(policy: Any) -> tuple[PopAt, bool]:
    """The policy's ``pop`` as ``pop(now, instrument)``, and whether it takes the instrument. Looked at once per
    run: a first-version ``pop(self, now)`` gets a wrapper that drops the instrument."""
    pop = policy.pop
    if _takes_instrument(pop):
        return pop, True

    def pop_now(now: float, instrument: int) -> int | None:
        return pop(now)  # type: ignore[no-any-return]

    return pop_now, False


def _takes_instrument(method: Callable[..., Any]) -> bool:
    try:
        parameters = list(inspect.signature(method).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: give it what the protocol says
        return True
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2


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

