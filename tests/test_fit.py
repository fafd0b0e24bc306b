"""Calibrating the model to job records (``stationsim fit``): a round trip from a scenario of known distributions
through its exported timelines back to a fitted scenario, whose families and parameters must come back within
their sampling error and whose runs must reproduce the records; the CSV and JSON forms of one run give the same
scenario; bad input is one line naming the file and the line, exit 2."""

from __future__ import annotations

import json
import math
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

import sim
from sim.cli.main import main
from sim.fitting.records import RecordsError, read_jobs
from sim.fitting.station import StationFit, fit_station
from sim.fitting.validation import Validation, validate
from sim.results.export import write_export
from sim.results.run import RunResult

SERVICES = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")
TRUTH: dict[str, Any] = {
    "run": {"jobs": 4000, "seed": 5},
    "arrivals": {"rate": "600/h"},
    "workload": [
        {"name": "circuits", "weight": 0.7, "kind": "circuit", "users": ["alice", "bob"],
         "circuits": {"dist": "empirical", "values": [1, 2, 5, 10], "weights": [4, 3, 2, 1]},
         "shots": {"dist": "empirical", "values": [100, 1000, 4000], "weights": [1, 2, 1]},
         "depth": {"dist": "uniform", "low": 5, "high": 40}},
        {"name": "pulses", "weight": 0.3, "kind": "pulse", "circuits": 2, "shots": 500, "depth": 10,
         "sweep_points": {"dist": "empirical", "values": [11, 21]}, "users": ["cal"]}],
    "stages": {
        "validation": {"workers": 2, "duration": {"dist": "lognormal", "mean": "200ms", "cv": 0.5}},
        "calibration": {"workers": 2, "duration": {"dist": "exponential", "mean": "100ms"}},
        "compilation": {"workers": 3, "duration": {"dist": "gamma", "mean": "500ms", "cv": 0.7}, "per_layer": "5ms"},
        "save_metadata": {"workers": 4, "duration": {"dist": "exponential", "mean": "300ms"}},
        "post_processing": {"workers": 2, "duration": {"dist": "lognormal", "mean": "1s", "cv": 0.4},
                            "per_shot": "20us"}},
    "hardware": {"instruments": 1, "execution_time": {"dist": "gamma", "mean": "4s", "cv": 0.6}},
    "failures": {"compilation": {"probability": 0.02}},
    "aborts": {"probability": 0.05, "delay": {"dist": "exponential", "mean": "60s"}},
}
"""The station the records come from: lognormal, exponential and gamma stages, growth with circuit layers and
with shots, two job classes, failures and aborts."""
FAMILIES = {"validation": ("lognormal", {"mean": 0.2, "cv": 0.5}), "calibration": ("exponential", {"mean": 0.1}),
            "compilation": ("gamma", {"mean": 0.5, "cv": 0.7}), "save_metadata": ("exponential", {"mean": 0.3}),
            "post_processing": ("lognormal", {"mean": 1.0, "cv": 0.4}), "execution": ("gamma", {"mean": 4, "cv": 0.6})}
WITHIN = 4.0
"""Standard errors a recovered parameter may be off by."""


@pytest.fixture(scope="module")
def run() -> RunResult:
    return sim.simulate(sim.Scenario.from_dict(TRUTH, name="truth"))


