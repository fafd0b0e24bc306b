"""Figures of a run and of a sweep: what an analyst or a capacity planner looks at first.

For one run: how long jobs waited for and spent in each stage (``plot_stage_times``), the turnaround
distribution (``plot_turnaround``), how many jobs waited for each stage over the run (``plot_queue_lengths``),
what each instrument did when (``plot_instrument_gantt``) and how the instruments and the stage pools spent their
time (``plot_utilisation``). For a sweep: a metric against one factor with its confidence band, one curve per
level of another factor (``plot_sweep``). ``write_report_figures`` writes every single-run figure as a PNG.

Every function takes data and returns a matplotlib ``Figure`` or ``Axes``; none shows a window or touches
pyplot's global state. Figures are built as ``matplotlib.figure.Figure`` objects, which render to PNG with the
Agg backend, so they work headless, in tests and in notebooks (``display(fig)``); a function that accepts an
``ax`` draws into it instead. Times are shown in human units: log axes are ticked ``1 ms``, ``1 s``, ``1 min``,
``1 h``; linear ones are in seconds, minutes, hours or days chosen by their range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, MultipleLocator, NullFormatter, PercentFormatter

from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STAGE_LABELS, STAGE_STARTS
from sim.plots.clock import utc_axis, utc_clock, utc_reading
from sim.results import timeseries
from sim.results.metrics import stage_capacity, terminal_times

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from sim.results.run import RunResult

FloatArray = npt.NDArray[np.float64]

TIME_UNITS: tuple[tuple[str, float, float], ...] = (
    ("s", 1.0, 120.0), ("min", 60.0, 7200.0), ("h", 3600.0, 3 * 86400.0), ("d", 86400.0, math.inf))
"""(unit, seconds per unit, largest span shown in it): seconds up to 2 min, minutes up to 2 h, hours up to 3 d."""
LOG_TICKS: dict[float, str] = {
    1e-6: "1 µs", 1e-5: "10 µs", 1e-4: "100 µs", 1e-3: "1 ms", 1e-2: "10 ms", 0.1: "100 ms", 1.0: "1 s",
    10.0: "10 s", 60.0: "1 min", 600.0: "10 min", 3600.0: "1 h", 36000.0: "10 h", 86400.0: "1 d",
    864000.0: "10 d"}
"""Tick marks of a logarithmic time axis, with their labels."""
STATE_COLOURS: dict[str, str] = {
    "user_job": "#1f77b4", "stopping": "#9ecae1", "timed_out": "#d62728", "reset": "#ff7f0e",
    "calibration": "#2ca02c", "maintenance": "#8c564b", "outage": "#3b3b3b", "service_down": "#9467bd",
    "idle": "#e6e6e6"}
STATE_LABELS: dict[str, str] = {
    "user_job": "user jobs", "stopping": "stopping (aborted job)", "timed_out": "timed out (hung run)",
    "reset": "reset after timeout", "calibration": "recalibration", "maintenance": "maintenance", "outage": "outage",
    "service_down": "service down (restarting)", "idle": "idle"}
WAIT_COLOUR, SERVICE_COLOUR = "#e6550d", "#3182bd"
OUTCOME_COLOURS = {"all finished": "black", "ready": "#31a354", "failed": "#d62728", "aborted": "#756bb1"}
MAX_CURVE_POINTS = 2000
"""Points drawn per distribution curve (a million jobs are thinned to evenly spaced ranks)."""
QUEUE_BINS = 600
"""At most this many time bins in a queue-length plot."""
NICE_STEPS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0,
              21600.0, 43200.0, 86400.0, 172800.0, 604800.0)
"""Bin widths (seconds) that read well: 1 s ... 30 s, 1 min ... 30 min, 1 h ... 12 h, 1 d, 2 d, 1 week."""
"""The columns of a sweep table that are not factors."""
DPI = 110
"""A sweep plot ticks every level of its factor when there are at most this many."""
GANTT_MERGE_ABOVE = 3000
"""Above this many intervals in view, a Gantt chart merges back-to-back intervals of one state."""


# --- axes in human units -----------------------------------------------------------------------------------------

def time_unit(span: float) -> tuple[str, float]:
    """The unit to show times spanning ``span`` seconds in, and its length in seconds."""
    for name, scale, limit in TIME_UNITS:
        if span <= limit:
            return name, scale
    return TIME_UNITS[-1][0], TIME_UNITS[-1][1]


def log_time_axis(ax: Axes, low: float, high: float, axis: str = "x") -> None:
    """Make ``axis`` a logarithmic time axis over about ``[low, high]`` seconds, ticked in human units."""
    low = 10.0 ** math.floor(math.log10(low))
    high = 10.0 ** math.ceil(math.log10(high))
    ticks = [t for t in LOG_TICKS if low <= t <= high]
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    (ax.set_xlim if axis == "x" else ax.set_ylim)(low, high)
    target.set_major_locator(FixedLocator(ticks))
    target.set_major_formatter(FuncFormatter(lambda value, _pos: LOG_TICKS.get(value, "")))
    target.set_minor_formatter(NullFormatter())


def _positive_range(samples: Sequence[FloatArray]) -> tuple[float, float] | None:
    positive = [s[s > 0] for s in samples]
    positive = [p for p in positive if p.size]
    if not positive:
        return None
    return min(float(p.min()) for p in positive), max(float(p.max()) for p in positive)


def _format_time(seconds: float) -> str:
    """A duration in the unit that suits it: ``350 µs``, ``20 ms``, ``4.2 s``, ``3.1 min``, ``2.5 h``."""
    if seconds == 0:
        return "0 s"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.3g} ms"
    unit, scale = time_unit(seconds)
    return f"{seconds / scale:.3g} {unit}"


def clock(seconds: float, with_seconds: bool = False) -> str:
    """A time since the start of the run as a clock reading: ``10:40``, ``19 d 10:40``, ``10:40:05``."""
    whole = round(seconds) if with_seconds else round(seconds / 60.0) * 60
    days, rest = divmod(int(whole), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if with_seconds else "")
    return f"{days} d {text}" if days else text


def clock_axis(ax: Axes, low: float, high: float) -> str:
    """Tick the x axis (in seconds) as clock readings since the start of the run, about six ticks over
    ``[low, high]``; returns the axis label."""
    step = next((s for s in NICE_STEPS if (high - low) / s <= 8), NICE_STEPS[-1])
    with_seconds = step < 60
    ax.xaxis.set_major_locator(MultipleLocator(step))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _pos: clock(value, with_seconds)))
    days = "d " if high >= 86400 else ""
    return f"time since the start of the run ({days}hh:mm{':ss' if with_seconds else ''})"


def _ecdf(ax: Axes, values: FloatArray, colour: str, label: str, linestyle: str = "-") -> None:
    """The empirical distribution of ``values`` on a log axis: zeros lift the curve's start."""
    values = np.sort(values[np.isfinite(values)])
    n = values.size
    first = int(np.searchsorted(values, 0.0, side="right"))  # values up to here are zero
    positive = values[first:]
    if positive.size == 0:
        return
    ranks = np.unique(np.linspace(0, positive.size - 1, min(positive.size, MAX_CURVE_POINTS)).astype(np.int64))
    ax.plot(positive[ranks], (first + ranks + 1) / n, drawstyle="steps-post", color=colour, label=label,
            linestyle=linestyle, linewidth=1.6)


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    figure = Figure(figsize=size, layout="constrained")
    return figure.add_subplot()


