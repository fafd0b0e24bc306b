"""Replications, warm-up deletion, sweeps and the capacity search (``sim.experiments.replications``,
``sim.experiments.sweeps``, ``sim.experiments.capacity``), through the Python API and the command line.

Runs are small (hundreds to a few thousand jobs of the baseline) and go through the in-process executor, so the
module runs in seconds; executor equality is in ``test_executors.py``.
"""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.experiments.capacity import Target, bisection, find_capacity, grid_answers
from sim.experiments.confidence import t_interval
from sim.experiments.replications import (
    ExperimentError,
    RunSpec,
    Warmup,
    flatten_summary,
    interval,
    metric_values,
    replicate,
    run_replication,
    write_tables,
)
from sim.experiments.sweeps import Sweep, parse_factor, run_sweep, write_sweep
from sim.plots.sweeps import SWEEP_HEADLINES
from sim.results.metrics import summarize
from sim.scenario.streams import replication_seeds

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
EXIT_BAD_INPUT = 2


@pytest.fixture(scope="module")
def baseline() -> sim.Scenario:
    return sim.load_scenario(BASELINE)


def write_sweep_file(folder: Path, body: str, scenario: Path = BASELINE) -> Path:
    path = folder / "sweep.toml"
    path.write_text(f'scenario = "{scenario.as_posix()}"\n' + body, encoding="utf-8")
    return path


SMALL_SWEEP = """
replications = 3
seed = 4
jobs = 600
warmup_jobs = 50

[factors]
"stages.compilation.workers" = [1, 4]
"arrivals.rate" = ["300/h", "450/h"]
"""


# --- metrics of one run -------------------------------------------------------------------------------------

def test_flatten_summary_names_every_number_by_its_path_and_leaves_out_the_computer() -> None:
    summary = {"scenario": "x", "seed": 3, "wall_seconds": 1.5, "jobs_per_second": 9.0, "sim_time": 10.0,
               "jobs": {"ready": 4, "failed": 1}, "stages": {"execution": {"wait": {"p95": 2.5}}},
               "failed_by_stage": {}, "flag": True}
    assert flatten_summary(summary) == {"sim_time": 10.0, "jobs.ready": 4.0, "jobs.failed": 1.0,
                                        "stages.execution.wait.p95": 2.5}


def test_every_summary_metric_is_flattened(baseline: sim.Scenario) -> None:
    metrics = run_replication(RunSpec.of(baseline, seed=1, jobs=300))
    for name in ("stages.execution.wait.p95", "turnaround.mean", "throughput_per_hour", "jobs.failed",
                 "instrument_time.idle", "stages.compilation.utilisation", "sim_time"):
        assert name in metrics
    assert all(isinstance(v, float) for v in metrics.values())
    assert "wall_seconds" not in metrics


def test_warmup_by_jobs_counts_only_the_jobs_after_it(baseline: sim.Scenario) -> None:
    result = sim.simulate(baseline, seed=2, jobs=800)
    start = Warmup(jobs=200).start(result.workload.submitted_at)
    summary = summarize(result, warmup=start)
    assert summary["jobs"]["submitted"] == 600
    after = result.times[200:]
    turnaround = np.fmax(np.fmax(after[:, sim.JobStatus.READY.code], after[:, sim.JobStatus.FAILED.code]),
                         after[:, sim.JobStatus.ABORTED.code]) - after[:, sim.JobStatus.RECEIVED.code]
    assert summary["turnaround"]["mean"] == pytest.approx(float(np.nanmean(turnaround)))
    assert summary["throughput_per_hour"] == pytest.approx(600 / ((result.sim_time - start) / 3600))


def test_warmup_by_time_keeps_utilisation_a_share_of_the_time_after_it(baseline: sim.Scenario) -> None:
    result = sim.simulate(baseline, seed=2, jobs=800)
    whole, late = summarize(result), summarize(result, warmup=3600.0)
    assert late["jobs"]["submitted"] == int((result.workload.submitted_at >= 3600.0).sum())
    for summary in (whole, late):
        assert 0 < summary["stages"]["execution"]["utilisation"] <= 1
        assert sum(summary["instrument_time"].values()) == pytest.approx(1.0)
    assert summarize(result, warmup=0.0) == whole


