"""Figures of sweeps: a metric's mean against a factor, with its confidence interval, one series per level of a
second factor; and the PNG files ``stationsim sweep --out`` writes. The tidy sweep table (one row per point
and metric: the factor columns, then ``metric, mean, half_width, low, high, n``) comes from
``sim.experiments.sweeps``.

Drawn so that a planner can trust what the eye reads:

- shares (utilisation, instrument time, availability) on a 0-100% axis, counts and throughput from zero, so
  that noise does not look like an effect; a throughput against the arrival rate has the offered load drawn;
- a factor that takes whole values (instruments, workers) is drawn as points with error bars, never joined
  by lines as if 3.5 QPUs existed; a continuous one (a rate, a duration) as lines with confidence bands;
- a log axis only when asked (``log=True``), ticked in the metric's units;
- legend entries in numeric order with their units, the confidence level in the legend, the target line
  labelled with its value, titles wrapped to the figure's width.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.plots.run import DPI, _new_axes, log_time_axis, time_unit
from sim.scenario.units import format_seconds, parse_duration, parse_rate

FloatArray = npt.NDArray[np.float64]
SWEEP_COLUMNS = ("metric", "mean", "half_width", "low", "high", "n")
MAX_LEVEL_TICKS = 12
MARKERS = ("o", "s", "^", "D", "v", "P")
TITLE_CHARACTERS = 70
"""Characters a title line of a 9-inch figure holds at the default font size."""


def _factor_axis(name: str, values: pd.Series) -> tuple[FloatArray, str, list[str] | None]:
    """Numbers to plot a factor's levels at, the axis label with its unit, and tick labels for levels that are
    not numbers (None when they are). Rates are shown per hour, durations in a unit chosen by their range."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        if name.endswith("rate"):
            return numbers * 3600.0, f"{name} (jobs/h)", None
        return numbers, f"{name} (number)" if is_discrete(values) else name, None
    texts = values.astype(str)
    for parse, kind in ((parse_rate, "rate"), (parse_duration, "duration")):
        try:
            parsed = np.array([parse(v) for v in texts], dtype=np.float64)
        except ValueError:
            continue
        if kind == "rate":
            return parsed * 3600.0, f"{name} (jobs/h)", None
        unit, scale = time_unit(float(np.nanmax(parsed)) if parsed.size else 1.0)
        return parsed / scale, f"{name} ({unit})", None
    levels = list(dict.fromkeys(texts))
    return np.array([levels.index(v) for v in texts], dtype=np.float64), name, levels


def is_discrete(values: pd.Series) -> bool:
    """Whether a factor takes whole, countable values (instruments, workers) rather than a continuum."""
    return bool(pd.api.types.is_integer_dtype(values))