def _run_title(result: RunResult) -> str:
    """The run in a title: "scenario baseline, seed 3, 2,000 jobs" (or "20,000 of 2,000,000 jobs, incomplete")."""
    return f"scenario {result.scenario.name}, seed {result.seed}, {result.describe_jobs()}"


def _legend(ax: Axes, **options: Any) -> None:
    """A legend, if anything drawn has a label."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**options)


def _no_time(ax: Axes) -> None:
    ax.set_yticks([])
    ax.text(0.5, 0.5, "the run took no simulated time", transform=ax.transAxes, ha="center", va="center",
            color="grey")


# --- per-stage times and turnaround ------------------------------------------------------------------------------

def stage_times(result: RunResult, stage: str) -> tuple[FloatArray, FloatArray]:
    """The waits and services of the jobs served by ``stage`` (as ``sim.results.metrics`` defines them)."""
    times = result.times
    start = STAGE_STARTS[stage].code
    served = np.isfinite(times[:, start + 1])
    return times[served, start] - times[served, start - 1], times[served, start + 1] - times[served, start]


def _stats_line(kind: str, values: FloatArray) -> str:
    """``wait p50 4.5 s, p95 1.7 min (39% zero)``: the median, 95th percentile and share of zeros."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return f"{kind}: none"
    nonzero = int(np.count_nonzero(values))
    if nonzero == 0:
        return f"{kind} always 0"
    zero = 1.0 - nonzero / values.size
    share = f" ({zero:.0%} zero)" if 0.005 <= zero < 0.99 else f" (all but {nonzero:,} zero)" if zero >= 0.99 else ""
    return (f"{kind} p50 {_format_time(float(np.median(values)))}, p95 "
            f"{_format_time(float(np.percentile(values, 95)))}{share}")