def test_a_warmup_must_leave_jobs_and_be_one_kind() -> None:
    with pytest.raises(ExperimentError, match="deletes every job"):
        Warmup(jobs=100).check(100)
    with pytest.raises(ExperimentError, match="not both"):
        Warmup(time=5.0, jobs=3)
    with pytest.raises(ExperimentError):
        Warmup(time=-1.0)


# --- replications and intervals -----------------------------------------------------------------------------

def test_replications_are_the_runs_of_the_spawned_seeds(baseline: sim.Scenario) -> None:
    replications = replicate(baseline, 3, seed=11, jobs=400, warmup=Warmup(jobs=40))
    assert replications.seeds == tuple(replication_seeds(11, 3))
    for seed, metrics in zip(replications.seeds, replications.runs, strict=True):
        result = sim.simulate(baseline, seed=seed, jobs=400)
        start = Warmup(jobs=40).start(result.workload.submitted_at)
        assert metrics == flatten_summary(summarize(result, warmup=start))
    p95 = [run["turnaround.p95"] for run in replications.runs]
    assert replications.intervals()["turnaround.p95"] == t_interval(p95, 0.95)
    table = replications.table()
    assert list(table.columns) == ["metric", "mean", "half_width", "low", "high", "n"]
    assert table.set_index("metric").loc["turnaround.p95", "n"] == 3
    assert len(replications.values_table()) == 3 * len(table)


def test_intervals_handle_constants_missing_counts_and_single_runs() -> None:
    assert interval([math.inf, math.inf]).half_width == 0.0
    assert interval([2.0, 2.0, 2.0]).mean == 2.0
    assert interval([1.0, math.nan, 3.0]).n == 2
    assert math.isnan(interval([5.0]).half_width)
    runs = [{"failed_by_stage.execution": 2.0, "x": 1.0}, {"y": 1.0}]
    assert metric_values(runs, "failed_by_stage.execution") == [2.0, 0.0]
    assert math.isnan(metric_values(runs, "x")[1])


# --- sweeps -------------------------------------------------------------------------------------------------

def test_a_sweep_file_expands_to_the_product_of_its_factors(tmp_path: Path) -> None:
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, SMALL_SWEEP))
    assert sweep.points() == [
        {"stages.compilation.workers": 1, "arrivals.rate": "300/h"},
        {"stages.compilation.workers": 1, "arrivals.rate": "450/h"},
        {"stages.compilation.workers": 4, "arrivals.rate": "300/h"},
        {"stages.compilation.workers": 4, "arrivals.rate": "450/h"}]
    assert sweep.seeds() == replication_seeds(4, 3)
    assert sweep.warmup == Warmup(jobs=50)
    assert sweep.points(exclude="arrivals.rate") == [{"stages.compilation.workers": 1},
                                                     {"stages.compilation.workers": 4}]


