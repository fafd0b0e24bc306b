"""Job timelines out in IQM's form (``stationsim export``): the shape of each job-data record, the coarse status,
the timestamps, and timelines that read back sound (statuses in lifecycle order, one terminal status at the end,
no aborted job ready, every received job accounted for) and equal to the run's own records."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.cli.main import main
from sim.fitting.records import read_jobs
from sim.model.status import ABORTED, FAILED, READY, RECEIVED, STATUSES
from sim.results.export import COARSE_STATUS, EPOCH_DATE, JOB_NAMESPACE, iqm_jobs, job_uuid, write_export
from sim.results.run import RunResult

SCENARIO = {
    "run": {"jobs": 600, "seed": 4},
    "arrivals": {"rate": "900/h"},
    "workload": [{"name": "circuits", "weight": 0.7, "users": ["ann", "ben"], "project": "lab",
                  "shots": {"dist": "empirical", "values": [100, 1000]}},
                 {"name": "sweeps", "weight": 0.3, "kind": "pulse", "sweep_points": 11, "users": ["cal"]}],
    "stages": {"validation": {"workers": 1, "duration": {"dist": "exponential", "mean": "0.5s"}}},
    "hardware": {"execution_time": {"dist": "exponential", "mean": "3s"}},
    "failures": {"compilation": {"probability": 0.05}, "post_processing": {"probability": 0.03, "after_end": 0.5}},
    "aborts": {"probability": 0.1, "delay": {"dist": "exponential", "mean": "10s"}},
}


@pytest.fixture(scope="module")
def result() -> RunResult:
    return sim.simulate(sim.Scenario.from_dict(SCENARIO, name="export-test"))


@pytest.fixture(scope="module")
def records(result: RunResult) -> list[dict[str, object]]:
    return list(iqm_jobs(result, run_id=3))


def test_every_status_has_a_coarse_status_as_station_control_maps_them() -> None:
    assert set(COARSE_STATUS) == {s.value for s in STATUSES}
    assert COARSE_STATUS["received"] == "waiting"
    assert COARSE_STATUS["ready"] == "completed"
    assert COARSE_STATUS["failed"] == "failed"
    assert COARSE_STATUS["aborted"] == "cancelled"
    assert {COARSE_STATUS[s.value] for s in STATUSES[1:READY]} == {"processing"}


def test_ids_are_uuid5_of_run_and_job(records: list[dict[str, object]]) -> None:
    first = records[0]
    assert first["id"] == str(uuid.uuid5(JOB_NAMESPACE, f"stationsim/run/3/job/{first['job_id']}"))
    assert job_uuid(3, 0) == job_uuid(3, 0) != job_uuid(4, 0)
    assert len({r["id"] for r in records}) == len(records)


def test_a_record_is_shaped_like_iqm_job_data(records: list[dict[str, object]], result: RunResult) -> None:
    assert len(records) == int(np.isfinite(result.times[:, RECEIVED]).sum())
    for record in records:
        assert {"id", "status", "timeline", "errors", "kind", "shots", "circuits", "user", "project"} <= set(record)
        timeline = record["timeline"]
        assert isinstance(timeline, list)
        assert all(set(entry) == {"source", "status", "timestamp"} for entry in timeline)
        assert {entry["source"] for entry in timeline} == {"iqm-station-control"}
        assert record["status"] == COARSE_STATUS[timeline[-1]["status"]]
        assert all(entry["timestamp"].startswith(EPOCH_DATE) and entry["timestamp"].endswith("Z")
                   for entry in timeline)
    circuit = next(r for r in records if r["kind"] == "circuit")
    assert circuit["project"] == "lab"
    assert circuit["user"] in ("ann", "ben")


def test_failed_jobs_carry_their_error_and_others_none(records: list[dict[str, object]]) -> None:
    failed = [r for r in records if r["status"] == "failed"]
    assert failed
    for record in records:
        errors = record["errors"]
        assert isinstance(errors, list)
        if record["status"] != "failed":
            assert errors == []
            continue
        (error,) = errors
        assert error["message"]
        assert error["source"] == "iqm-station-control"
        assert error["error_code"] in ("compilation", "post_processing")
        assert record["messages"][0]["message"]  # type: ignore[index]  # the full log


def test_exported_timelines_read_back_sound_and_equal_to_the_run(tmp_path: Path, result: RunResult) -> None:
    path = tmp_path / "jobs.jsonl"
    write_export(result, path, run_id=1)
    table = read_jobs(path)  # raises on any status out of order or time going back
    received = np.flatnonzero(np.isfinite(result.times[:, RECEIVED]))
    times = result.times[received]
    expected = times - np.nanmin(times[:, RECEIVED])
    assert np.allclose(table.times, expected, atol=1e-6, equal_nan=True)
    assert np.array_equal(np.isnan(table.times), np.isnan(times))
    terminal = np.isfinite(table.times[:, READY:])
    assert (terminal.sum(axis=1) <= 1).all()  # at most one terminal status
    ended = terminal.any(axis=1)
    last = 17 - np.argmax(np.isfinite(table.times)[:, ::-1], axis=1)  # the latest status reached
    assert (last[ended] >= READY).all()  # the terminal status ends the timeline
    assert not (np.isfinite(table.times[:, ABORTED]) & np.isfinite(table.times[:, READY])).any()
    counts = result.summary()["jobs"]
    assert len(table) == counts["received"]
    assert [int(np.isfinite(table.times[:, c]).sum()) for c in (READY, FAILED, ABORTED)] == [
        counts["ready"], counts["failed"], counts["aborted"]]


def test_csv_holds_the_same_times_as_the_json_lines(tmp_path: Path, result: RunResult) -> None:
    write_export(result, tmp_path / "jobs.jsonl")
    write_export(result, tmp_path / "jobs.csv", "csv")
    frame = pd.read_csv(tmp_path / "jobs.csv")
    assert list(frame.columns[-18:]) == [s.value for s in STATUSES]
    from_json, from_csv = read_jobs(tmp_path / "jobs.jsonl"), read_jobs(tmp_path / "jobs.csv")
    assert np.array_equal(from_json.times, from_csv.times, equal_nan=True)
    assert from_json.error_log == from_csv.error_log


def test_the_run_starts_at_the_scenarios_time_of_day(records: list[dict[str, object]]) -> None:
    morning = sim.Scenario.from_dict({**SCENARIO, "scheduler": {"start_time_of_day": "08:30"}})
    first = next(iqm_jobs(sim.simulate(morning, jobs=5)))
    assert first["timeline"][0]["timestamp"].startswith(f"{EPOCH_DATE}T08:3")


def test_export_command_writes_both_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('[arrivals]\nrate = "600/h"\n')
    assert main(["run", str(scenario), "--jobs", "50", "--out", str(tmp_path / "out")]) == 0
    for fmt, name in (("iqm-jobs", "jobs.jsonl"), ("csv", "jobs.csv")):
        assert main(["export", str(tmp_path / "out"), "--format", fmt, "--out", str(tmp_path / name)]) == 0
        assert "wrote 50 jobs of run 1" in capsys.readouterr().out
    lines = (tmp_path / "jobs.jsonl").read_text().splitlines()
    assert len(lines) == 50
    assert json.loads(lines[0])["status"] == "completed"


@pytest.mark.parametrize(("where", "extra", "fragment"), [
    ("nowhere", [], "no results database"),
    ("out", ["--run-id", "7"], "no run 7"),
])
def test_export_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str,
                                                 extra: list[str], fragment: str) -> None:
    scenario = tmp_path / "s.toml"
    scenario.write_text('[arrivals]\nrate = "600/h"\n')
    assert main(["run", str(scenario), "--jobs", "5", "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / where), *extra, "--out", str(tmp_path / "x.jsonl")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("stationsim: error: ")
    assert fragment in line
