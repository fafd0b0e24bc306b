"""Figures: every report figure is written as a PNG with titles and labelled axes, from fresh and degenerate runs,
without touching pyplot; the Gantt chart draws the intervals it should; sweep curves follow the tidy table they
are given, in the units a planner reads; ``stationsim report`` writes the figures where it says.
"""

from __future__ import annotations

import copy
import math
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from PIL import Image

import sim
from sim.cli.main import main
from sim.plots import run as plots
from sim.plots import sweeps as sweep_plots

ROOT = Path(__file__).resolve().parent.parent
TRACE: dict[str, Any] = {
    "arrivals": {"times": [0, 1, 1]},
    "stages": {"validation": {"workers": 1, "duration": "2s"}, "calibration": {"duration": "1s"},
               "compilation": {"workers": 1, "duration": "3s"}, "post_processing": {"workers": 1, "duration": "5s"}},
    "hardware": {"instruments": 1, "execution_time": "4s"},
}
"""Three jobs; the instrument runs them 6-10, 10-14 and 14-18 s, and is idle before and after, to 25 s."""


@pytest.fixture(scope="module")
def troubled() -> sim.RunResult:
    scenario = sim.load_scenario(ROOT / "scenarios" / "faulty_hardware.toml").with_values({
        "hardware.instruments": 2, "hardware.faults.hang_probability": 0.01,
        "hardware.faults.mean_time_between_outages": "3h", "calibration.times_of_day": ["10:00"],
        "calibration.start_time_of_day": "08:00", "calibration.duration": "20min", "aborts.probability": 0.05})
    return sim.simulate(scenario, seed=4, jobs=3000)


def _texts(figure: Figure) -> list[str]:
    return [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]  # type: ignore[attr-defined]


def test_report_figures_are_written_as_pngs(troubled: sim.RunResult, tmp_path: Path) -> None:
    paths = plots.write_report_figures(troubled, tmp_path / "figures")
    assert [p.name for p in paths] == [f"{name}.png" for name in plots.REPORT_FIGURES]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG"
            width, height = image.size
        assert width >= 1000, (path.name, image.size)
        assert 200 <= height <= 2000, (path.name, image.size)
    assert plt.get_fignums() == []  # nothing went through pyplot, nothing waits to be shown


