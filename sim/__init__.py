"""stationsim: a discrete-event simulator of a quantum computer's job-execution service.

Modelled on IQM Station Control's job executor: jobs are received, validated, fetch a calibration, are
compiled, have their sweep metadata saved, wait for an instrument, execute on a mocked QPU, are post-processed
and end READY, FAILED or ABORTED.

    >>> import sim
    >>> result = sim.simulate("scenarios/baseline.toml", seed=7, jobs=1000)   # doctest: +SKIP
    >>> result.summary()["stages"]["execution"]["wait"]["p95"]                # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from sim.experiments.capacity import find_capacity
from sim.experiments.replications import replicate
from sim.experiments.sweeps import Sweep, run_sweep
from sim.model.status import IllegalTransition, JobStatus
from sim.results.run import RunResult
from sim.scenario.config import ScenarioError
from sim.scenario.scenario import Scenario
from sim.simulation import load_scenario, simulate

try:
    __version__ = version("stationsim")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
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