def test_the_scenario_path_is_relative_to_the_sweep_file(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text('extends = "' + BASELINE.as_posix() + '"\nname = "mine"\n')
    path = tmp_path / "s.toml"
    path.write_text('scenario = "base.toml"\n[factors]\n"hardware.instruments" = [1, 2]\n')
    assert Sweep.from_toml(path).scenario.name == "mine"


def test_a_sweep_runs_every_point_with_common_random_numbers(tmp_path: Path) -> None:
    result = run_sweep(Sweep.from_toml(write_sweep_file(tmp_path, SMALL_SWEEP)))
    table = result.table()
    metrics = table["metric"].unique()
    assert len(table) == 4 * len(metrics)
    assert list(table.columns) == ["stages.compilation.workers", "arrivals.rate", "metric", "mean", "half_width",
                                   "low", "high", "n"]
    assert set(table["n"]) <= {0, 3}
    # Compilation workers do not touch the validation stage's draws: same seeds, same validation service times.
    validation = table[(table["metric"] == "stages.validation.service.mean") & (table["arrivals.rate"] == "300/h")]
    assert validation["mean"].nunique() == 1
    # More workers never make compilation waits longer for the same jobs.
    waits = table[(table["metric"] == "stages.compilation.wait.mean")].set_index(
        ["arrivals.rate", "stages.compilation.workers"])["mean"]
    assert waits[("450/h", 4)] <= waits[("450/h", 1)]


def test_a_sweep_is_written_whole(tmp_path: Path) -> None:
    result = run_sweep(Sweep.from_toml(write_sweep_file(tmp_path, SMALL_SWEEP)))
    database, csv = write_sweep(result, tmp_path / "out")
    connection = sqlite3.connect(database)
    try:
        stored = pd.read_sql("SELECT * FROM sweep", connection)
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        info = pd.read_sql("SELECT * FROM sweep_info", connection)
        points = pd.read_sql("SELECT * FROM points", connection)
        values = pd.read_sql("SELECT * FROM replications", connection)
    finally:
        connection.close()
    assert names == {"sweep", "points", "replications", "sweep_info"}
    assert info["complete"].tolist() == [1]
    assert len(points) == 4
    assert len(values) == 4 * 3 * stored["metric"].nunique()
    pd.testing.assert_frame_equal(stored, pd.read_csv(csv), check_dtype=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["sweep.csv", "sweep.sqlite"]


def test_a_failed_write_leaves_the_previous_database_untouched(tmp_path: Path) -> None:
    database = tmp_path / "sweep.sqlite"
    write_tables(database, {"sweep": pd.DataFrame({"a": [1]})})
    with pytest.raises(Exception):  # noqa: B017, PT011 - any error of the writer will do
        write_tables(database, {"sweep": pd.DataFrame({"a": [2]}), "bad": pd.DataFrame({"b": [object()]})})
    connection = sqlite3.connect(database)
    try:
        assert connection.execute("SELECT a FROM sweep").fetchall() == [(1,)]
    finally:
        connection.close()
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.sqlite"]


def test_command_line_factors_replace_or_add_to_the_file(tmp_path: Path) -> None:
    assert parse_factor("arrivals.rate=300/h,600/h").values == ("300/h", "600/h")
    assert parse_factor("stages.compilation.workers=1, 2, 4").values == (1, 2, 4)
    assert parse_factor('scheduler.policy="fifo","priority"').values == ("fifo", "priority")
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, SMALL_SWEEP)).with_changes(
        factors=[parse_factor("arrivals.rate=100/h"), parse_factor("hardware.instruments=1,2")])
    assert [(f.key, f.values) for f in sweep.factors] == [
        ("stages.compilation.workers", (1, 4)), ("arrivals.rate", ("100/h",)), ("hardware.instruments", (1, 2))]
    with pytest.raises(ExperimentError):
        parse_factor("arrivals.rate")


@pytest.mark.parametrize(("body", "fragments"), [
    ('[factors]\n"stages.compilaton.workers" = [1, 2]\n', ('factors."stages.compilaton.workers"', "unknown stage")),
    ('[factors]\n"stages.compilation.workers" = [1, 0]\n', ('factors."stages.compilation.workers"', "at least 1")),
    ('[factors]\n"arrivals.rate" = []\n', ('factors."arrivals.rate"', "non-empty list")),
    ('[factors]\n"arrivals.rate" = "300/h"\n', ('factors."arrivals.rate"', "non-empty list")),
    ('[factors]\n"workload[7].weight" = [1]\n', ('factors."workload[7].weight"', "no entry")),
    ("replications = 0\n", ("replications", "at least 1")),
    ("repetitions = 3\n", ("repetitions", "unknown key")),
    ('warmup = "1h"\nwarmup_jobs = 3\n', ("warmup", "not both")),
    ("jobs = 100\nwarmup_jobs = 100\n", ("warmup_jobs", "deletes every job")),
    ('[target]\nmetric = "turnaround.p95"\n', ("target.below", "exactly one")),
    ('[target]\nmetric = "turnaround.p95"\nbelow = "10min"\nsearch = "arrivals.rate"\nrange = ["9/h", "1/h"]\n',
     ("target.range", "lowest value first")),
    ('[target]\nmetric = "turnaround.p95"\nbelow = "10min"\nsearch = "arrivals.rate"\nrange = ["1/h", 5]\n',
     ("target.range", "same kind")),
    ('[target]\nmetric = "turnaround.p95"\nbelow = "soon"\n', ("target.below", "duration")),
    ('[target]\nmetric = "turnaround.p95"\nbelow = 1\nconfidence = 95\n', ("target.confidence", "between 0 and 1")),
    ('[target]\nmetric = "turnaround.p95"\nbelow = 1\nsearch = "arivals.rate"\nrange = [1, 2]\n',
     ("target.search", "arivals")),
])
def test_bad_sweep_files_fail_before_anything_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str,
                                                   fragments: tuple[str, ...]) -> None:
    path = write_sweep_file(tmp_path, body)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"stationsim: error: {path}: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert not (tmp_path / "out" / "sweep.sqlite").exists()


