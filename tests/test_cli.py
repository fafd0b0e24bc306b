"""The command line, run as a user runs it: ``python -m sim`` (the same program as the ``stationsim`` script) in a
subprocess. ``run`` prints the per-stage table and writes the results database; bad input exits 2 with one line
naming the file and the key, never a traceback."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from strategies import BAD_SCENARIOS, VALID_TOML

from sim.cli.main import main
from sim.model.status import STAGE_LABELS

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
STAGES = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")
EXIT_BAD_INPUT = 2


def stationsim(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def assert_bad_input(process: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit status 2, no output, exactly one line on stderr starting ``stationsim: error:`` with every fragment."""
    assert "Traceback" not in process.stderr, process.stderr
    assert process.returncode == EXIT_BAD_INPUT, process.stderr
    assert process.stdout == ""
    lines = process.stderr.splitlines()
    assert len(lines) == 1, process.stderr
    line = lines[0]
    assert line.startswith("stationsim: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def table(db: Path, query: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / ("stationsim.exe" if os.name == "nt" else "stationsim")
    assert script.is_file()
    process = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert process.returncode == 0
    assert "run" in process.stdout
    assert "validate" in process.stdout


def test_help_and_version() -> None:
    process = stationsim("--help")
    assert process.returncode == 0
    assert "run" in process.stdout
    assert "validate" in process.stdout
    version = stationsim("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("stationsim ")


def test_no_command_is_a_usage_error() -> None:
    process = stationsim()
    assert process.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in process.stderr


@pytest.fixture(scope="module")
def run_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("cli") / "out"
    process = stationsim("run", BASELINE, "--jobs", "2000", "--seed", "7", "--out", out)
    assert process.returncode == 0, process.stderr
    return process, out


def test_run_prints_the_per_stage_table(run_output: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    process, _ = run_output
    assert process.stderr == ""
    lines = process.stdout.splitlines()
    assert "baseline" in lines[0]
    assert re.search(r"\bseed 7\b", lines[0])
    assert re.search(r"\b2,?000 jobs\b", lines[0])
    for stage in STAGES:
        label = STAGE_LABELS[stage]  # "calibration fetch", "save metadata", "post-processing"
        rows = [line for line in lines if line.startswith(label + " ")]
        assert len(rows) == 1, stage
        assert rows[0][len(label):].split()[0].replace(",", "") == "2000", rows[0]  # jobs served
    for word in ("wait", "service", "mean", "p50", "p95", "p99", "max", "turnaround", "throughput"):
        assert word in process.stdout


def test_run_writes_results(run_output: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, out = run_output
    db = out / "results.sqlite"
    assert db.is_file()
    assert table(db, "SELECT COUNT(*) FROM jobs") == [(2000,)]
    assert table(db, "SELECT COUNT(DISTINCT job_id) FROM jobs") == [(2000,)]
    assert table(db, "SELECT COUNT(*) FROM transitions") == [(2000 * 16,)]
    assert table(db, "SELECT final_status, COUNT(*) FROM jobs GROUP BY final_status") == [("ready", 2000)]
    runs = table(db, "SELECT run_id, scenario_name, seed, jobs, complete, finished_at IS NOT NULL FROM runs")
    assert runs == [(1, "baseline", 7, 2000, 1, 1)]
    (scenario_json,) = table(db, "SELECT scenario_json FROM runs")[0]
    assert json.loads(str(scenario_json))["name"] == "baseline"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["jobs"]["submitted"] == 2000
    assert summary["jobs"]["ready"] == 2000
    assert set(summary["stages"]) == set(STAGES)
    assert summary["seed"] == 7
    assert not list(out.glob("*.partial"))


def test_same_seed_gives_identical_tables(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        process = stationsim("run", BASELINE, "--jobs", "1500", "--seed", "11", "--out", out)
        assert process.returncode == 0, process.stderr
    for query in ("SELECT * FROM jobs ORDER BY run_id, job_id",
                  "SELECT * FROM transitions ORDER BY run_id, job_id, status_rank",
                  "SELECT * FROM events ORDER BY run_id, t, rowid",
                  "SELECT scenario_name, scenario_json, seed, jobs, complete, sim_time FROM runs"):
        rows = table(first / "results.sqlite", query)
        assert rows == table(second / "results.sqlite", query), query
    assert len(table(first / "results.sqlite", "SELECT * FROM jobs")) == 1500
    summaries = [json.loads((out / "summary.json").read_text()) for out in (first, second)]
    for summary in summaries:
        del summary["wall_seconds"], summary["jobs_per_second"]
    assert summaries[0] == summaries[1]


def test_different_seeds_differ_and_runs_accumulate(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for seed in ("1", "2"):
        assert stationsim("run", BASELINE, "--jobs", "300", "--seed", seed, "--out", out).returncode == 0
    db = out / "results.sqlite"
    assert table(db, "SELECT run_id, seed, complete FROM runs ORDER BY run_id") == [(1, 1, 1), (2, 2, 1)]
    one, two = (table(db, f"SELECT job_id, status, t FROM transitions WHERE run_id = {r} ORDER BY job_id, t, status")
                for r in (1, 2))
    assert len(one) == len(two) == 300 * 16
    assert one != two


def test_seed_and_jobs_default_to_the_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "small.toml"
    scenario.write_text('name = "small"\n[run]\njobs = 25\nseed = 3\n[arrivals]\nrate = "300/h"\n')
    process = stationsim("run", scenario, "--out", tmp_path / "out")
    assert process.returncode == 0, process.stderr
    assert "scenario small, seed 3: 25 jobs" in process.stdout
    assert table(tmp_path / "out" / "results.sqlite", "SELECT seed, jobs FROM runs") == [(3, 25)]


def test_validate() -> None:
    process = stationsim("validate", BASELINE)
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    assert "baseline" in process.stdout
    assert "valid" in process.stdout


def test_validate_does_not_run(tmp_path: Path) -> None:
    """A scenario that would run for a very long time is validated at once and writes nothing."""
    scenario = tmp_path / "huge.toml"
    scenario.write_text("[run]\njobs = 1000000000\n" + VALID_TOML)
    process = stationsim("validate", scenario, cwd=tmp_path)
    assert process.returncode == 0, process.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.toml"]


SUBPROCESS_BAD_SCENARIOS = ("bad-toml", "unknown-key-in-stage", "wrong-type", "negative-rate",
                            "unknown-distribution", "zero-workers")
"""The bad inputs given to a real process in the fast suite (each costs an interpreter start-up); the slow suite
gives it every one. In-process, ``sim.cli.main.main`` gets every one in the fast suite too."""


def check_bad_scenario(scenario: Path, process: subprocess.CompletedProcess[str], name: str) -> None:
    case = BAD_SCENARIOS[name]
    line = assert_bad_input(process, str(scenario), case.expected)
    if case.key is not None:
        assert case.key in line.removeprefix(f"stationsim: error: {scenario}: ").split(": ")[0], line
    assert not (scenario.parent / "out" / "results.sqlite").exists()


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name", [
    name if name in SUBPROCESS_BAD_SCENARIOS else pytest.param(name, marks=pytest.mark.slow) for name in BAD_SCENARIOS
])
def test_bad_scenario(tmp_path: Path, name: str, command: str) -> None:
    scenario = tmp_path / "broken.toml"
    scenario.write_text(BAD_SCENARIOS[name].toml)
    args = ("--out", tmp_path / "out") if command == "run" else ()
    check_bad_scenario(scenario, stationsim(command, scenario, *args), name)


@pytest.mark.parametrize("command", ["run", "validate"])
@pytest.mark.parametrize("name", list(BAD_SCENARIOS))
def test_bad_scenario_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                                 command: str) -> None:
    """``sim.cli.main.main``, which the console script and ``python -m sim`` call: any exception would escape here."""
    scenario = tmp_path / "broken.toml"
    scenario.write_text(BAD_SCENARIOS[name].toml)
    args = [command, str(scenario), *(("--out", str(tmp_path / "out")) if command == "run" else ())]
    status = main(args)
    captured = capsys.readouterr()
    check_bad_scenario(scenario, subprocess.CompletedProcess(args, status, captured.out, captured.err), name)


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert_bad_input(stationsim("run", missing), str(missing), "no such file")
    assert_bad_input(stationsim("validate", missing), str(missing), "no such file")


def test_relative_path_is_named_as_given(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("[arrivals]\nrate = 0\n")
    line = assert_bad_input(stationsim("validate", "broken.toml", cwd=tmp_path))
    assert line.startswith("stationsim: error: broken.toml: arrivals.rate: ")


def test_file_not_utf8(tmp_path: Path) -> None:
    scenario = tmp_path / "latin1.toml"
    scenario.write_bytes('name = "Mötley"\n[arrivals]\nrate = 1\n'.encode("latin-1"))
    assert_bad_input(stationsim("validate", scenario), str(scenario), "UTF-8")


@pytest.mark.parametrize("args", [
    ("--jobs", "0"), ("--jobs", "-5"), ("--jobs", "many"), ("--jobs", "2.5"), ("--seed", "-1"), ("--seed", "x"),
])
def test_bad_command_line_values(args: tuple[str, str]) -> None:
    process = stationsim("run", BASELINE, *args)
    assert process.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in process.stderr
    assert args[0] in process.stderr
    assert process.stdout == ""


def test_out_pointing_at_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    assert_bad_input(stationsim("run", BASELINE, "--jobs", "10", "--out", target), str(target), "--out")
    assert target.read_text() == "keep me\n"


def test_out_inside_a_file(tmp_path: Path) -> None:
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    assert_bad_input(stationsim("run", BASELINE, "--jobs", "10", "--out", target / "sub"), str(target), "--out")


def test_zero_horizon_receives_nothing(tmp_path: Path) -> None:
    scenario = tmp_path / "h.toml"
    scenario.write_text("[run]\nhorizon = 0\n" + VALID_TOML)
    process = stationsim("run", scenario, "--jobs", "5")
    assert process.returncode == 0, process.stderr
    assert "0 received" in process.stdout


def test_horizon_run_reports_jobs_in_flight(tmp_path: Path) -> None:
    scenario = tmp_path / "short.toml"
    scenario.write_text("[run]\nhorizon = \"30min\"\n" + VALID_TOML + '[hardware]\nexecution_time = "1min"\n')
    process = stationsim("run", scenario, "--jobs", "500", "--seed", "4", "--out", tmp_path / "out")
    assert process.returncode == 0, process.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    jobs = summary["jobs"]
    assert summary["sim_time"] == 1800
    assert jobs["in_flight"] > 0
    assert f"{jobs['in_flight']:,} in flight" in process.stdout
    assert jobs["received"] == jobs["ready"] + jobs["failed"] + jobs["aborted"] + jobs["in_flight"]
    assert jobs["received"] < 500
    db = tmp_path / "out" / "results.sqlite"
    in_progress = table(db, "SELECT COUNT(*) FROM jobs WHERE final_status NOT IN ('ready', 'failed', 'aborted')")
    assert in_progress == [(jobs["in_flight"],)]
    assert table(db, "SELECT MAX(t) <= 1800 FROM transitions") == [(1,)]


def test_run_by_user_adds_each_user_s_figures_to_the_table_and_the_summary(tmp_path: Path) -> None:
    process = stationsim("run", BASELINE, "--jobs", "400", "--by-user", "--out", tmp_path / "out")
    assert process.returncode == 0, process.stderr
    assert re.search(r"^user +jobs +ready", process.stdout, re.MULTILINE)
    assert re.search(r"^calibration-team +\d+", process.stdout, re.MULTILINE)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert sum(user["jobs"]["submitted"] for user in summary["users"].values()) == 400


@pytest.mark.parametrize("option", [["--all"], ["--tail", "turnaround.p95<10min"]])
def test_replication_options_without_replications_are_refused(option: list[str]) -> None:
    process = stationsim("run", BASELINE, "--jobs", "100", *option)
    assert process.returncode == 2
    assert "go with --replications R" in process.stderr
    assert "Traceback" not in process.stderr
