"""Running a scenario under a given scheduling policy, in one call.

``run(scenario, policy, jobs=..., seed=...)`` takes a scenario (a ``Scenario``, a TOML path or a dict of its
tables), puts ``policy`` in its ``[scheduler]`` (a built-in name, ``"module:Class"``, a variant the scenario
defines under ``[scheduler.variants]``, or the policy class itself) with ``options``, and simulates it. The
options default to those the scenario gives for that policy: the variant's, or ``[scheduler.options]`` when the
policy is the scenario's own; otherwise none.

After the run, ``context_of(result)`` is the run's ``QueueContext`` (every job's workload columns, the devices,
each job's last queue-entry time) and ``policy_of(result)`` the scenario's policy built afresh on it, so that a
test can ask the policy itself, say ``policy_of(result).key``, what order it promised
(``assert_no_overtaking(result, rank=policy_of(result).key)``). A policy that raises or breaks the protocol during
``run`` raises ``PolicyError`` (``sim.policies``) with the one line the command line prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.model.status import PENDING_EXECUTION
from sim.policies import QueueContext, SchedulingPolicy, policy_for_run
from sim.results.run import RunResult
from sim.scenario.scenario import Scenario
from sim.simulation import load_scenario, simulate

ScenarioLike = Scenario | str | Path | Mapping[str, Any]


def as_scenario(scenario: ScenarioLike) -> Scenario:
    """A scenario from a ``Scenario``, a TOML file, or a dict of its tables."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping):
        return Scenario.from_dict(scenario)
    return load_scenario(scenario)


def with_policy(scenario: ScenarioLike, policy: object = None, options: Mapping[str, Any] | None = None,
                **changes: Any) -> Scenario:
    """``scenario`` with ``policy`` (and ``options``) as its scheduling policy, and any other ``changes`` (dotted
    keys, as ``Scenario.with_values`` takes them, with ``__`` for dots: ``run__jobs=100``)."""
    base = as_scenario(scenario)
    values: dict[str, Any] = {key.replace("__", "."): value for key, value in changes.items()}
    if policy is not None:
        scheduler = base.scheduler
        if isinstance(policy, str) and policy in scheduler.variants:
            variant = scheduler.variants[policy]
            policy, default_options = variant["policy"], variant["options"]
        elif policy == scheduler.policy or (callable(policy) and policy is scheduler.factory):
            default_options = scheduler.options
        else:
            default_options = {}
        values["scheduler.policy"] = policy
        values["scheduler.options"] = dict(default_options if options is None else options)
    elif options is not None:
        values["scheduler.options"] = dict(options)
    return base.with_values(values) if values else base


def run(scenario: ScenarioLike, policy: object = None, *, options: Mapping[str, Any] | None = None,
        jobs: int | None = None, seed: int | None = None, store: str | Path | None = None,
        **changes: Any) -> RunResult:
    """Simulate ``scenario`` under ``policy`` (None: the scenario's own); see ``with_policy``."""
    return simulate(with_policy(scenario, policy, options, **changes), jobs=jobs, seed=seed, store=store)


def context_of(result: RunResult) -> QueueContext:
    """The ``QueueContext`` of a finished run: what its policy read (each job's last queue-entry time)."""
    from sim.testing.ordering import expected_execution  # ordering imports this module's neighbours

    hardware, w = result.scenario.hardware, result.workload
    entered = np.ascontiguousarray(result.times[:, PENDING_EXECUTION], dtype=np.float64)
    return QueueContext.for_workload(w, expected_execution(result), entered, devices=tuple(hardware.devices),
                                     windows=result.scenario.scheduler.windows)


def policy_of(result: RunResult) -> SchedulingPolicy:
    """The run's scheduling policy (with its options) built afresh on ``context_of(result)``, to ask it what it
    promised: its ``key``, its ``deadline``, ..."""
    return policy_for_run(result.scenario.scheduler, context_of(result), result.scenario.source)