def test_an_unknown_target_metric_stops_the_sweep_at_the_first_run(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    body = SMALL_SWEEP + '\n[target]\nmetric = "turnaround.p59"\nbelow = "10min"\n'
    path = write_sweep_file(tmp_path, body)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--processes", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "target.metric: no metric 'turnaround.p59'; did you mean" in err
    assert "turnaround.p95" in err
    assert not (tmp_path / "out" / "sweep.sqlite").exists()


# --- the capacity search ------------------------------------------------------------------------------------

def drive(target: Target, holds_below: float) -> tuple[tuple[float | None, float | None], list[float]]:
    """Run the bisection against a made-up station at which the target holds up to ``holds_below``."""
    search, probed = bisection(target), []
    values = next(search)
    while True:
        probed += values
        try:
            values = search.send(tuple((v < holds_below) == (target.find == "max") for v in values))
        except StopIteration as done:
            return done.value, probed


def test_bisection_over_real_values_brackets_the_answer_within_the_tolerance() -> None:
    target = Target("m", 1.0, search="k", low=10.0, high=1000.0, unit="", tolerance=0.01)
    (good, bad), probed = drive(target, 437.0)
    assert good is not None
    assert bad is not None
    assert good < 437.0 <= bad
    assert bad - good <= 0.01 * bad
    assert len(probed) < 15


def test_bisection_over_whole_numbers_finds_the_fewest_that_hold() -> None:
    target = Target("m", 1.0, search="k", low=1, high=16, unit="int", find="min")
    assert drive(target, 5.5)[0] == (6.0, 5.0)     # holds from 6 up
    assert drive(target, 0.5)[0] == (1.0, None)    # holds across the range
    assert drive(target, 99.0)[0] == (None, 16.0)  # fails even at the top


def test_the_capacity_search_finds_the_fewest_instruments(tmp_path: Path) -> None:
    body = """
replications = 3
seed = 2
jobs = 1500
warmup_jobs = 100

[target]
metric = "stages.execution.wait.mean"
below = "30s"
search = "hardware.instruments"
range = [1, 4]
find = "min"
"""
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, body)).with_changes(
        factors=[parse_factor("arrivals.rate=400/h,800/h")])
    answers = find_capacity(sweep)
    assert [a.context for a in answers] == [{"arrivals.rate": "400/h"}, {"arrivals.rate": "800/h"}]
    for answer in answers:
        assert answer.status == "found"
        assert answer.holds_at is not None
        assert answer.fails_at is not None
        assert answer.holds_at.evidence.high < 30.0  # its one-sided upper bound
        assert answer.fails_at.evidence.verdict in ("fails", "undecided")
        assert answer.fails_at.value == answer.holds_at.value - 1
    assert answers[0].value is not None
    assert answers[1].value is not None
    assert answers[0].value <= answers[1].value
    assert "lowest hardware.instruments at which stages.execution.wait.mean < 30s at 95% confidence (one-sided)" \
        in answers[0].describe()


def test_grid_answers_read_the_best_level_off_the_sweep(tmp_path: Path) -> None:
    body = SMALL_SWEEP + '\n[target]\nmetric = "jobs.submitted"\nbelow = 1000\nsearch = "arrivals.rate"\n' \
        'range = ["100/h", "900/h"]\n'
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, body))
    result = run_sweep(sweep)
    assert sweep.target is not None
    answers = grid_answers(sweep.target, result.points, result.runs)
    assert answers[0] == ("stages.compilation.workers = 1: holds at every level of the grid, up to 450/h "
                          "(jobs.submitted 550); the grid does not reach where it stops holding")


# --- the command line ---------------------------------------------------------------------------------------

def run_cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err


def test_run_with_replications_prints_and_writes_the_table(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "run", BASELINE, "--replications", "3", "--jobs", "400", "--warmup-jobs",
                               "40", "--processes", "1", "--out", tmp_path, "--quiet")
    assert status == 0, err
    assert "3 replications of 400 jobs" in out
    assert any(line.startswith("turnaround.p95 ") and line.split()[-1] == "3" for line in out.splitlines())
    table = pd.read_csv(tmp_path / "replications.csv")
    assert list(table.columns) == ["metric", "mean", "half_width", "low", "high", "n"]
    connection = sqlite3.connect(tmp_path / "replications.sqlite")
    try:
        assert connection.execute("SELECT COUNT(*) FROM replications").fetchone()[0] == len(table)
    finally:
        connection.close()