@pytest.fixture(scope="module")
def exported(run: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fit")
    write_export(run, folder / "jobs.jsonl", run_id=1)
    write_export(run, folder / "jobs.csv", "csv", run_id=1)
    return folder


@pytest.fixture(scope="module")
def fitted(exported: Path) -> StationFit:
    return fit_station(read_jobs(exported / "jobs.jsonl"), name="round-trip")


@pytest.fixture(scope="module")
def validation(exported: Path, fitted: StationFit) -> Validation:
    return validate(read_jobs(exported / "jobs.jsonl"), fitted.scenario(), replications=5)


@pytest.mark.parametrize("stage", SERVICES)
def test_the_family_and_its_parameters_come_back(fitted: StationFit, stage: str) -> None:
    family, truth = FAMILIES[stage]
    best = fitted.stages[stage].choice.best
    assert best.family == family, [(f.family, round(f.bic, 1)) for f in fitted.stages[stage].choice.fits]
    for name, value in truth.items():
        assert abs(best.params[name] - value) <= WITHIN * best.errors[name], (name, best.params, best.errors)


def test_growth_with_layers_and_shots_comes_back_where_it_is(fitted: StationFit) -> None:
    stages = fitted.stages
    assert set(stages["compilation"].slopes) == {"per_layer"}
    assert set(stages["post_processing"].slopes) == {"per_shot"}
    for stage in ("validation", "calibration", "save_metadata"):
        assert stages[stage].slopes == {}, stage
    assert not stages["execution"].uses_timing_model
    for stage, key, truth in (("compilation", "per_layer", 5e-3), ("post_processing", "per_shot", 20e-6)):
        slope = stages[stage].slopes[key]
        assert abs(slope.value - truth) <= WITHIN * slope.error, (stage, slope)


def test_workload_arrivals_servers_and_failures_come_back(fitted: StationFit) -> None:
    n = fitted.jobs
    circuits, pulses = fitted.workload
    assert (circuits.kind, pulses.kind) == ("circuit", "pulse")
    assert abs(circuits.weight - 0.7) <= WITHIN * math.sqrt(0.7 * 0.3 / n)
    assert pulses.sizes["sweep_points"]["values"] == [11, 21]
    assert {u for u, _ in circuits.users} == {"alice", "bob"}
    assert abs(fitted.arrivals.rate - 600 / 3600) <= WITHIN * fitted.arrivals.rate_error
    assert fitted.servers["validation"] == 2
    assert fitted.servers["execution"] == 1
    assert all(fitted.servers[s] <= TRUTH["stages"][s]["workers"] for s in TRUTH["stages"])  # a lower bound
    compilation = fitted.stages["compilation"]
    p = compilation.failure_probability
    assert abs(p - 0.02) <= WITHIN * math.sqrt(0.02 * 0.98 / compilation.started)
    assert fitted.aborts.aborted > 0
    assert 0 < fitted.aborts.probability <= 1


def test_the_fitted_scenario_is_a_valid_commented_file(fitted: StationFit, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "fitted.toml"
    path.write_text(fitted.toml())
    assert main(["validate", str(path)]) == 0
    assert "valid scenario 'round-trip'" in capsys.readouterr().out
    text = path.read_text()
    assert "# 4,000 services: lognormal" in text or "services: lognormal" in text
    assert "the most jobs seen in validation at once" in text  # where the workers came from
    assert "jobs received per hour of the day" in text


def test_the_fitted_model_reproduces_the_records(validation: Validation) -> None:
    for stage in SERVICES:
        row = validation.row(stage)
        assert row.ks_passes, (stage, row.ks, row.critical)
    turnaround = validation.row("turnaround")
    assert turnaround.simulated["p95"].contains(turnaround.observed["p95"]), turnaround
    assert "turnaround" in validation.format()


def test_csv_and_json_of_one_run_give_the_same_scenario(exported: Path) -> None:
    from_json = tomllib.loads(fit_station(read_jobs(exported / "jobs.jsonl")).toml())
    from_csv = tomllib.loads(fit_station(read_jobs(exported / "jobs.csv")).toml())
    assert from_json == from_csv


def test_the_timing_model_is_recovered_from_a_device(tmp_path: Path) -> None:
    scenario = sim.Scenario.from_dict({
        "arrivals": {"rate": "300/h"},
        "workload": [{"circuits": {"dist": "empirical", "values": [1, 3, 8]}, "depth": {"dist": "uniform", "low": 5,
                      "high": 50}, "shots": {"dist": "empirical", "values": [100, 1000, 5000]}}]})
    write_export(sim.simulate(scenario, jobs=300, seed=2), tmp_path / "jobs.jsonl")
    execution = fit_station(read_jobs(tmp_path / "jobs.jsonl")).stages["execution"]
    assert execution.uses_timing_model
    garnet = scenario.hardware.devices[0]
    per_shot = garnet.readout + garnet.end_delay + garnet.transfer_per_shot
    assert execution.slopes["job_overhead"].value == pytest.approx(garnet.job_overhead, rel=1e-3)
    assert execution.slopes["end_delay"].value == pytest.approx(per_shot, rel=1e-3)


def test_fit_validate_from_the_command_line(exported: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "station.toml"
    assert main(["fit", str(exported / "jobs.csv"), "--out", str(out), "--validate", "--replications", "2",
                 "--workers", "save_metadata=4"]) == 0
    printed = capsys.readouterr().out
    assert "observed against 2 replications" in printed
    assert (tmp_path / "station-validation.png").stat().st_size > 10_000
    assert tomllib.loads(out.read_text())["stages"]["save_metadata"]["workers"] == 4
    assert "workers: given" in out.read_text()


# --- bad input ------------------------------------------------------------------------------------------------

def record(*timeline: tuple[str, float]) -> str:
    return json.dumps({"id": "x", "status": "completed", "shots": 100, "circuits": 1, "timeline": [
        {"source": "iqm-station-control", "status": s, "timestamp": f"2026-01-01T00:00:{t:09.6f}Z"}
        for s, t in timeline]})


GOOD = record(("received", 0.0), ("validation_started", 1.0), ("validation_ended", 2.0))


@pytest.mark.parametrize(("content", "name", "fragments"), [
    ('[arrivals]\nrate = "300/h"\n', "s.toml", ["line 1", "not job records", "column per status"]),
    (GOOD + "\n[1, 2]\n", "j.jsonl", ["line 2", "not a job record"]),
    (GOOD + "\n" + record(("received", 0.0), ("compilation_started", 1.0), ("validation_started", 2.0)) + "\n",
     "j.jsonl", ["line 2: timeline[2]", "'validation_started' after 'compilation_started'", "lifecycle order"]),
    (GOOD + "\n" + record(("received", 0.0), ("warming_up", 1.0)) + "\n", "j.jsonl",
     ["line 2: timeline[1].status", "unknown status 'warming_up'", "JobExecutorStatus"]),
    (record(("received", 2.0), ("validation_started", 1.0)) + "\n", "j.jsonl",
     ["line 1: timeline[1]", "earlier than 'received'"]),
    (record(("received", 0.0), ("ready", 1.0), ("failed", 2.0)) + "\n", "j.jsonl", ["after the terminal status"]),
    ("\n".join([GOOD] * 5) + "\n", "j.jsonl", ["stage validation: 5 jobs", "at least 20"]),
    ("received,validation_started\n2026-01-01T00:00:05Z,2026-01-01T00:00:01Z\n", "j.csv",
     ["line 2, column validation_started", "earlier than 'received'"]),
    ("received,bogus\n2026-01-01T00:00:05Z,1\n", "j.csv", ["column 'bogus'", "unknown column"]),
    ("received\nyesterday\n", "j.csv", ["line 2, column received", "ISO 8601"]),
])
def test_bad_records_are_one_line_naming_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          content: str, name: str, fragments: list[str]) -> None:
    path = tmp_path / name
    path.write_text(content)
    assert main(["fit", str(path)]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert captured.out == ""
    assert line.startswith(f"stationsim: error: {path}: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def test_a_missing_file_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(RecordsError, match="no such file"):
        read_jobs(tmp_path / "none.jsonl")


def test_the_readme_commands_work_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The README's export-and-fit commands, run from the repository root with their folder moved to tmp."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Calibrating the model to a station.*?\n(.*?)(?=^## )", readme, re.DOTALL | re.MULTILINE)
    assert section, "README has no section on export and fit"
    (block,) = re.findall(r"^```console\n(.*?)^```", section.group(1), re.DOTALL | re.MULTILINE)
    monkeypatch.chdir(root)
    commands = [shlex.split(line.replace("out/station", str(tmp_path / "station"))) for line in block.splitlines()]
    assert [c[:2] for c in commands] == [["stationsim", "run"], ["stationsim", "export"], ["stationsim", "export"],
                                         ["stationsim", "fit"], ["stationsim", "validate"]]
    for command in commands:
        assert main(command[1:]) == 0, command
    assert "observed against 5 replications" in capsys.readouterr().out
    assert (tmp_path / "station" / "fitted-validation.png").is_file()


# --- heavier checks -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_bundled_baseline_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled baseline, run, exported, fitted and validated from the command line: its device's timing
    model, its stages' families and its turnaround come back."""
    root = Path(__file__).resolve().parent.parent
    assert main(["run", str(root / "scenarios" / "baseline.toml"), "--jobs", "20000", "--out", str(tmp_path)]) == 0
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "jobs.jsonl")]) == 0
    table = read_jobs(tmp_path / "jobs.jsonl")
    fitted = fit_station(table)
    assert fitted.stages["execution"].uses_timing_model
    assert {fitted.stages[s].choice.best.family for s in SERVICES if s != "execution"} == {"lognormal"}
    result = validate(table, fitted.scenario(), replications=10)
    for stage in SERVICES:
        assert result.row(stage).ks_passes, result.format()
    turnaround = result.row("turnaround")
    assert turnaround.simulated["p95"].contains(turnaround.observed["p95"]), result.format()
