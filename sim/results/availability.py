"""Availability: how each instrument and each pool of workers spent the run, named so nobody misreads it.

An instrument's time splits into shares that add up to 100%:

- ``user_jobs``: running user jobs (their runs, finishing the shot batch of an aborted one, and runs the
  execution timeout stopped);
- ``calibrating``: recalibrations;
- ``maintenance``: scheduled maintenance windows;
- ``down``: outages, and resets after a timed-out run;
- ``service_down``: the service was restarting (nothing ran, whatever the instrument could have done);
- ``idle``: available, and no job to run.

``available`` is ``user_jobs + idle``: the time the instrument could have served a user job, and
``utilisation_of_available`` = ``user_jobs / available``, the share of that time it did. The plain
``utilisation`` of a stage (``sim.results.metrics``) is ``user_jobs`` over all the time: on an instrument that
calibrates for hours a day the two differ, and the planner needs both. A pool of workers has the same split with
``busy`` (holding a job), ``service_down`` and ``idle``. Everything from the holdings (``sim.model.records``), from
``since`` to the end of the run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from sim.model.records import Holder, HoldingsTable
from sim.scenario.scenario import STAGE_NAMES

if TYPE_CHECKING:
    from sim.results.run import RunResult

INSTRUMENT_SHARES = ("user_jobs", "calibrating", "maintenance", "down", "service_down", "idle")
POOL_SHARES = ("busy", "service_down", "idle")


def _held(table: HoldingsTable, mask: npt.NDArray[np.bool_], servers: int, since: float,
          until: float) -> npt.NDArray[np.float64]:
    """Seconds each server was held by the holdings ``mask`` selects, within ``[since, until]``."""
    seconds = np.clip(np.minimum(table.end[mask], until) - np.maximum(table.start[mask], since), 0.0, None)
    held = np.bincount(table.server[mask], weights=seconds, minlength=servers)[:servers].astype(np.float64)
    return held


def _down_seconds(result: RunResult, since: float, until: float) -> float:
    from sim.results.metrics import downtimes

    return sum(max(min(end, until) - max(start, since), 0.0) for start, end in downtimes(result))


def _shares(seconds: dict[str, float], total: float, work: str) -> dict[str, float]:
    shares = {name: value / total for name, value in seconds.items()}
    available = seconds[work] + seconds["idle"]
    shares["available"] = available / total
    shares["utilisation_of_available"] = seconds[work] / available if available > 0 else math.nan
    return shares


def instrument_availability(result: RunResult, since: float = 0.0) -> dict[str, dict[str, float]]:
    """Each instrument's split (by name) and the fleet's (``all``), as shares of its time after ``since``."""
    names = result.scenario.hardware.names
    until = result.sim_time
    total = until - since
    if total <= 0:
        return {}
    table = result.holdings.get("execution", HoldingsTable.empty())
    holder, n = table.holder, len(names)
    parts = {
        "user_jobs": _held(table, holder >= 0, n, since, until),
        "calibrating": _held(table, holder == Holder.CALIBRATION, n, since, until),
        "maintenance": _held(table, holder == Holder.MAINTENANCE, n, since, until),
        "down": _held(table, (holder == Holder.OUTAGE) | (holder == Holder.RESET), n, since, until),
        "service_down": np.full(n, _down_seconds(result, since, until)),
    }
    parts["idle"] = np.clip(total - sum(parts.values()), 0.0, None)
    split = {name: _shares({k: float(v[i]) for k, v in parts.items()}, total, "user_jobs")
             for i, name in enumerate(names)}
    split["all"] = _shares({k: float(v.sum()) for k, v in parts.items()}, total * n, "user_jobs")
    return split


def pool_availability(result: RunResult, stage: str, since: float = 0.0) -> dict[str, float] | None:
    """A stage's pool of workers: shares of its worker-time after ``since`` (None for unlimited workers)."""
    workers = getattr(result.scenario.stages, stage).workers
    total = result.sim_time - since
    if not math.isfinite(workers) or total <= 0:
        return None
    table = result.holdings.get(stage, HoldingsTable.empty())
    seconds = {"busy": table.busy(since, result.sim_time),
               "service_down": workers * _down_seconds(result, since, result.sim_time)}
    seconds["idle"] = max(workers * total - sum(seconds.values()), 0.0)
    return _shares(seconds, workers * total, "busy")


def availability(result: RunResult, since: float = 0.0) -> dict[str, object]:
    """The split of every instrument and every limited pool (see the module's docstring)."""
    pools = {stage: pool_availability(result, stage, since) for stage in STAGE_NAMES}
    return {"instruments": instrument_availability(result, since),
            "pools": {stage: split for stage, split in pools.items() if split is not None}}