def plot_stage_times(result: RunResult) -> Figure:
    """One panel per stage: the distributions (ECDFs on a log time axis) of how long jobs waited for the stage
    and how long they spent in it; each panel's title gives the medians, 95th percentiles and shares of zero
    times (which a log axis cannot show: they lift the start of the curve)."""
    figure = Figure(figsize=(14, 8), layout=ConstrainedLayoutEngine(wspace=0.05))  # room between tick labels
    axes = figure.subplots(2, 3, sharex=True, sharey=True)
    samples = {stage: stage_times(result, stage) for stage in STAGE_STARTS}
    span = _positive_range([v for pair in samples.values() for v in pair]) or (1e-3, 1.0)
    for ax, (stage, (wait, service)) in zip(axes.flat, samples.items(), strict=True):
        _ecdf(ax, wait, WAIT_COLOUR, "wait")
        _ecdf(ax, service, SERVICE_COLOUR, "service")
        if not np.any(wait > 0) and not np.any(service > 0):
            ax.text(0.5, 0.5, "no job waited or spent\nany time in this stage", transform=ax.transAxes,
                    ha="center", va="center", color="grey")
        ax.set_title(f"{STAGE_LABELS[stage]}: {wait.size:,} jobs served\n{_stats_line('wait', wait)}\n"
                     f"{_stats_line('service', service)}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    log_time_axis(axes[0, 0], *span)
    axes[0, 0].set_ylim(0, 1.02)
    axes[0, 0].yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in axes[1]:
        ax.set_xlabel("time (log scale)")
    for ax in axes[:, 0]:
        ax.set_ylabel("share of jobs taking at most this long")
    figure.legend(handles=[Line2D([], [], color=WAIT_COLOUR, label="waiting for the stage"),
                           Line2D([], [], color=SERVICE_COLOUR, label="in the stage (service)")],
                  loc="outside lower center", ncol=2, frameon=False)
    figure.suptitle(f"Waiting and service time per stage: {_run_title(result)}", fontsize=13)
    return figure


def turnarounds(result: RunResult) -> dict[str, FloatArray]:
    """Turnaround (RECEIVED to the terminal status) of every finished job, and of those that ended each way."""
    times = result.times
    turnaround = terminal_times(times) - times[:, RECEIVED]
    finished = np.isfinite(turnaround)
    out = {"all finished": turnaround[finished]}
    for name, code in (("ready", READY), ("failed", FAILED), ("aborted", ABORTED)):
        out[name] = turnaround[np.isfinite(times[:, code])]
    return out


def plot_turnaround(result: RunResult, target: float | None = None, ax: Axes | None = None) -> Axes:
    """The turnaround distribution (ECDF on a log time axis) of every finished job and of each outcome, the
    50th, 95th and 99th percentiles of all, and an optional ``target`` (seconds) such as a service level."""
    ax = _new_axes(ax, (10, 5.5))
    samples = turnarounds(result)
    everything = samples["all finished"]
    span = _positive_range([everything, *([np.array([target])] if target else [])]) or (1e-3, 1.0)
    for name, values in samples.items():
        if values.size and (name == "all finished" or values.size < everything.size):
            _ecdf(ax, values, OUTCOME_COLOURS[name], f"{name} ({values.size:,} jobs)",
                  "-" if name in ("all finished", "ready") else "--")
    if everything.size:
        for q, style in ((50, ":"), (95, "-."), (99, "--")):
            value = float(np.percentile(everything, q))
            if value <= 0:  # not on a log axis
                continue
            ax.axvline(value, color="grey", linestyle=style, linewidth=1,
                       label=f"p{q} of all: {_format_time(value)}")
    if target is not None:
        met = float(np.mean(everything <= target)) if everything.size else math.nan
        ax.axvline(target, color="#d62728", linewidth=2, label=f"target {_format_time(target)} ({met:.1%} met)")
    if not np.any(everything > 0):  # a log axis cannot show zeros: say what there is instead of an empty frame
        why = (f"every one of the {everything.size:,} finished jobs had a turnaround of 0 (no stage took any "
               "time): nothing to draw on a log axis") if everything.size else "no job finished in this run"
        ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", color="grey", wrap=True)
    log_time_axis(ax, *span)
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("turnaround: received to ready, failed or aborted (log scale)")
    ax.set_ylabel("share of jobs finished within this time")
    ax.set_title(f"Turnaround: {_run_title(result)}")
    ax.grid(True, alpha=0.3)
    _legend(ax, loc="upper left", fontsize=9)
    return ax


# --- queues over time --------------------------------------------------------------------------------------------

def _shade_instrument_downtime(axes: Sequence[Axes], result: RunResult, scale: float) -> list[Patch]:
    """Shade the calibrations, maintenance and outages of any instrument on ``axes``; their legend entries."""
    states = timeseries.instrument_states(result)
    handles = []
    for state in ("calibration", "maintenance", "outage"):
        rows = states[states["state"] == state]
        if rows.empty or len(rows) > 2000:
            continue
        for ax in axes:
            for start, end in zip(rows["start"].to_numpy(), rows["end"].to_numpy(), strict=True):
                ax.axvspan(start / scale, end / scale, color=STATE_COLOURS[state], alpha=0.15, linewidth=0)
        handles.append(Patch(color=STATE_COLOURS[state], alpha=0.3, label=f"instrument {STATE_LABELS[state]}"))
    return handles


def bin_edges(end: float, bins: int) -> FloatArray:
    """Edges of time bins over ``[0, end]`` of a width that reads well (1 min, 15 min, 1 h, ...), at most
    ``bins`` of them; the last bin stops at ``end``."""
    step = next((s for s in NICE_STEPS if end / s <= bins), max(end / bins, NICE_STEPS[-1]))
    edges = timeseries.regular_grid(end, step=step) if end > 0 else np.array([0.0])
    return edges if edges[-1] >= end and edges.size > 1 else np.append(edges, max(end, step))


def _jobs(value: float) -> str:
    return f"{value:.2f} jobs" if value >= 0.01 else "under 0.01 jobs"


def plot_queue_lengths(result: RunResult, bins: int = QUEUE_BINS) -> Figure:
    """Jobs waiting for each stage over the run, one panel per stage that ever had a queue: the mean over each
    time bin (line) and the largest queue within it (shaded), with the instruments' calibrations and outages.
    Bins have a width that reads well (``bin_edges``), at most ``bins`` of them."""
    occupancy = timeseries.queue_occupancy(result)
    edges = bin_edges(result.sim_time, bins)
    means, peaks = occupancy.bin_means(edges), occupancy.bin_max(edges)
    averages = occupancy.time_average(0.0, float(edges[-1]))
    stages = [s for s in occupancy.names if peaks[s].max() > 0] or ["execution"]
    heights = [1.0 if peaks[s].max() > 3 else 0.55 for s in stages]
    figure = Figure(figsize=(13, 1.6 + 2.2 * sum(heights)), layout="constrained")
    axes = figure.subplots(len(stages), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    utc = utc_clock(result.scenario)
    unit, scale = ("", 1.0) if utc is not None else time_unit(result.sim_time)  # UTC: ticked as clock readings
    x = edges / scale
    for ax, stage in zip(axes, stages, strict=True):
        peak, mean = peaks[stage].to_numpy(), means[stage].to_numpy()
        ax.fill_between(x, np.append(peak, peak[-1]), step="post", color="#9ecae1", linewidth=0,
                        label="largest queue in the bin")
        ax.plot(x, np.append(mean, mean[-1]), drawstyle="steps-post", color="#08519c", linewidth=1.2,
                label="mean queue over the bin")
        ax.set_ylabel("jobs waiting")
        ax.set_ylim(0, max(1.0, float(peak.max())) * 1.1)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
        ax.set_title(f"waiting for {STAGE_LABELS[stage]}: time-average {_jobs(float(averages[stage]))}, "
                     f"largest {int(peak.max())}", loc="left", fontsize=10)
        ax.grid(True, alpha=0.3)
    handles = _shade_instrument_downtime(list(axes), result, scale)
    figure.legend(handles=[*axes[0].get_legend_handles_labels()[0], *handles], loc="outside lower center",
                  ncol=4, fontsize=9, frameon=False)
    axis = (utc_axis(axes[-1], 0.0, float(x[-1]), utc) if utc is not None
            else f"time since the start of the run ({unit})")
    axes[-1].set_xlabel(f"{axis}; bins of {_format_time(edges[1] - edges[0])}")
    axes[-1].set_xlim(0, x[-1])
    figure.suptitle(f"Jobs waiting for each stage: {_run_title(result)}", fontsize=13)
    return figure


# --- instruments -------------------------------------------------------------------------------------------------

def plot_instrument_gantt(result: RunResult, start: float | None = None, end: float | None = None,
                          ax: Axes | None = None) -> Axes:
    """What each instrument did from ``start`` to ``end`` (seconds; default the whole run): one row per
    instrument, one coloured bar per user job, calibration, outage, reset, ... on a grey idle background. With
    more than ``GANTT_MERGE_ABOVE`` intervals in view, back-to-back intervals of one state merge into one bar;
    otherwise thin white lines separate one job from the next."""
    states = timeseries.instrument_states(result)
    low = 0.0 if start is None else max(start, 0.0)
    high = result.sim_time if end is None else min(end, result.sim_time)
    busy = states[(states["state"] != "idle") & (states["end"] > low) & (states["start"] < high)]
    merge = len(busy) > GANTT_MERGE_ABOVE
    bars = timeseries.merge_adjacent(busy) if merge else busy
    instruments = len(result.scenario.hardware.devices)
    ax = _new_axes(ax, (13, 2.2 + 0.5 * instruments))
    window = start is not None or end is not None
    utc = utc_clock(result.scenario)
    clocked = window or utc is not None
    unit, scale = ("", 1.0) if clocked else time_unit(high - low)  # ticked as clock readings
    for instrument in range(instruments):
        ax.broken_barh([(low / scale, (high - low) / scale)], (instrument - 0.4, 0.8),
                       color=STATE_COLOURS["idle"], linewidth=0)
    shown = []
    for state, rows in bars.groupby("state", observed=True):
        spans = np.column_stack([rows["start"].to_numpy(dtype=np.float64) / scale,
                                 (rows["end"] - rows["start"]).to_numpy(dtype=np.float64) / scale])
        on = rows["instrument"].to_numpy()
        for instrument in np.unique(on):
            ax.broken_barh(spans[on == instrument], (instrument - 0.4, 0.8), facecolor=STATE_COLOURS[str(state)],
                           edgecolor="white", linewidth=0 if merge else 0.4)
        shown.append(str(state))
    devices = [d.name for d in result.scenario.hardware.devices]
    ax.set_yticks(range(instruments), [f"{i}: {name}" for i, name in enumerate(devices)])
    ax.set_ylim(instruments - 0.5, -0.5)
    ax.set_xlim(low / scale, max(high, low + 1e-9) / scale)
    ax.set_xlabel(utc_axis(ax, low, high, utc) if utc is not None else clock_axis(ax, low, high) if window
                  else f"time since the start of the run ({unit})")
    ax.set_ylabel("instrument")
    order = [s for s in timeseries.STATES if s in shown or s == "idle"]
    handles = [Patch(color=STATE_COLOURS[s], label=STATE_LABELS[s]) for s in order]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), fontsize=9,
              frameon=False)
    during = f", {_span(result, low, high)}" if window else ""
    ax.set_title(_fit(f"What each instrument did{during}: {_run_title(result)}", 110), pad=24)
    return ax