def level_order(value: Any) -> tuple[int, float, str]:
    """A factor level's place in a legend: numbers, rates and durations by their value, words after them."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return 0, float(value), ""
    text = str(value)
    for parse in (parse_rate, parse_duration):
        try:
            return 0, parse(text), text
        except ValueError:
            continue
    return 1, 0.0, text


def level_label(factor: str, value: Any) -> str:
    """A legend entry: the level with its unit (``300/h``, ``7d``, ``2 instruments``, ``4 workers``)."""
    text = str(value)
    if factor.endswith("instruments"):
        return f"{text} instrument{'s' if text != '1' else ''}"
    if factor.endswith("workers"):
        return f"{text} worker{'s' if text != '1' else ''}"
    if isinstance(value, int | float | np.integer | np.floating) and factor.endswith("rate"):
        return f"{float(value) * 3600:g}/h"
    return text


def is_share(metric: str) -> bool:
    parts = metric.split(".")
    return (parts[-1] == "utilisation" or parts[-1].startswith("utilisation_") or parts[0] == "instrument_time"
            or "availability" in parts)


def _is_duration(metric: str) -> bool:
    parts = metric.split(".")
    if parts[-1] in ("periods", "misses", "count", "completed") or parts[0] == "jobs":
        return False
    return bool({"wait", "service", "turnaround"} & set(parts)) or metric in ("sim_time", "lost_work")


def _metric_scale(metric: str, high: float) -> tuple[float, str]:
    """What to divide a metric's values by to plot them, and its axis label with the unit. Durations are the
    metrics with a ``wait``, ``service`` or ``turnaround`` part, ``sim_time`` and ``lost_work``."""
    if _is_duration(metric):
        unit, scale = time_unit(high if math.isfinite(high) else 1.0)
        return scale, f"{metric} ({unit})"
    if is_share(metric):
        return 0.01, f"{metric} (%)"
    if metric.endswith("per_hour"):
        return 1.0, f"{metric} (jobs/h)"
    if metric.endswith("per_second"):
        return 1.0, f"{metric} (jobs/s)"
    return 1.0, metric


def _wrapped(text: str) -> str:
    return "\n".join(textwrap.wrap(text, TITLE_CHARACTERS))


def plot_sweep(table: pd.DataFrame, x: str, metric: str, by: str | None = None, ax: Axes | None = None, *,
               level: float = 0.95, log: bool = False) -> Axes:
    """Sweep curves: ``metric``'s mean against the factor ``x`` with its ``level`` confidence interval (``low``
    to ``high``), one series per level of the factor ``by``: lines with bands over a continuous ``x``, points
    with error bars over a discrete one. ``log`` puts the metric on a log axis, ticked in its units.

    ``table`` is tidy: one row per sweep point and metric, with one column per factor (dotted scenario keys such
    as ``arrivals.rate``) and ``metric, mean, half_width, low, high, n``. Every other factor must be fixed in
    the rows of ``metric`` (filter the table first); an interval is missing where the half-width is unknown.
    """
    for column in (x, *([by] if by else []), *SWEEP_COLUMNS):
        if column not in table.columns:
            raise KeyError(f"the sweep table has no column {column!r}; its columns are {list(table.columns)}")
    rows = table[table["metric"] == metric]
    if rows.empty:
        raise ValueError(f"no rows for metric {metric!r}; the table has {sorted(table['metric'].unique())}")
    varying = [c for c in table.columns if c not in (*SWEEP_COLUMNS, x, by) and rows[c].nunique(dropna=False) > 1]
    if varying:
        raise ValueError(f"factors {varying} also vary in the rows of {metric!r}: keep one level of each "
                         "(filter the table) or pass one as by=")
    ax = _new_axes(ax, (9, 5.5))
    high = float(np.nanmax(rows["high"].to_numpy(dtype=np.float64), initial=0.0))
    scale, ylabel = (1.0, f"{metric} (log scale)") if log and _is_duration(metric) else _metric_scale(metric, high)
    positions, xlabel, levels = _factor_axis(x, rows[x])
    frame = rows.assign(_x=positions)
    discrete = is_discrete(rows[x]) or levels is not None
    groups: list[tuple[Any, pd.DataFrame]] = (
        sorted(frame.groupby(by, sort=False), key=lambda g: level_order(g[0])) if by else [(None, frame)])
    ticks = np.unique(positions)
    spacing = float(np.min(np.diff(ticks))) if ticks.size > 1 else 1.0
    for j, (value, group) in enumerate(groups):
        group = group.sort_values("_x")
        label = None if by is None else level_label(by, value)
        xs = group["_x"].to_numpy(dtype=np.float64)
        mean = group["mean"].to_numpy(dtype=np.float64) / scale
        low = group["low"].to_numpy(dtype=np.float64) / scale
        top = group["high"].to_numpy(dtype=np.float64) / scale
        if is_share(metric) and not log:  # a share's interval ends at 0% and 100%
            low, top = np.clip(low, 0.0, 100.0), np.clip(top, 0.0, 100.0)
        marker = MARKERS[j % len(MARKERS)]
        if discrete:  # points with error bars, side by side so that none hides another
            shift = (j - (len(groups) - 1) / 2) * 0.12 * spacing if len(groups) > 1 else 0.0
            ax.errorbar(xs + shift, mean, yerr=np.vstack([mean - low, top - mean]), fmt=marker, capsize=4,
                        label=label, linestyle="none", markersize=6)
        else:  # each later series thinner, so that one drawn over another leaves it showing
            width = max(2.6 - 0.6 * j, 1.0)
            lines = ax.plot(xs, mean, marker=marker, markersize=max(9 - 1.5 * j, 4), linewidth=width, label=label,
                            zorder=3 + j)
            ax.fill_between(xs, low, top, color=lines[0].get_color(), alpha=0.12, linewidth=0, zorder=1)
            ax.plot(xs, low, color=lines[0].get_color(), linewidth=0.6, linestyle=":", zorder=2)
            ax.plot(xs, top, color=lines[0].get_color(), linewidth=0.6, linestyle=":", zorder=2)
    if levels is not None:
        ax.set_xticks(range(len(levels)), levels)
    elif ticks.size <= MAX_LEVEL_TICKS:  # a tick at every level swept
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _y_range(ax, metric, rows, scale, log)
    runs = rows["n"].unique()
    per_point = f", {runs[0]} runs per point" if runs.size == 1 else ""
    ax.set_title(_wrapped(f"{metric} against {x}: mean and {level:.0%} confidence interval{per_point}"))
    ax.grid(True, alpha=0.3)
    _sweep_legend(ax, by, level, discrete)
    return ax


def _y_range(ax: Axes, metric: str, rows: pd.DataFrame, scale: float, log: bool) -> None:
    """Shares on 0-100%; counts, throughput and times from zero (unless on a log axis)."""
    if log:
        if _is_duration(metric):
            values = rows[["low", "mean", "high"]].to_numpy(dtype=np.float64).ravel()
            positive = values[np.isfinite(values) & (values > 0)]
            if positive.size:
                log_time_axis(ax, float(positive.min()), float(positive.max()), axis="y")
                return
        ax.set_yscale("log")
        return
    if is_share(metric):
        ax.set_ylim(0, 103)  # room for a line at 100%
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        return
    top = float(np.nanmax(rows["high"].to_numpy(dtype=np.float64) / scale, initial=0.0))
    ax.set_ylim(0, max(top * 1.08, ax.get_ylim()[1]) if math.isfinite(top) else None)


def _sweep_legend(ax: Axes, by: str | None, level: float, discrete: bool) -> None:
    """The legend: each series, then what the bars or bands are (with their confidence level)."""
    pairs = list(zip(*ax.get_legend_handles_labels(), strict=True))
    marks = [(h, t) for h, t in pairs if t.startswith(("target", "offered load"))]
    pairs = [(h, t) for h, t in pairs if (h, t) not in marks] + marks  # the series first, in their order
    handles, labels = [h for h, _ in pairs], [t for _, t in pairs]
    interval = (Patch(facecolor="none", edgecolor="none", label=f"bars: {level:.0%} confidence interval")
                if discrete else Patch(color="grey", alpha=0.25, label=f"band: {level:.0%} confidence interval"))
    ax.legend(handles=[*handles, interval], labels=[*labels, interval.get_label()], title=by, fontsize=9)


def mark_target(ax: Axes, metric: str, threshold: float, rows: pd.DataFrame, log: bool = False) -> None:
    """The target's threshold as a line labelled with its value (``target: 10min``)."""
    high = float(np.nanmax(rows["high"].to_numpy(dtype=np.float64), initial=0.0))
    scale = 1.0 if log and _is_duration(metric) else _metric_scale(metric, high)[0]
    shown = format_seconds(threshold) if _is_duration(metric) else (
        f"{100 * threshold:g}%" if is_share(metric) else f"{threshold:g}")
    ax.axhline(threshold / scale, color="#d62728", linestyle="--", linewidth=1.3, label=f"target: {shown}")
    if not log:
        low, top = ax.get_ylim()
        ax.set_ylim(low, max(top, threshold / scale * 1.1))