@pytest.mark.parametrize("name", list(plots.REPORT_FIGURES))
def test_every_axes_has_a_title_and_labelled_axes(troubled: sim.RunResult, name: str) -> None:
    figure = plots.REPORT_FIGURES[name](troubled)
    figure.canvas.draw()
    suptitle = figure.get_suptitle()
    for ax in figure.axes:
        assert ax.get_title() or ax.get_title(loc="left") or suptitle, name
    # labels on the outer axes of shared grids at least, each naming a unit or a log scale of time
    assert any(ax.get_xlabel() for ax in figure.axes), name
    assert any(ax.get_ylabel() for ax in figure.axes), name
    log_ticks = []
    for ax in figure.axes:
        label = ax.get_xlabel()
        if label and ax.get_xscale() == "linear":
            assert "(" in label, (name, label)  # "(h)", "(%)", "(d hh:mm)"
        if ax.get_xscale() == "log":
            log_ticks += [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert all(t.split()[-1] in {"µs", "ms", "s", "min", "h", "d"} for t in log_ticks), log_ticks
    if name in ("stage_times", "turnaround"):
        assert log_ticks, name


def test_log_axes_tick_in_human_units() -> None:
    figure = Figure()
    ax = figure.add_subplot()
    plots.log_time_axis(ax, 0.02, 400.0)
    figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10 ms", "100 ms", "1 s", "10 s", "1 min", "10 min"]


@pytest.mark.parametrize(("span", "unit"), [(90, "s"), (600, "min"), (7200, "min"), (86400, "h"), (5 * 86400, "d")])
def test_time_units_follow_the_range(span: float, unit: str) -> None:
    assert plots.time_unit(span)[0] == unit


def test_clock_readings() -> None:
    assert plots.clock(3 * 3600 + 5 * 60) == "03:05"
    assert plots.clock(2 * 86400 + 3600 + 59.6) == "2 d 01:01"
    assert plots.clock(65, with_seconds=True) == "00:01:05"


def test_the_gantt_chart_draws_each_job_on_an_idle_background() -> None:
    result = sim.simulate(sim.Scenario.from_dict(copy.deepcopy(TRACE)))
    ax = plots.plot_instrument_gantt(result)
    collections = [c for c in ax.collections if isinstance(c, PolyCollection)]
    boxes = [[tuple(np.round(p.get_extents().intervalx, 9)) for p in c.get_paths()] for c in collections]
    assert boxes == [[(0.0, 25.0)], [(6.0, 10.0), (10.0, 14.0), (14.0, 18.0)]]  # idle, then the user jobs
    assert ax.get_xlabel() == "time since the start of the run (s)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["user jobs", "idle"]


def test_a_gantt_window_ticks_clock_readings(troubled: sim.RunResult) -> None:
    start, end = plots.queue_peak_window(troubled, 3600.0)
    assert end - start == pytest.approx(3600.0)
    ax = plots.plot_instrument_gantt(troubled, start, end)
    assert ax.get_xlim() == pytest.approx((start, end))
    assert "hh:mm" in ax.get_xlabel()


def test_turnaround_marks_percentiles_and_the_target(troubled: sim.RunResult) -> None:
    ax = plots.plot_turnaround(troubled, target=600.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("all finished (3,000 jobs)")
    assert any(label.startswith("p95 of all: ") for label in labels)
    assert any(label.startswith("target 10 min (") and label.endswith(" met)") for label in labels)


def test_figures_of_degenerate_runs(tmp_path: Path) -> None:
    """A run that takes no time, and one cut short before most jobs arrive: figures, and no warnings."""
    instant = {"arrivals": {"times": [0]}, "hardware": {"instruments": 1, "execution_time": "0s"}}
    cut = {"run": {"horizon": "1s"}, "arrivals": {"times": [0, 0.5, 3]},
           "hardware": {"instruments": 2, "execution_time": "4s"}}
    for i, data in enumerate([instant, cut]):
        result = sim.simulate(sim.Scenario.from_dict(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            paths = plots.write_report_figures(result, tmp_path / str(i))
        assert all(p.stat().st_size > 0 for p in paths)


# --- sweeps ------------------------------------------------------------------------------------------------------

def sweep_table() -> pd.DataFrame:
    """A tidy sweep table by hand: 3 instrument counts x 3 arrival rates, two metrics."""
    rows = []
    for instruments in (1, 2, 3):
        for rate in ("300/h", "600/h", "900/h"):
            load = int(rate.split("/")[0]) / 300 / instruments
            p95 = 60.0 * (1 + 10 * load)  # seconds
            rows.append({"hardware.instruments": instruments, "arrivals.rate": rate, "metric": "turnaround.p95",
                         "mean": p95, "half_width": 0.1 * p95, "low": 0.9 * p95, "high": 1.1 * p95, "n": 5})
            rows.append({"hardware.instruments": instruments, "arrivals.rate": rate,
                         "metric": "stages.execution.utilisation", "mean": min(load, 1) * 0.6,
                         "half_width": 0.01, "low": min(load, 1) * 0.6 - 0.01, "high": min(load, 1) * 0.6 + 0.01,
                         "n": 5})
    return pd.DataFrame(rows)


def test_sweep_curves_one_per_level_with_bands() -> None:
    ax = sweep_plots.plot_sweep(sweep_table(), x="arrivals.rate", metric="turnaround.p95", by="hardware.instruments")
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(lines) == 3
    for line, instruments in zip(lines, (1, 2, 3), strict=True):
        assert line.get_xdata().tolist() == [300.0, 600.0, 900.0]  # rates per hour
        expected = [(1 + 10 * r / 300 / instruments) for r in (300, 600, 900)]  # minutes
        assert np.allclose(line.get_ydata(), expected)
    assert [line.get_linewidth() for line in lines] == sorted((line.get_linewidth() for line in lines),
                                                              reverse=True)  # one drawn over another shows
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 3
    assert ax.get_xlabel() == "arrivals.rate (jobs/h)"
    assert ax.get_ylabel() == "turnaround.p95 (min)"
    assert ax.get_yscale() == "linear"
    assert ax.get_ylim()[0] == 0
    legend = ax.get_legend()
    assert legend.get_title().get_text() == "hardware.instruments"
    assert [t.get_text() for t in legend.get_texts()] == ["1 instrument", "2 instruments", "3 instruments",
                                                          "band: 95% confidence interval"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["300", "600", "900"]
    assert ax.get_title() == ("turnaround.p95 against arrivals.rate: mean and 95% confidence\ninterval, 5 runs "
                              "per point")


def test_sweep_over_a_count_in_percent_into_given_axes() -> None:
    table = sweep_table()
    figure = Figure()
    given = figure.add_subplot()
    ax = sweep_plots.plot_sweep(table[table["arrivals.rate"] == "600/h"], x="hardware.instruments",
                                metric="stages.execution.utilisation", ax=given, level=0.9)
    assert ax is given
    assert [line for line in ax.get_lines() if line.get_linestyle() != "None"] == []  # points, never joined
    (bars,) = ax.containers
    points = bars.lines[0]
    assert points.get_xdata().tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(points.get_ydata(), [60.0, 60.0, 40.0])  # 0.6 x the load, at most 1
    assert ax.get_ylabel() == "stages.execution.utilisation (%)"
    assert ax.get_xlabel() == "hardware.instruments (number)"
    assert ax.get_ylim() == (0, 103)  # a share on 0-100%, whatever its spread
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bars: 90% confidence interval"]


def test_sweep_legends_in_numeric_order_and_throughput_from_zero() -> None:
    rows = [{"restarts.mean_time_between": gap, "arrivals.rate": rate, "metric": "throughput_per_hour",
             "mean": 898.0 + i, "half_width": 2.0, "low": 896.0 + i, "high": 900.0 + i, "n": 3}
            for i, gap in enumerate(("7d", "21d", "1d")) for rate in (0.25, 0.2)]
    ax = sweep_plots.plot_sweep(pd.DataFrame(rows), x="arrivals.rate", metric="throughput_per_hour",
                                by="restarts.mean_time_between")
    assert [t.get_text() for t in ax.get_legend().get_texts()][:3] == ["1d", "7d", "21d"]
    assert ax.get_ylim()[0] == 0  # 898-904 jobs/h is not drawn as if it were a slope
    sweep_plots.mark_offered_load(ax, "arrivals.rate", pd.DataFrame(rows), "throughput_per_hour")
    offered = [line for line in ax.get_lines() if line.get_label().startswith("offered load")]
    assert offered[0].get_xdata().tolist() == offered[0].get_ydata().tolist() == [720.0, 900.0]


def test_sweep_figures_label_the_target_and_use_a_log_axis_only_when_asked(tmp_path: Path) -> None:
    table = sweep_table()
    table.loc[table["metric"] == "turnaround.p95", ["mean", "low", "high"]] *= 10  # 1.8 to 167 min
    paths = sweep_plots.write_sweep_figures(table, ["hardware.instruments", "arrivals.rate"], tmp_path,
                                            ["turnaround.p95"], "arrivals.rate", ("turnaround.p95", 600.0))
    assert [p.name for p in paths] == ["sweep_turnaround_p95.png"]
    ax = sweep_plots.plot_sweep(table, "arrivals.rate", "turnaround.p95", "hardware.instruments")
    assert ax.get_yscale() == "linear"  # never switched by itself
    sweep_plots.mark_target(ax, "turnaround.p95", 600.0, table[table["metric"] == "turnaround.p95"])
    assert any(line.get_label() == "target: 10min" for line in ax.get_lines())
    ax = sweep_plots.plot_sweep(table, "arrivals.rate", "turnaround.p95", "hardware.instruments", log=True)
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "turnaround.p95 (log scale)"
    ax.figure.canvas.draw()
    assert {"1 h", "10 h"} <= {t.get_text() for t in ax.get_yticklabels()}  # ticked in the metric's units


def test_sweep_over_levels_that_are_words() -> None:
    table = pd.DataFrame([{"scheduler.policy": p, "metric": "turnaround.mean", "mean": m, "half_width": 1.0,
                           "low": m - 1, "high": m + 1, "n": 3} for p, m in (("fifo", 30.0), ("priority", 20.0))])
    ax = sweep_plots.plot_sweep(table, x="scheduler.policy", metric="turnaround.mean")
    ax.figure.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["fifo", "priority"]
    assert ax.get_ylabel() == "turnaround.mean (s)"


def test_sweep_rejects_what_it_cannot_draw() -> None:
    table = sweep_table()
    with pytest.raises(ValueError, match=r"no rows for metric 'turnaround\.p99'"):
        sweep_plots.plot_sweep(table, x="arrivals.rate", metric="turnaround.p99")
    with pytest.raises(ValueError, match=r"factors \['hardware\.instruments'\] also vary"):
        sweep_plots.plot_sweep(table, x="arrivals.rate", metric="turnaround.p95")
    with pytest.raises(KeyError, match=r"no column 'stages\.compilation\.workers'"):
        sweep_plots.plot_sweep(table, x="stages.compilation.workers", metric="turnaround.p95")


def test_a_missing_half_width_leaves_the_band_out() -> None:
    table = pd.DataFrame([{"arrivals.rate": r, "metric": "turnaround.p95", "mean": 10.0 * r, "half_width": np.nan,
                           "low": np.nan, "high": np.nan, "n": 1} for r in (0.05, 0.1)])
    ax = sweep_plots.plot_sweep(table, x="arrivals.rate", metric="turnaround.p95")
    assert ax.get_lines()[0].get_xdata().tolist() == pytest.approx([180.0, 360.0])  # per second -> per hour
    assert all(not c.get_paths() for c in ax.collections if isinstance(c, PolyCollection))  # no band drawn


# --- the command line --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "out"
    assert main(["run", str(ROOT / "scenarios" / "baseline.toml"), "--jobs", "300", "--out", str(out)]) == 0
    return out


def test_report_writes_the_figures_of_each_complete_run(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["report", str(results)]) == 0
    folder = results / "figures" / "run-1"
    assert f"wrote {len(plots.REPORT_FIGURES)} figures of run 1 into {folder}" in capsys.readouterr().out
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.png" for n in plots.REPORT_FIGURES)


def test_report_writes_figures_where_it_is_told(results: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(results / "results.sqlite"), "--figures", str(tmp_path / "elsewhere")]) == 0
    assert len(list((tmp_path / "elsewhere" / "run-1").glob("*.png"))) == len(plots.REPORT_FIGURES)
    capsys.readouterr()
    assert main(["report", str(results), "--no-figures"]) == 0
    assert "figures" not in capsys.readouterr().out


def test_report_says_when_it_cannot_write_figures(results: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["report", str(results), "--figures", str(blocker)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"stationsim: error: {blocker / 'run-1'}: --figures: cannot write figures")
    assert "Traceback" not in error


def test_the_figures_of_an_incomplete_run_say_so(results: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from sim.results.store import load_run

    database = tmp_path / "results.sqlite"
    database.write_bytes((results / "results.sqlite").read_bytes())
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE runs SET complete = 0")
        connection.execute("DELETE FROM jobs WHERE job_id >= 100")
    capsys.readouterr()
    assert main(["report", str(database), "--figures", str(tmp_path / "figures")]) == 0
    assert "figures of run 1 (100 of 300 jobs, incomplete)" in capsys.readouterr().out
    with sqlite3.connect(database) as connection:
        axes = plots.plot_turnaround(load_run(connection, 1))
    assert axes.get_title().endswith("100 of 300 jobs, incomplete")
    plt.close(axes.figure)


def test_run_figures_on_the_utc_clock_when_the_scenario_has_one() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "calibration.toml")  # starts 08:00, calibrates 00:45, 14:15
    result = sim.simulate(scenario, seed=3, jobs=4000)
    figure = plots.plot_queue_lengths(result)
    bottom = figure.axes[-1]
    assert bottom.get_xlabel().startswith("UTC time (hh:mm)")  # about 08:00 to 21:00 of one day
    figure.canvas.draw()
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert "14:00" in labels
    ticks = bottom.get_xticks()
    assert ticks[labels.index("14:00")] == pytest.approx(6 * 3600.0)  # 14:00 is 6 h after 08:00
    gantt = plots.plot_instrument_gantt(result)
    assert gantt.get_xlabel().startswith("UTC time")
    detail = plots.plot_instrument_detail(result)
    assert "UTC)" in detail.get_title()
    plain = sim.simulate(sim.load_scenario(ROOT / "scenarios" / "baseline.toml"), seed=1, jobs=500)
    assert plots.plot_queue_lengths(plain).axes[-1].get_xlabel().startswith("time since the start of the run")


def test_a_turnaround_figure_with_nothing_to_draw_says_why() -> None:
    instant = {"workers": math.inf, "duration": 0}
    data = {"arrivals": {"times": [0, 1, 2]}, "hardware": {"instruments": 1, "execution_time": "0s"},
            "stages": dict.fromkeys(("validation", "calibration", "compilation", "save_metadata", "post_processing"),
                                    instant)}
    ax = plots.plot_turnaround(sim.simulate(sim.Scenario.from_dict(data)))
    assert any("turnaround of 0" in t.get_text() for t in ax.texts)


def test_the_instruments_utilisation_says_what_was_available() -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / "calibration.toml")
    result = sim.simulate(scenario, seed=3, jobs=4000)
    texts = _texts(plots.plot_utilisation(result))
    assert any("of their available time (" in t for t in texts)


def test_maintenance_is_shaded_in_the_queue_figure() -> None:
    result = sim.simulate(sim.load_scenario(ROOT / "scenarios" / "fleet.toml"), seed=2, jobs=30000)  # to Tue 18:00
    figure = plots.plot_queue_lengths(result)
    assert "instrument maintenance" in _texts(figure)
    assert figure.axes[-1].get_xlabel().startswith("UTC time (weekday hh:mm)")