def _span(result: RunResult, low: float, high: float) -> str:
    """A stretch of the run in words: ``14:15 to 15:15 UTC``, else ``6:15 to 7:15 after the start``."""
    utc = utc_clock(result.scenario)
    if utc is None:
        return f"{clock(low)} to {clock(high)} after the start"
    days = high - low > 86400 or (utc.time_of_day + low) // 86400 != (utc.time_of_day + high) // 86400
    return f"{utc_reading(utc, low, days)} to {utc_reading(utc, high, days)} UTC"


def _fit(title: str, characters: int) -> str:
    """A title wrapped onto lines of at most ``characters``, so that none is cut off at the figure's edge."""
    import textwrap

    return "\n".join(textwrap.wrap(title, characters))


def queue_peak_window(result: RunResult, length: float = 3600.0) -> tuple[float, float]:
    """A window of ``length`` seconds (at most the run) around the moment the execution queue was longest,
    three quarters of it before the peak: where an instrument Gantt chart shows what built the queue up."""
    length = min(length, result.sim_time)
    changes = timeseries.queue_changes(result, ["execution"])
    peak = float(changes.index[int(np.argmax(changes["execution"].to_numpy()))])
    start = min(max(peak - 0.75 * length, 0.0), result.sim_time - length)
    return start, start + length


