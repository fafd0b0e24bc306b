"""stationsim: a discrete-event simulator of a quantum computer's job-execution service.

Modelled on IQM Station Control's job executor: jobs are received, validated, fetch a calibration, are
compiled, have their sweep metadata saved, wait for an instrument, execute on a mocked QPU, are post-processed
and end READY, FAILED or ABORTED.

    >>> import sim
    >>> result = sim.simulate("scenarios/baseline.toml", seed=7, jobs=1000)   # doctest: +SKIP
    >>> result.summary()["stages"]["execution"]["wait"]["p95"]                # doctest: +SKIP

The names below are imported on first use (PEP 562), so that ``import sim`` and a single run do not pay for
the experiment layer (replications, sweeps, the capacity search) or for reading the installed version.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.experiments.capacity import find_capacity
    from sim.experiments.replications import replicate
    from sim.experiments.sweeps import Sweep, run_sweep
    from sim.model.status import IllegalTransition, JobStatus
    from sim.results.run import RunResult
    from sim.scenario.config import ScenarioError
    from sim.scenario.scenario import Scenario
    from sim.simulation import load_scenario, simulate

    __version__: str

_HOMES = {
    "IllegalTransition": "sim.model.status",
    "JobStatus": "sim.model.status",
    "RunResult": "sim.results.run",
    "Scenario": "sim.scenario.scenario",
    "ScenarioError": "sim.scenario.config",
    "Sweep": "sim.experiments.sweeps",
    "find_capacity": "sim.experiments.capacity",
    "load_scenario": "sim.simulation",
    "replicate": "sim.experiments.replications",
    "run_sweep": "sim.experiments.sweeps",
    "simulate": "sim.simulation",
}
"""Each public name and the module that defines it."""

__all__ = [  # _HOMES's names and the version, spelled out for readers and linters
    "IllegalTransition",
    "JobStatus",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Sweep",
    "__version__",
    "find_capacity",
    "load_scenario",
    "replicate",
    "run_sweep",
    "simulate",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    globals()[name] = value  # looked up once: later reads find it in the module's namespace
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stationsim")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
