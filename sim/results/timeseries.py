"""Time series of a run: how many jobs are in each status, or wait in each stage's queue, and what each
instrument is doing, over simulated time.

A job is *in* a status from the time it reached it until the time it reached its next status (the next one on
the happy path, or FAILED or ABORTED); it stays in a terminal status for good, so the READY, FAILED and ABORTED
columns count the jobs finished so far. A job *waits* for a stage while it is in the status before the stage's
start (the previous stage's ENDED, PENDING_EXECUTION or POST_PROCESSING_PENDING): that count is what capacity
planners call the stage's queue length. It is *in service* in a stage while it is in the stage's STARTED
status. (A job that a ``requeue`` restart sends back to redo a stage keeps its STARTED record, so it counts
as in service while it queues again for the stage.)

Each count is a step function, the sum of one unit step per job (up at entry, down at exit). ``Occupancy``
holds, per named count, the sorted entry and exit times, and answers everything from them with binary searches:
the counts at any times (``at``), the exact change points (``changes``), averages and maxima over the bins of a
grid (``bin_means``, ``bin_max``), and time averages (``time_average``, which with Little's law equals the
throughput times the mean time spent). A million jobs take a few seconds at most.

An instrument is, at every moment of the run, in one *state*, read from the instrument pool's holdings
(``sim.model.records``): running a ``user_job`` (its holding), ``stopping`` (finishing the shot batch of an
aborted job: its holding after its ABORTED time), ``timed_out`` (a run the execution timeout stopped), ``reset``
(after a timeout), ``calibration``, ``outage``, ``service_down`` (the service was restarting: nothing held it)
or ``idle``. ``instrument_states`` lists these as
intervals (instrument, state, start, end); ``state_totals`` adds them up per instrument.

Everything here works the same on a result fresh from ``sim.simulate`` and on one read back with
``sim.results.store.load_run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.model.records import Holder, HoldingsTable, Outcome
from sim.model.status import ABORTED, READY, STAGE_STARTS, STATUSES

if TYPE_CHECKING:
    from sim.results.run import RunResult

FloatArray = npt.NDArray[np.float64]

DEFAULT_POINTS = 1001
"""Points of the default regular grid over a run (1,000 intervals)."""
STATES = ("user_job", "stopping", "timed_out", "reset", "calibration", "maintenance", "outage", "service_down",
          "idle")
"""An instrument's states, in the order tables and legends show them."""
STATUS_NAMES = tuple(s.value for s in STATUSES)
STAGE_NAMES = tuple(STAGE_STARTS)


# --- jobs in statuses --------------------------------------------------------------------------------------------

def leave_times(times: FloatArray) -> FloatArray:
    """When each job left each status it was in (same shape as ``times``): the time of its next status; infinity
    for a status it is still in or a terminal one; NaN for a status it never reached."""
    earliest_from = np.fmin.accumulate(times[:, ::-1], axis=1)[:, ::-1]  # [:, s]: first time at status >= s
    leave = np.full_like(times, np.inf)
    leave[:, :READY] = earliest_from[:, 1:READY + 1]
    leave[np.isnan(leave)] = np.inf
    leave[np.isnan(times)] = np.nan
    return leave