def plot_instrument_detail(result: RunResult, length: float = 3600.0) -> Axes:
    """The instrument Gantt chart of ``length`` seconds around the execution queue's peak
    (``queue_peak_window``), where single jobs show."""
    start, end = queue_peak_window(result, length)
    ax = plot_instrument_gantt(result, start, end)
    ax.set_title(_fit(f"Instruments around the longest execution queue ({_span(result, start, end)}): "
                      f"{_run_title(result)}", 110), pad=24)
    return ax


def plot_utilisation(result: RunResult) -> Figure:
    """How the run's time was spent: per instrument, the shares of user jobs, calibration, outage, ... and idle
    (stacked bars); per stage pool, the share of its workers' capacity that was busy."""
    totals = timeseries.state_totals(timeseries.instrument_states(result))
    shares = totals.div(totals.sum(axis=1), axis=0).fillna(0.0)
    instruments = len(shares)
    figure = Figure(figsize=(14, 2.4 + 0.45 * max(instruments, 5)), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[3, 2])
    devices = [d.name for d in result.scenario.hardware.devices]
    labels = [f"{i}: {devices[i]}" for i in shares.index]
    base = np.zeros(instruments)
    for state in timeseries.STATES:
        share = shares[state].to_numpy()
        if not share.any():
            continue
        left.barh(labels, share, left=base, height=0.6, color=STATE_COLOURS[state], label=STATE_LABELS[state],
                  edgecolor="white", linewidth=0.5)
        for y, (x0, w) in enumerate(zip(base, share, strict=True)):
            if w >= 0.04:
                left.text(x0 + w / 2, y, f"{w:.0%}", ha="center", va="center", fontsize=9,
                          color="black" if state in ("idle", "stopping") else "white")
        base += share
    left.set_xlim(0, 1)
    left.xaxis.set_major_formatter(PercentFormatter(1.0))
    left.invert_yaxis()
    left.set_xlabel("share of the run's time (%)")
    left.set_ylabel("instrument")
    left.set_title("Instruments: how their time was spent")
    _legend(left, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=4, fontsize=9, frameon=False)
    if result.sim_time > 0:
        _plot_pool_utilisation(right, result)
    else:
        _no_time(left)
        _no_time(right)
        right.set_title("Stage pools: busy share of their workers")
    figure.suptitle(f"Utilisation: {_run_title(result)}", fontsize=13)
    return figure


