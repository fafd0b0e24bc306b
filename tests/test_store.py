"""The results database: written while the run goes on, read back whole, and sound after a SIGKILL."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_lifecycle import Run

import sim
from sim.model.station import Station
from sim.model.status import READY, STAGE_STARTS, STATUSES
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


def station_writing_to(database: Path, jobs: int) -> tuple[Station, RunWriter]:
    """A baseline station of ``jobs`` jobs (seed 1) and a writer that has begun its run in ``database``."""
    scenario = sim.load_scenario(BASELINE)
    streams = RandomStreams(1)
    workload = sample_workload(scenario, jobs, streams)
    station = Station(scenario, workload, streams)
    writer = RunWriter(database, scenario, 1, workload, station.records)
    writer.begin()
    return station, writer


def test_rows_are_written_while_the_run_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Station, "settled_batch", 1000)
    station, writer = station_writing_to(tmp_path / "r.sqlite", 2400)
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
    """SIGKILL: the writer dies with the run (nothing more is committed) and the database says how far it got."""
    run = Run(tmp_path / "killed", 200_000)
    run.writer()
    run.wait_until(lambda: run.jobs_written() >= 20_000, "20,000 jobs written")
    os.kill(run.process.pid, signal.SIGKILL)
    run.finish()
    run.assert_nothing_left()
    connection = sqlite3.connect(run.database)
    try:
        info = run_info(connection, 1)
        assert info["complete"] == 0
        written = info["jobs_written"]
        assert 20_000 <= written < 200_000
        assert check(connection, 1) == []
    finally:
        connection.close()
    report = subprocess.run([sys.executable, "-m", "sim", "report", str(run.out), "--no-figures"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert "INCOMPLETE" in report.stdout
    assert f"{written:,} of 200,000 jobs were written" in report.stdout
    assert not re.search(r"\bnan\b", report.stdout)  # a word: "maintenance" is no NaN
    assert _jobs_written(run.database) == written


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


def _lock(paths: list[Path], locked: bool) -> None:
    """Make ``paths`` read-only for everyone (``locked``) or writable again: ``chattr +i`` where we are root (root
    ignores permissions), permissions otherwise."""
    if os.geteuid() == 0 and shutil.which("chattr") is not None:
        subprocess.run(["chattr", "+i" if locked else "-i", *map(str, paths)], check=True)
        return
    for path in paths:
        path.chmod((0o555 if path.is_dir() else 0o444) if locked else (0o755 if path.is_dir() else 0o644))


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` and its files read-only for everyone, root included, for the time inside."""
    paths = [folder, *folder.iterdir()]
    _lock(paths, locked=True)
    try:
        yield
    finally:
        _lock(paths, locked=False)


def test_a_finished_database_is_one_file_readable_from_a_read_only_place(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    out = tmp_path / "out"
    out.mkdir()
    sim.simulate(BASELINE, jobs=500, seed=1, store=out / "results.sqlite")
    assert sorted(p.name for p in out.iterdir()) == ["results.sqlite"]
    with read_only(out):
        connection = sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True)
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
            assert pd.read_sql("SELECT COUNT(*) AS n FROM jobs", connection)["n"].tolist() == [500]
            assert load_run(connection, 1).complete
        finally:
            connection.close()
        report = subprocess.run([sys.executable, "-m", "sim", "report", str(out), "--no-figures"],
                                capture_output=True, text=True, cwd=ROOT)
        assert report.returncode == 0, report.stderr
        assert "run 1 (complete)" in report.stdout
        assert sorted(p.name for p in out.iterdir()) == ["results.sqlite"]


def test_an_incomplete_run_reads_back_as_incomplete(tmp_path: Path) -> None:
    station, writer = station_writing_to(tmp_path / "r.sqlite", 3000)
    station.start()
    station.run(until=3 * 3600.0)
    settled = [job for job in range(3000) if station.records.status[job] == READY][:500]
    writer.write_jobs(settled)
    writer.close()  # stopped here: 500 of 3,000 jobs written
    result = load_run(connect(tmp_path / "r.sqlite"), 1)
    assert not result.complete
    assert result.jobs_written == 500
    assert result.status_counts() == {"ready": 500, "not_written": 2500}
    jobs = result.summary()["jobs"]
    assert (jobs["written"], jobs["not_written"], jobs["not_received"], jobs["ready"]) == (500, 2500, 0, 500)
    assert result.summary()["complete"] is False
    assert result.describe_jobs() == "500 of 3,000 jobs, incomplete"


def test_the_stage_view_gives_per_stage_figures_in_one_query(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    result = sim.simulate(ROOT / "scenarios" / "faulty_hardware.toml", jobs=2000, seed=3, store=tmp_path / "r.sqlite")
    connection = sqlite3.connect(tmp_path / "r.sqlite")
    try:
        stages = pd.read_sql("SELECT * FROM job_stages WHERE run_id = 1", connection)
        mapping = connection.execute("SELECT stage, queued_status, started_status, ended_status FROM stages "
                                     "ORDER BY stage_rank").fetchall()
        statuses = connection.execute("SELECT status FROM statuses ORDER BY status_rank").fetchall()
        no_set = connection.execute("SELECT COUNT(*) FROM jobs WHERE calibration_set_id < 0 OR instrument < 0")
        assert no_set.fetchone() == (0,)
    finally:
        connection.close()
    assert [row[0] for row in mapping] == list(STAGE_STARTS)
    assert mapping[4] == ("execution", "pending_execution", "execution_started", "execution_ended")
    assert [row[0] for row in statuses] == [s.value for s in STATUSES]
    times = result.times
    for stage, rows in stages[stages["outcome"] == "done"].groupby("stage"):
        start = STAGE_STARTS[str(stage)].code
        done = np.isfinite(times[:, start + 1])
        assert len(rows) == done.sum(), stage
        assert rows["wait"].sum() == pytest.approx(np.sum(times[done, start] - times[done, start - 1])), stage
        assert rows["service"].max() == pytest.approx(np.max(times[done, start + 1] - times[done, start])), stage
    assert set(stages["outcome"]) <= {"done", "failed", "aborted", "in_progress"}
    failed = stages[stages["outcome"] == "failed"]
    assert len(failed) == result.summary()["jobs"]["failed"]  # a failed job fails in exactly one stage


def test_the_store_does_not_import_pandas() -> None:
    code = "import sys, sim.results.store, sim.simulation; print('pandas' in sys.modules)"
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert process.stdout.strip() == "False"
