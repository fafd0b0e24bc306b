"""Figures of sweeps: a metric's mean against a factor, with its confidence band, one curve per level of a
second factor; and the PNG files ``stationsim sweep --out`` writes. The tidy sweep table (one row per point
and metric: the factor columns, then ``metric, mean, half_width, low, high, n``) comes from
``sim.experiments.sweeps``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.plots.run import DPI, _new_axes, time_unit
from sim.scenario.units import parse_duration, parse_rate

FloatArray = npt.NDArray[np.float64]
SWEEP_COLUMNS = ("metric", "mean", "half_width", "low", "high", "n")
MAX_LEVEL_TICKS = 12

def _factor_axis(name: str, values: pd.Series) -> tuple[FloatArray, str, list[str] | None]:
    """Numbers to plot a factor's levels at, the axis label with its unit, and tick labels for levels that are
    not numbers (None when they are). Rates are shown per hour, durations in a unit chosen by their range."""
    if pd.api.types.is_numeric_dtype(values):
        numbers = values.to_numpy(dtype=np.float64)
        if name.endswith("rate"):
            return numbers * 3600.0, f"{name} (jobs/h)", None
        return numbers, name, None
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


def _metric_scale(metric: str, high: float) -> tuple[float, str]:
    """What to divide a metric's values by to plot them, and its axis label with the unit. Durations are the
    metrics with a ``wait``, ``service`` or ``turnaround`` part, ``sim_time`` and ``lost_work``."""
    if {"wait", "service", "turnaround"} & set(metric.split(".")) or metric in ("sim_time", "lost_work"):
        unit, scale = time_unit(high if math.isfinite(high) else 1.0)
        return scale, f"{metric} ({unit})"
    if "utilisation" in metric or "instrument_time" in metric:
        return 0.01, f"{metric} (%)"
    if metric.endswith("per_hour"):
        return 1.0, f"{metric} (jobs/h)"
    if metric.endswith("per_second"):
        return 1.0, f"{metric} (jobs/s)"
    return 1.0, metric


def plot_sweep(table: pd.DataFrame, x: str, metric: str, by: str | None = None,
               ax: Axes | None = None) -> Axes:
    """Sweep curves: ``metric``'s mean against the factor ``x`` with its confidence band (``low`` to
    ``high``), one curve per level of the factor ``by``.

    ``table`` is tidy: one row per sweep point and metric, with one column per factor (dotted scenario keys such
    as ``arrivals.rate``) and ``metric, mean, half_width, low, high, n``. Every other factor must be fixed in
    the rows of ``metric`` (filter the table first); a band is missing where the half-width is unknown.
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
    scale, ylabel = _metric_scale(metric, float(np.nanmax(rows["high"].to_numpy(dtype=np.float64), initial=0.0)))
    positions, xlabel, levels = _factor_axis(x, rows[x])
    frame = rows.assign(_x=positions)
    groups: list[tuple[Any, pd.DataFrame]] = (list(frame.groupby(by, sort=True)) if by else [(None, frame)])
    for level, group in groups:
        group = group.sort_values("_x")
        label = None if by is None else str(level)
        lines = ax.plot(group["_x"], group["mean"] / scale, marker="o", label=label)
        ax.fill_between(group["_x"].to_numpy(dtype=np.float64), group["low"].to_numpy(dtype=np.float64) / scale,
                        group["high"].to_numpy(dtype=np.float64) / scale, color=lines[0].get_color(), alpha=0.2,
                        linewidth=0)
    ticks = np.unique(positions)
    if levels is not None:
        ax.set_xticks(range(len(levels)), levels)
    elif ticks.size <= MAX_LEVEL_TICKS:  # a tick at every level swept
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    runs = rows["n"].unique()
    per_point = f" ({runs[0]} runs per point)" if runs.size == 1 else ""
    ax.set_title(f"{metric} against {x}: mean and confidence band{per_point}")
    ax.grid(True, alpha=0.3)
    if by is not None:
        ax.legend(title=by, fontsize=9)
    return ax


SWEEP_HEADLINES = ("turnaround.p95", "stages.execution.wait.mean", "stages.execution.utilisation",
                   "throughput_per_hour")
"""Metrics a sweep's figures show when the sweep has no target (with one, its metric comes first)."""


def write_sweep_figures(table: pd.DataFrame, factors: Sequence[str], out_dir: str | Path,
                        metrics: Sequence[str] = SWEEP_HEADLINES, x: str | None = None,
                        target: tuple[str, float] | None = None) -> list[Path]:
    """One PNG of sweep curves per metric: against ``x`` (default: the first factor), one curve per level of
    the other factor; a metric spanning more than two decades gets a log axis, and the ``target`` (metric,
    threshold) its threshold line. A sweep of more than two factors has no such picture: nothing is written."""
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
        ax = plot_sweep(table, x, metric, by)
        rows = table[table["metric"] == metric]
        positive = rows["mean"][rows["mean"] > 0]
        if len(positive) and positive.max() > 100 * positive.min():
            ax.set_yscale("log")
        if target is not None and target[0] == metric:
            scale, _ = _metric_scale(metric, float(np.nanmax(rows["high"].to_numpy(dtype=np.float64), initial=0.0)))
            ax.axhline(target[1] / scale, color="black", linestyle="--", linewidth=1, label="target")
            ax.legend(title=by, fontsize=9)
        path = folder / f"sweep_{metric.replace('.', '_')}.png"
        figure = ax.get_figure()
        assert isinstance(figure, Figure)
        figure.savefig(path, dpi=DPI)
        written.append(path)
    return written