def _plot_pool_utilisation(ax: Axes, result: RunResult) -> None:
    mean_busy = timeseries.service_occupancy(result).time_average()
    names, values, notes = [], [], []
    for stage in STAGE_STARTS:
        busy = float(mean_busy[stage])
        capacity = stage_capacity(result, stage)
        names.append(STAGE_LABELS[stage])
        if math.isfinite(capacity):
            share = busy / capacity
            values.append(share)
            servers = ("instrument" if stage == "execution" else "worker") + ("s" if capacity != 1 else "")
            notes.append((f"{share:.0%} of {capacity:g} {servers}" if share >= 0.01 or share == 0
                          else f"{share:.2%} of {capacity:g} {servers}")
                         + (_of_available(result) if stage == "execution" else ""))
        else:
            values.append(0.0)
            notes.append(f"unlimited; {busy:.2f} busy on average")
    bars = ax.barh(names, values, height=0.6, color="#6baed6")
    for bar, note in zip(bars, notes, strict=True):
        ax.text(min(bar.get_width(), 0.98) + 0.01, bar.get_y() + bar.get_height() / 2, note, va="center",
                fontsize=9)
    ax.set_xlim(0, 1.45)  # room for the notes beside the bars
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.invert_yaxis()
    ax.set_xlabel("busy share of the workers (%)")
    ax.set_title("Stage pools: busy share of their workers")