@dataclass(frozen=True)
class Occupancy:
    """Named counts of jobs over ``[0, end]``: job *j* counts in ``names[k]`` from ``enters[k][j]`` until
    ``leaves[k][j]`` (the arrays sorted; a job that never leaves has no leave time)."""

    names: tuple[str, ...]
    enters: tuple[FloatArray, ...]
    leaves: tuple[FloatArray, ...]
    end: float
    """The end of the run (simulated seconds): the default end of averages and grids."""

    @classmethod
    def from_intervals(cls, names: Sequence[str], enter: FloatArray, leave: FloatArray, end: float) -> Occupancy:
        """Counts from per-job columns: ``enter[:, k]`` (NaN: never in ``names[k]``) and ``leave[:, k]``
        (infinity: never left)."""
        enters, leaves = [], []
        for k in range(len(names)):
            entered = np.isfinite(enter[:, k])
            enters.append(np.sort(enter[entered, k]))
            left = leave[entered, k]
            leaves.append(np.sort(left[np.isfinite(left)]))
        return cls(tuple(names), tuple(enters), tuple(leaves), float(end))

    def _frame(self, index: FloatArray, values: npt.NDArray[np.generic]) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.Index(index, name="t"), columns=list(self.names))

    def counts(self, times: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Jobs in each state just after every change at each of ``times``: shape (times, names)."""
        t = np.asarray(times, dtype=np.float64)
        out = np.empty((t.size, len(self.names)), dtype=np.int64)
        for k, (enter, leave) in enumerate(zip(self.enters, self.leaves, strict=True)):
            out[:, k] = np.searchsorted(enter, t, side="right") - np.searchsorted(leave, t, side="right")
        return out

    def at(self, times: npt.ArrayLike) -> pd.DataFrame:
        """The counts at ``times`` (a regular grid, say): a DataFrame indexed by time."""
        t = np.asarray(times, dtype=np.float64)
        return self._frame(t, self.counts(t))

    def changes(self, names: Sequence[str] | None = None) -> pd.DataFrame:
        """The exact step functions of ``names`` (default all): one row at time 0 and one at every time any of
        them changes, holding the counts from that time on."""
        chosen = self.select(names) if names is not None else self
        t = np.unique(np.concatenate([np.zeros(1), *chosen.enters, *chosen.leaves]))
        values = chosen.counts(t)
        keep = np.ones(t.size, dtype=bool)
        keep[1:] = np.any(values[1:] != values[:-1], axis=1)  # a job in and out at the same instant changes nothing
        return chosen._frame(t[keep], values[keep])

    @cached_property
    def steps(self) -> tuple[tuple[FloatArray, npt.NDArray[np.int64], FloatArray], ...]:
        """Per name, the step function itself: the times it changes (sorted), the count from each of them on,
        and the job-seconds accumulated from time 0 to each (a sum of small positive terms, so that even a
        queue that is almost always empty integrates to full precision)."""
        out = []
        for enter, leave in zip(self.enters, self.leaves, strict=True):
            t = np.unique(np.concatenate([enter, leave]))
            n = np.searchsorted(enter, t, side="right") - np.searchsorted(leave, t, side="right")
            area = np.zeros(t.size)
            np.cumsum(n[:-1] * np.diff(t), out=area[1:])
            out.append((t, n, area))
        return tuple(out)

    def integral(self, times: npt.ArrayLike) -> FloatArray:
        """Job-seconds spent in each state from time 0 to each of ``times``: shape (times, names)."""
        t = np.asarray(times, dtype=np.float64)
        out = np.zeros((t.size, len(self.names)))
        for k, (change, n, area) in enumerate(self.steps):
            i = np.searchsorted(change, t, side="right") - 1
            after = i >= 0  # before the first change every count is zero
            out[after, k] = area[i[after]] + n[i[after]] * (t[after] - change[i[after]])
        return out

    def bin_means(self, edges: npt.ArrayLike) -> pd.DataFrame:
        """The time-average count over each bin between consecutive ``edges``, indexed by the bin's start."""
        e = np.asarray(edges, dtype=np.float64)
        return self._frame(e[:-1], np.diff(self.integral(e), axis=0) / np.diff(e)[:, None])

    def bin_max(self, edges: npt.ArrayLike) -> pd.DataFrame:
        """The largest count within each bin between consecutive ``edges``, indexed by the bin's start."""
        e = np.asarray(edges, dtype=np.float64)
        out = self.counts(e[:-1])
        for k, (change, n, _) in enumerate(self.steps):
            bins = np.searchsorted(e, change, side="right") - 1
            inside = (bins >= 0) & (bins < e.size - 1)
            column = np.ascontiguousarray(out[:, k])
            np.maximum.at(column, bins[inside], n[inside])
            out[:, k] = column
        return self._frame(e[:-1], out)

    def time_average(self, start: float = 0.0, end: float | None = None) -> pd.Series:
        """The time-average count of each state over ``[start, end]`` (default: the whole run)."""
        stop = self.end if end is None else end
        if stop <= start:
            raise ValueError(f"expected an interval of positive length, got [{start}, {stop}]")
        spent = self.integral([start, stop])
        return pd.Series((spent[1] - spent[0]) / (stop - start), index=list(self.names))

    def select(self, names: Sequence[str]) -> Occupancy:
        """The same counts restricted to ``names``."""
        unknown = [n for n in names if n not in self.names]
        if unknown:
            raise KeyError(f"unknown {unknown}; expected some of {list(self.names)}")
        index = [self.names.index(n) for n in names]
        return Occupancy(tuple(names), tuple(self.enters[i] for i in index), tuple(self.leaves[i] for i in index),
                         self.end)


def status_occupancy(result: RunResult) -> Occupancy:
    """Jobs in each status (named by its lower-case value) over the run."""
    times = result.times
    return Occupancy.from_intervals(STATUS_NAMES, times, leave_times(times), result.sim_time)


def _stage_occupancy(result: RunResult, offset: int) -> Occupancy:
    codes = [status.code + offset for status in STAGE_STARTS.values()]
    times = result.times
    return Occupancy.from_intervals(STAGE_NAMES, times[:, codes], leave_times(times)[:, codes], result.sim_time)


def queue_occupancy(result: RunResult) -> Occupancy:
    """Jobs waiting for each stage (named as in ``sim.model.status.STAGE_STARTS``): in the status before its start."""
    return _stage_occupancy(result, -1)


def service_occupancy(result: RunResult) -> Occupancy:
    """Jobs in service in each stage: in the stage's STARTED status."""
    return _stage_occupancy(result, 0)


def regular_grid(end: float, *, step: float | None = None, points: int | None = None) -> FloatArray:
    """Times from 0 to ``end``: every ``step`` seconds (the last at or before ``end``), or ``points`` evenly
    spaced ones including both ends (default ``DEFAULT_POINTS``)."""
    if step is not None and points is not None:
        raise ValueError("give a step or a number of points, not both")
    if step is not None:
        if not step > 0:
            raise ValueError(f"expected a positive step, got {step}")
        return np.arange(int(np.floor(end / step + 1e-9)) + 1, dtype=np.float64) * float(step)
    n = DEFAULT_POINTS if points is None else points
    if n < 2:
        raise ValueError(f"expected at least 2 points, got {n}")
    return np.linspace(0.0, end, n)


def _sampled(occupancy: Occupancy, at: npt.ArrayLike | None, step: float | None, points: int | None) -> pd.DataFrame:
    times = regular_grid(occupancy.end, step=step, points=points) if at is None else at
    return occupancy.at(times)


def status_counts(result: RunResult, at: npt.ArrayLike | None = None, *, step: float | None = None,
                  points: int | None = None) -> pd.DataFrame:
    """Jobs in each status at the times ``at`` (default: a regular grid over the run, every ``step`` seconds or
    of ``points`` points): time index, one column per status value."""
    return _sampled(status_occupancy(result), at, step, points)


def queue_lengths(result: RunResult, at: npt.ArrayLike | None = None, *, step: float | None = None,
                  points: int | None = None) -> pd.DataFrame:
    """Jobs waiting for each stage at the times ``at`` (default: a regular grid over the run): time index, one
    column per stage."""
    return _sampled(queue_occupancy(result), at, step, points)


def status_changes(result: RunResult, statuses: Sequence[str] | None = None) -> pd.DataFrame:
    """The exact number of jobs in each of ``statuses`` (default all) from each time any of them changes."""
    return status_occupancy(result).changes(statuses)


def queue_changes(result: RunResult, stages: Sequence[str] | None = None) -> pd.DataFrame:
    """The exact number of jobs waiting for each of ``stages`` (default all) from each time any of them changes."""
    return queue_occupancy(result).changes(stages)


# --- instrument states -------------------------------------------------------------------------------------------

def execution_intervals(result: RunResult) -> pd.DataFrame:
    """Every run of a user job on an instrument, from the instrument pool's holdings: job_id, instrument, start
    and end (when the holding ended: the run's end, its failure, the shot batch after an abort, a restart; or
    the end of the run if it still runs), and outcome (the holding's, in lower case)."""
    table = result.holdings.get("execution", HoldingsTable.empty()).of_jobs()
    return pd.DataFrame({"job_id": table.holder, "instrument": table.server, "start": table.start,
                         "end": table.end, "outcome": [Outcome(o).name.lower() for o in table.outcome.tolist()]})


def _holding_states(result: RunResult) -> pd.DataFrame:
    """Each instrument holding as one or two state intervals: a job's run is ``user_job`` (``timed_out`` if the
    execution timeout stopped it), the part of an aborted job's holding after its ABORTED time is ``stopping``;
    the station's own holdings are ``calibration``, ``outage`` or ``reset``."""
    table = result.holdings.get("execution", HoldingsTable.empty())
    holder, start, end = table.holder, table.start, table.end
    job = holder >= 0
    state = np.array([Holder(h).name.lower() if h < 0 else "user_job" for h in holder.tolist()], dtype=object)
    state[job & (table.outcome == Outcome.TIMEOUT)] = "timed_out"
    aborted_at = np.full(len(holder), np.nan)
    aborted_at[job] = result.times[holder[job], ABORTED]
    stopping = job & (table.outcome == Outcome.ABORTED) & (aborted_at < end) & (aborted_at >= start)
    parts = pd.DataFrame({"instrument": table.server, "state": state, "start": start,
                          "end": np.where(stopping, aborted_at, end), "job_id": np.where(job, holder, -1)})
    tails = pd.DataFrame({"instrument": table.server[stopping], "state": "stopping", "start": aborted_at[stopping],
                          "end": end[stopping], "job_id": holder[stopping]})
    return pd.concat([parts, tails], ignore_index=True)


def _gaps(busy: pd.DataFrame, instruments: int, end: float, downtimes: list[tuple[float, float]]) -> pd.DataFrame:
    """The gaps between the busy intervals of each instrument within ``[0, end]``: ``service_down`` while the
    service was restarting, ``idle`` otherwise."""
    parts = []
    for instrument in range(instruments):
        group = busy[busy["instrument"] == instrument].sort_values("start", kind="stable")
        starts = np.append(group["start"].to_numpy(), end)
        ends = np.maximum.accumulate(np.concatenate([[0.0], group["end"].to_numpy()]))
        gap = starts > ends
        parts.append(_split_by_downtime(instrument, ends[gap], starts[gap], downtimes))
    return pd.concat(parts, ignore_index=True)


def _split_by_downtime(instrument: int, starts: FloatArray, ends: FloatArray,
                       downtimes: list[tuple[float, float]]) -> pd.DataFrame:
    """Gaps cut at the downtimes' edges, each piece ``service_down`` or ``idle``."""
    edges = np.unique(np.concatenate([starts, ends, *(np.array(d) for d in downtimes)])) if downtimes else None
    if edges is None:
        return pd.DataFrame({"instrument": instrument, "state": "idle", "start": starts, "end": ends})
    pieces_start, pieces_end = [], []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        inner = edges[(edges > a) & (edges < b)]
        bounds = np.concatenate([[a], inner, [b]])
        pieces_start.append(bounds[:-1])
        pieces_end.append(bounds[1:])
    lo = np.concatenate(pieces_start) if pieces_start else np.zeros(0)
    hi = np.concatenate(pieces_end) if pieces_end else np.zeros(0)
    middle = (lo + hi) / 2
    down = np.zeros(len(lo), dtype=bool)
    for d0, d1 in downtimes:
        down |= (middle > d0) & (middle < d1)
    return pd.DataFrame({"instrument": instrument, "state": np.where(down, "service_down", "idle"), "start": lo,
                         "end": hi})


def instrument_states(result: RunResult) -> pd.DataFrame:
    """What each instrument did over the run, as intervals that cover ``[0, sim_time]`` without overlapping,
    from the instrument pool's holdings: columns instrument, device, state (one of ``STATES``), start, end, and
    job_id (the user job a run, timed-out or stopping interval belongs to; missing otherwise). Sorted by
    instrument and start."""
    from sim.results.metrics import downtimes

    end = result.sim_time
    busy = _holding_states(result)
    busy["start"], busy["end"] = busy["start"].clip(0.0, end), busy["end"].clip(0.0, end)
    busy = busy[busy["end"] - busy["start"] > 16 * np.spacing(max(end, 1.0))]  # no rounding slivers
    devices = np.array([d.name for d in result.scenario.hardware.devices], dtype=object)
    states = pd.concat([busy, _gaps(busy, len(devices), end, downtimes(result))], ignore_index=True)
    states = states[states["end"] > states["start"]]
    states["job_id"] = states["job_id"].where(states["job_id"] >= 0).astype("Int64")
    states["state"] = pd.Categorical(states["state"], categories=STATES)
    states["device"] = devices[states["instrument"].to_numpy(dtype=np.int64)]
    ordered: pd.DataFrame = states.sort_values(["instrument", "start", "state"], kind="stable", ignore_index=True)
    return ordered.loc[:, ["instrument", "device", "state", "start", "end", "job_id"]]


def state_totals(states: pd.DataFrame) -> pd.DataFrame:
    """Seconds each instrument spent in each state (rows: instruments; columns: ``STATES``)."""
    seconds = (states["end"] - states["start"]).groupby([states["instrument"], states["state"]],
                                                        observed=False).sum()
    return seconds.unstack("state").reindex(columns=list(STATES), fill_value=0.0).fillna(0.0)


def merge_adjacent(states: pd.DataFrame, gap: float = 0.0) -> pd.DataFrame:
    """Intervals of one instrument in one state that follow each other (at most ``gap`` seconds apart) joined
    into one, for drawing: back-to-back user jobs become one bar. A row of another state in between keeps two
    intervals apart (drop the idle rows first to bridge short idle gaps). Keeps instrument, state, start, end."""
    frame = states.sort_values(["instrument", "start"], kind="stable", ignore_index=True)
    instrument = frame["instrument"].to_numpy()
    state = frame["state"].astype(str).to_numpy()
    start, end = frame["start"].to_numpy(dtype=np.float64), frame["end"].to_numpy(dtype=np.float64)
    new = np.ones(len(frame), dtype=bool)
    new[1:] = (instrument[1:] != instrument[:-1]) | (state[1:] != state[:-1]) | (start[1:] > end[:-1] + gap)
    first = np.flatnonzero(new)
    merged = pd.DataFrame({"instrument": instrument[first], "state": state[first], "start": start[first],
                           "end": np.maximum.reduceat(end, first) if first.size else end})
    merged["state"] = pd.Categorical(merged["state"], categories=STATES)
    return merged
