"""The validation figure: for each stage's service, the queue wait and the turnaround, the distribution in the
records and in the runs of the fitted scenario, one panel each, side by side.

Each panel shows both empirical distribution functions on a logarithmic time axis (the records solid, the runs
dashed) over one common grid of times, so that the largest vertical gap between the curves is the
Kolmogorov-Smirnov distance printed in the panel's corner, green when it is below its 5% critical value.
Values of zero (a wait that did not happen) lift the start of the curves.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from matplotlib.figure import Figure

from sim.plots.run import log_time_axis

if TYPE_CHECKING:
    from sim.fitting.validation import Validation

FloatArray = npt.NDArray[np.float64]
OBSERVED, SIMULATED = "#252525", "#e6550d"
PASS, FAIL = "#238b45", "#cb181d"
GRID_POINTS = 400
COLUMNS = 4


def _grid(*samples: FloatArray) -> FloatArray | None:
    positive = np.concatenate([s[s > 0] for s in samples])
    if positive.size == 0:
        return None
    low, high = np.percentile(positive, [0.1, 100])
    return np.geomspace(max(float(low), 1e-9), max(float(high), float(low) * 1.01, 1e-9), GRID_POINTS)


def _share_below(values: FloatArray, grid: FloatArray) -> FloatArray:
    shares: FloatArray = np.searchsorted(np.sort(values), grid, side="right") / max(values.size, 1)
    return shares


def plot_validation(validation: Validation, title: str = "") -> Figure:
    """One panel per quantity: the records' and the runs' distribution functions, with the KS distance."""
    rows = validation.rows
    lines = math.ceil(len(rows) / COLUMNS)
    figure = Figure(figsize=(4.0 * COLUMNS, 3.1 * lines + 0.6), layout="constrained")
    axes = figure.subplots(lines, COLUMNS, squeeze=False).ravel()
    for ax, row in zip(axes, rows, strict=False):
        observed, simulated = validation.observed[row.name], validation.simulated[row.name]
        grid = _grid(observed, simulated)
        ax.set_title(row.name if row.name in ("queue wait", "turnaround") else f"{row.name} service", fontsize=11)
        if grid is None:
            ax.text(0.5, 0.5, "no time spent", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.plot(grid, _share_below(observed, grid), color=OBSERVED, linewidth=1.8, label=f"records ({row.n:,})")
        ax.plot(grid, _share_below(simulated, grid), color=SIMULATED, linewidth=1.8, linestyle="--",
                label=f"fitted model ({validation.replications} runs)")
        log_time_axis(ax, float(grid[0]), float(grid[-1]))
        ax.set_ylim(0, 1.02)
        ax.grid(True, which="major", alpha=0.3)
        colour = PASS if row.ks_passes else FAIL
        ax.text(0.03, 0.96, f"KS {row.ks:.3f}\ncritical {row.critical:.3f}", transform=ax.transAxes, va="top",
                fontsize=9, color=colour, bbox={"facecolor": "white", "edgecolor": colour, "alpha": 0.9})
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    for ax in axes[len(rows):]:
        ax.set_visible(False)
    for ax in axes[::COLUMNS]:
        ax.set_ylabel("share of jobs at or below")
    figure.suptitle(title or "Observed against fitted: distribution of each time", fontsize=13)
    return figure


def write_validation_figure(validation: Validation, path: str | Path, title: str = "") -> Path:
    path = Path(path)
    plot_validation(validation, title).savefig(path, dpi=110)
    return path