def test_warmup_options_need_replications(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run_cli(capsys, "run", BASELINE, "--warmup", "1h")
    assert status == EXIT_BAD_INPUT
    assert "go with --replications" in err


def test_sweep_and_capacity_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "sweep", BASELINE, "--factor", "hardware.instruments=1,2", "--jobs", "300",
                               "--replications", "2", "--processes", "1", "--out", tmp_path / "s", "--quiet")
    assert status == 0, err
    assert "2 points x 2 replications of 300 jobs" in out
    assert (tmp_path / "s" / "sweep.csv").is_file()
    figures = sorted(p.name for p in (tmp_path / "s" / "figures").glob("*.png"))
    assert figures == sorted(f"sweep_{m.replace('.', '_')}.png" for m in SWEEP_HEADLINES)
    path = write_sweep_file(tmp_path, """
replications = 2
jobs = 300
[target]
metric = "turnaround.mean"
below = "1min"
search = "arrivals.rate"
range = ["60/h", "2000/h"]
tolerance = 0.1
""")
    status, out, err = run_cli(capsys, "capacity", path, "--processes", "1", "--out", tmp_path / "c", "--quiet")
    assert status == 0, err
    assert "highest arrivals.rate at which turnaround.mean < 60s at 95% confidence (one-sided)" in out
    row = pd.read_csv(tmp_path / "c" / "capacity.csv").iloc[0]
    assert row["status"] in ("found", "holds across the range", "fails across the range")
    probes = pd.read_csv(tmp_path / "c" / "capacity_probes.csv")
    assert len(probes) == row["probes"]
    assert set(probes.columns) >= {"arrivals.rate", "value", "estimate", "low", "high", "n", "verdict", "holds",
                                   "role"}
    if row["status"] == "found":  # the evidence on both sides of the answer, neither dropped
        assert row[["holds_estimate", "holds_high", "holds_n", "fails_estimate", "fails_low", "fails_n"]].notna().all()


def test_capacity_needs_a_target_with_a_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_sweep_file(tmp_path, '[target]\nmetric = "turnaround.p95"\nbelow = "10min"\n')
    status, out, err = run_cli(capsys, "capacity", path)
    assert status == EXIT_BAD_INPUT
    assert "target.search: missing" in err
    assert out == ""


def test_the_bundled_capacity_sweep_is_valid() -> None:
    sweep = Sweep.from_toml(ROOT / "scenarios" / "capacity_sweep.toml")
    assert len(sweep.factors) >= 2
    assert all(len(f.values) >= 4 for f in sweep.factors)
    assert sweep.replications == 5
    assert sweep.target is not None
    assert sweep.target.search == "arrivals.rate"