def mark_offered_load(ax: Axes, x: str, rows: pd.DataFrame, metric: str) -> None:
    """On a throughput against the arrival rate: the offered load (throughput = arrival rate), which a station
    that keeps up follows."""
    if not (metric.endswith("throughput_per_hour") and x.endswith("arrivals.rate")):
        return
    positions, _, levels = _factor_axis(x, rows[x])
    if levels is not None:
        return
    span = np.array([float(np.nanmin(positions)), float(np.nanmax(positions))])
    ax.plot(span, span, color="grey", linestyle="--", linewidth=1, label="offered load (the arrival rate)", zorder=0)


SWEEP_HEADLINES = ("turnaround.p95", "stages.execution.wait.mean", "stages.execution.utilisation",
                   "throughput_per_hour")
"""Metrics a sweep's figures show when the sweep has no target (with one, its metric comes first)."""


def write_sweep_figures(table: pd.DataFrame, factors: Sequence[str], out_dir: str | Path,
                        metrics: Sequence[str] = SWEEP_HEADLINES, x: str | None = None,
                        target: tuple[str, float] | None = None, *, level: float = 0.95,
                        log: Sequence[str] = ()) -> list[Path]:
    """One PNG of sweep curves per metric: against ``x`` (default: the first factor), one series per level of
    the other factor; the ``target`` (metric, threshold) as a labelled line; the metrics in ``log`` on a log
    axis. A sweep of more than two factors has no such picture: nothing is written."""
    if not 1 <= len(factors) <= 2:
        return []
    x = x or factors[0]
    by = next((f for f in factors if f != x), None)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in dict.fromkeys(metrics):
        if metric not in set(table["metric"]):
            continue
        on_log = metric in log
        ax = plot_sweep(table, x, metric, by, level=level, log=on_log)
        rows = table[table["metric"] == metric]
        mark_offered_load(ax, x, rows, metric)
        if target is not None and target[0] == metric:
            mark_target(ax, metric, target[1], rows, on_log)
        _sweep_legend_again(ax, by, level, is_discrete(rows[x]))
        path = folder / f"sweep_{metric.replace('.', '_')}.png"
        figure = ax.get_figure()
        assert isinstance(figure, Figure)
        figure.savefig(path, dpi=DPI)
        written.append(path)
    return written


def _sweep_legend_again(ax: Axes, by: str | None, level: float, discrete: bool) -> None:
    """Rebuild the legend after lines were added (the target, the offered load), the interval's key last."""
    legend = ax.get_legend()
    if legend is not None:
        legend.remove()
    _sweep_legend(ax, by, level, discrete)