def _of_available(result: RunResult) -> str:
    """``\n70% of their available time (93% available)`` when the instruments were not always available
    (calibrating, in maintenance, down): the plain utilisation alone would hide it."""
    from sim.results.availability import availability

    instruments: dict[str, dict[str, float]] = availability(result).get("instruments", {})  # type: ignore[assignment]
    pool = instruments.get("all", {})
    available, used = pool.get("available", 1.0), pool.get("utilisation_of_available", math.nan)
    if not math.isfinite(used) or available >= 0.9995:
        return ""
    return f"\n{used:.0%} of their available time ({available:.0%} available)"


# --- report ------------------------------------------------------------------------------------------------------

def _figure(make: Callable[[RunResult], Figure | Axes]) -> Callable[[RunResult], Figure]:
    def build(result: RunResult) -> Figure:
        drawn = make(result)
        figure = drawn if isinstance(drawn, Figure) else drawn.get_figure()
        assert isinstance(figure, Figure)
        return figure
    return build


REPORT_FIGURES: dict[str, Callable[[RunResult], Figure]] = {
    "stage_times": _figure(plot_stage_times),
    "turnaround": _figure(plot_turnaround),
    "queue_lengths": _figure(plot_queue_lengths),
    "instrument_gantt": _figure(plot_instrument_gantt),
    "instrument_detail": _figure(plot_instrument_detail),
    "utilisation": _figure(plot_utilisation),
}
"""The figures of one run that ``write_report_figures`` writes, by file name (without ``.png``)."""


def write_report_figures(result: RunResult, out_dir: str | Path) -> list[Path]:
    """Write every single-run figure into ``out_dir`` (created if need be) as PNG; returns the files."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in REPORT_FIGURES.items():
        path = folder / f"{name}.png"
        make(result).savefig(path, dpi=DPI)
        written.append(path)
    return written