def test_run_with_replications_prints_the_headline_and_everything_with_all(
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ("run", BASELINE, "--replications", "2", "--jobs", "600", "--processes", "1", "--quiet")
    status, out, err = run_cli(capsys, *args)
    assert status == 0, err
    lines = out.splitlines()
    table = lines[lines.index("") + 1:]
    assert table[0].split() == ["metric", "mean", "95%", "interval", "n"]
    names = [line.split()[0] for line in table[1:] if line and not line.startswith("(")]
    assert names[:4] == ["jobs.ready", "throughput_per_hour", "turnaround.mean", "turnaround.p50"]
    assert "turnaround.p95" in names
    assert len(names) < 30
    assert "jobs.failed" not in names  # nothing failed: not a headline
    utilisation = next(line for line in table if line.startswith("stages.execution.utilisation "))
    assert utilisation.split()[1].endswith("%")  # a percentage, with its interval in percent
    assert re.search(r"\[\d+(\.\d+)?%, \d+(\.\d+)?%\]", utilisation)
    more = int(re.search(r"\((\d+) more metrics with --all\)", out).group(1))  # type: ignore[union-attr]
    status, full, _ = run_cli(capsys, *args, "--all")
    assert status == 0
    rows = [line for line in full.splitlines()[3:] if line]
    assert len(rows) == len(names) + more
    assert not re.search(r"e-\d\d", full)  # no -3.7e-17 for a zero
    assert "jobs.submitted" in full
    assert "(the same in every run)" in full


def test_run_with_replications_gives_the_chance_that_a_period_misses(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_cli(capsys, "run", BASELINE, "--replications", "2", "--jobs", "3000", "--processes", "1",
                               "--quiet", "--tail", "turnaround.p95<90s", "--per", "1h")
    assert status == 0, err
    line = next(line for line in out.splitlines() if line.startswith("P(a 1h period's turnaround.p95 >= 90s)"))
    share, misses, periods = re.search(r"= ([\d.]+)%: (\d+) of (\d+) periods over 2 runs", line).groups()  # type: ignore[union-attr]
    assert float(share) == pytest.approx(100 * int(misses) / int(periods), abs=0.05)
    assert 14 <= int(periods) <= 20  # 2 runs of about 10 h each
    assert "(Clopper-Pearson" in line
    status, _, err = run_cli(capsys, "run", BASELINE, "--replications", "2", "--tail", "throughput_per_hour<5")
    assert status == EXIT_BAD_INPUT
    assert "--tail throughput_per_hour<5: no per-period form" in err


def test_numbers_for_people() -> None:
    from sim.experiments.replications import format_metric

    assert format_metric("instrument_time.idle", -3.7e-17) == "0"
    assert format_metric("stages.execution.wait.mean", 2.2e-16) == "0"
    assert format_metric("stages.execution.utilisation", 0.6233) == "62.3%"
    assert format_metric("availability.instruments.all.available", 1.0) == "100%"
    assert format_metric("per_1d.turnaround.p95.misses", 3.0) == "3"  # a count, not a duration
    assert format_metric("jobs.ready", 49337.3) == "49,337"
    one = interval([1.0, 1.0 - 2e-16, 1.0 + 4e-16])  # a share that is 1 by construction
    assert (one.mean, one.half_width) == (1.0, 0.0)
    assert interval([0.62, 0.61]).half_width > 0


def test_a_printed_interval_stops_where_the_mean_must_lie() -> None:
    from sim.experiments.replications import format_table

    rows = [{"metric": "jobs.failed", "mean": 4.667, "half_width": 12.5, "low": -7.837, "high": 17.17, "n": 3},
            {"metric": "availability.instruments.all.available", "mean": 0.986, "half_width": 0.024,
             "low": 0.962, "high": 1.01, "n": 3},
            {"metric": "jobs.submitted", "mean": 300.0, "half_width": 0.0, "low": 300.0, "high": 300.0, "n": 3}]
    lines = format_table(rows, 0.95).splitlines()
    assert lines[0].split() == ["metric", "mean", "95%", "interval", "n"]
    assert "[0, 17.17]" in lines[1]
    assert "[96.2%, 100%]" in lines[2]
    assert "(the same in every run)" in lines[3]


def test_a_sweep_reads_a_miss_probability_target_off_its_grid(tmp_path: Path) -> None:
    body = SMALL_SWEEP + ('\n[target]\nmetric = "turnaround.p95"\nbelow = "1h"\nper = "30min"\nmiss_probability = 0.7\n'
                          'search = "arrivals.rate"\nrange = ["100/h", "900/h"]\n')
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, body))
    result = run_sweep(sweep)
    assert all(run["per_30min.turnaround.p95.periods"] >= 1 for point in result.runs for run in point)
    assert sweep.target is not None
    answers = grid_answers(sweep.target, result.points, result.runs)
    assert answers[0].startswith("stages.compilation.workers = 1: holds at every level of the grid, up to 450/h "
                                 "(0% of periods missed)")


def test_a_grid_too_short_to_show_a_miss_target_says_so_rather_than_that_it_fails(tmp_path: Path) -> None:
    """No period missed, but too few periods for a 1% miss target: undecided, not failing."""
    body = SMALL_SWEEP + ('\n[target]\nmetric = "turnaround.p95"\nbelow = "1h"\nper = "30min"\n'
                          'miss_probability = 0.01\nsearch = "arrivals.rate"\nrange = ["100/h", "900/h"]\n')
    sweep = Sweep.from_toml(write_sweep_file(tmp_path, body))
    result = run_sweep(sweep)
    assert sweep.target is not None
    answers = grid_answers(sweep.target, result.points, result.runs)
    assert answers[0].startswith("stages.compilation.workers = 1: not shown to hold at any level of arrivals.rate: "
                                 "at the easiest, 300/h, 0 of 7 periods missed")
    assert "too few runs to decide" in answers[0]
