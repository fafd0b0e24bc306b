"""Trace-driven workloads: a recorded list of submissions replayed exactly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.model.status import JobStatus

ROOT = Path(__file__).resolve().parents[1]


def test_the_sample_trace_is_replayed_exactly() -> None:
    result = sim.simulate(ROOT / "scenarios" / "trace_replay.toml")
    with (ROOT / "scenarios" / "sample_trace.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(result.workload) == len(rows)
    assert result.workload.submitted_at.tolist() == pytest.approx([float(r["time"]) for r in rows])
    assert result.workload.shots.tolist() == [int(r["shots"]) for r in rows]
    jobs = result.jobs_frame()
    assert jobs.user.tolist() == [r["user"] for r in rows]
    assert jobs.job_type.tolist() == [r["job_type"] for r in rows]
    received = result.times[:, JobStatus.RECEIVED.code]
    assert np.allclose(received, result.workload.submitted_at)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def scenario_with(trace: Path) -> sim.Scenario:
    return sim.Scenario.from_dict({"arrivals": {"trace": str(trace)}, "hardware": {"execution_time": 10}})


def test_json_lines_and_the_users_aborts(tmp_path: Path) -> None:
    trace = write_jsonl(tmp_path / "t.jsonl", [
        {"time": 0, "job_type": "circuit", "shots": 100, "circuits": 1},
        {"time": "1s", "job_type": "pulse", "shots": 100, "circuits": 2, "abort_at": 5},
        {"time": 2, "job_type": "circuit", "shots": 100, "circuits": 1, "user": "eve", "priority": 3},
    ])
    result = sim.simulate(scenario_with(trace))
    assert [str(s) for s in map(JobStatus.from_code, result.records.status)] == ["ready", "aborted", "ready"]
    assert result.times[1, JobStatus.ABORTED.code] == 5
    assert result.jobs_frame().user.tolist() == ["user", "user", "eve"]


@pytest.mark.parametrize(("rows", "key", "message"), [
    ([{"time": 0, "job_type": "qpu", "shots": 1, "circuits": 1}], "line 1: job_type", "expected one of"),
    ([{"time": 0, "job_type": "pulse", "circuits": 1}], "line 1: shots", "required"),
    ([{"time": 5, "job_type": "pulse", "shots": 1, "circuits": 1},
      {"time": 1, "job_type": "pulse", "shots": 1, "circuits": 1}], "line 2: time", "time order"),
    ([{"time": 5, "job_type": "pulse", "shots": 1, "circuits": 1, "abort_at": 1}], "line 1: abort_at", "before"),
    ([{"time": 0, "job_type": "pulse", "shots": 1.5, "circuits": 1}], "line 1: shots", "whole number"),
    ([{"time": 0, "job_type": "pulse", "shots": 1, "circuits": 1, "colour": "red"}], "line 1: colour", "unknown"),
])
def test_bad_traces_name_the_file_line_and_column(tmp_path: Path, rows: list[dict[str, object]], key: str,
                                                  message: str) -> None:
    trace = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(sim.ScenarioError) as caught:
        scenario_with(trace)
    assert str(trace) in str(caught.value)
    assert key in str(caught.value)
    assert message in str(caught.value)


def test_a_missing_trace_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(sim.ScenarioError, match="no such trace file"):
        scenario_with(tmp_path / "nowhere.csv")
