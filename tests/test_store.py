"""The results database: written while the run goes on, read back whole, and sound after a SIGKILL."""

from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.model.station import Station
from sim.model.workload import sample_workload
from sim.results.invariants import check
from sim.results.store import RunWriter, connect, load_run, run_info
from sim.scenario.streams import RandomStreams

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"


def without_wall_clock(summary: dict[str, object]) -> str:
    return json.dumps({k: v for k, v in summary.items() if k not in ("wall_seconds", "jobs_per_second")},
                      sort_keys=True, default=str)


@pytest.mark.parametrize("name", ["restarts", "trace_replay", "scheduler_comparison", "faulty_hardware"])
def test_a_stored_run_reads_back_as_the_same_run(tmp_path: Path, name: str) -> None:
    scenario = sim.load_scenario(ROOT / "scenarios" / f"{name}.toml")
    result = sim.simulate(scenario, jobs=4000, seed=3, store=tmp_path / "r.sqlite")
    assert result.run_id == 1
    loaded = load_run(connect(tmp_path / "r.sqlite"), 1)
    assert np.array_equal(loaded.times, result.times, equal_nan=True)
    assert loaded.records.status == result.records.status
    assert loaded.records.failed_stage == result.records.failed_stage
    assert loaded.records.events == result.records.events
    assert without_wall_clock(loaded.summary()) == without_wall_clock(result.summary())
    assert loaded.jobs_frame().equals(result.jobs_frame())


def test_rows_are_written_while_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Station, "settled_batch", 1000)
    scenario = sim.load_scenario(BASELINE)
    streams = RandomStreams(1)
    workload = sample_workload(scenario, 2400, streams)
    station = Station(scenario, workload, streams)
    writer = RunWriter(tmp_path / "r.sqlite", scenario, 1, workload, station.records)
    writer.begin()
    station.on_settled = writer.write_jobs
    station.start()
    seen = []
    for hours in (4, 8):  # 300 jobs/h: about 1,200 and 2,400 jobs have settled by then
        station.run(until=hours * 3600.0)
        writer.flush()
        seen.append(_jobs_written(tmp_path / "r.sqlite"))
    assert seen == [1000, 2000]  # whole batches, committed during the run
    station.run()
    writer.finish(station.env.now, 0.0)
    assert _jobs_written(tmp_path / "r.sqlite") == 2400
    assert check(connect(tmp_path / "r.sqlite"), writer.run_id) == []


def test_a_run_killed_half_way_leaves_a_sound_incomplete_database(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", str(BASELINE), "--jobs", "2000000", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    database = out / "results.sqlite"
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if database.exists() and _jobs_written(database) >= 50_000:
                break
        else:
            pytest.fail("the run wrote no batch in time")
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    connection = sqlite3.connect(database)
    info = run_info(connection, 1)
    assert info["complete"] == 0
    written = _jobs_written(database)
    assert 50_000 <= written < 2_000_000
    assert check(connection, 1) == []
    report = subprocess.run([sys.executable, "-m", "sim", "report", str(out)], capture_output=True, text=True,
                            cwd=ROOT, check=True)
    assert "INCOMPLETE" in report.stdout
    assert f"{written:,} of 2,000,000 jobs were written" in report.stdout


def _jobs_written(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def test_report_rejects_a_folder_without_results(tmp_path: Path) -> None:
    report = subprocess.run([sys.executable, "-m", "sim", "report", str(tmp_path)], capture_output=True,
                            text=True, cwd=ROOT)
    assert report.returncode == 2
    assert report.stderr.startswith("stationsim: error:")
    assert "Traceback" not in report.stderr


def test_runs_accumulate_in_one_database(tmp_path: Path) -> None:
    for seed in (1, 2):
        sim.simulate(BASELINE, jobs=500, seed=seed, store=tmp_path / "r.sqlite")
    connection = connect(tmp_path / "r.sqlite")
    assert [row[0] for row in connection.execute("SELECT seed FROM runs ORDER BY run_id")] == [1, 2]
    assert all(math.isfinite(run_info(connection, run)["sim_time"]) for run in (1, 2))
    assert check(connection, 2) == []
