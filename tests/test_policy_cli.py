"""The parts of the scheduler developers' API that live in the station and on the command line: a stalled
station names the policy, instrument matching passes validation, a broken policy on ``run --out`` keeps the run
as incomplete, and ``--set scheduler.policy`` (the policies are those of ``tests/policies_outside``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_policy_api import EDF, OUTSIDE, _broken_file, _edf_file, matching_scenario

from sim.cli.main import main
from sim.model.status import EXECUTION_STARTED
from sim.testing import PolicyError, assert_invariants, run

STALLS = (r"policy '.*broken\.py:Stalls' stalled the station: nothing is left to happen at t = [0-9.e+]+ s but "
              r"\d+ jobs unfinished: \d+ pending_execution; it holds back \d+ waiting jobs \([\d, .]+\) while "
              r"instrument 0 is free, and next_change gave no time to ask again")


def test_a_policy_that_stalls_the_station_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _broken_file(tmp_path, "Stalls")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    line = err.removeprefix(f"stationsim: error: {path}: scheduler.policy: ").strip()
    assert re.fullmatch(STALLS, line), line
    with pytest.raises(PolicyError) as raised:
        run(path)
    assert str(raised.value) == f"{path}: scheduler.policy: {line}"


def test_jobs_needing_more_qubits_than_a_device_has_never_start_on_it() -> None:
    result = run(matching_scenario(3_000))
    assert_invariants(result)
    w = result.workload
    started = ~np.isnan(result.times[:, EXECUTION_STARTED])
    big = w.qubits > 20
    assert np.count_nonzero(big & started) > 500  # the big jobs did run ...
    assert set(result.records.instrument[big & started].tolist()) == {1}  # ... only on the big device
    assert np.count_nonzero(~big & started & (result.records.instrument == 0)) > 500


def test_a_broken_policy_on_the_command_line_prints_no_traceback(tmp_path: Path) -> None:
    path = _broken_file(tmp_path, "Raises")
    process = subprocess.run([sys.executable, "-m", "sim", "run", str(path), "--out", str(tmp_path / "out")],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1
    assert "Traceback" not in process.stderr
    assert "broken.py:Raises' raised ZeroDivisionError" in process.stderr
    assert "incomplete" in process.stderr


def test_set_scheduler_policy_starts_from_no_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _edf_file(tmp_path, policy=EDF)
    assert main(["run", str(path), "--jobs", "50", "--set", "scheduler.policy=fifo"]) == 0
    assert main(["run", str(path), "--jobs", "50", "--set", "scheduler.policy=aging",
                 "--set", 'scheduler.options={ step = "5min" }']) == 0
    capsys.readouterr()


def test_a_policy_that_breaks_its_matching_promise_is_stopped() -> None:
    scenario = matching_scenario(300).with_values(
        {"scheduler.policy": f"{OUTSIDE / 'broken.py'}:BreaksItsMatchingPromise"})
    with pytest.raises(PolicyError, match=r"BreaksItsMatchingPromise' broke its promise to match jobs to "
                                          r"instruments: it started job \d+ \(\d+ qubits, 500 shots\) on instrument "
                                          r"0 \(garnet, 20 qubits\), which cannot run it"):
        run(scenario)


def test_a_policy_that_holds_every_job_back_while_asking_again_is_named(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The station goes on (the policy's next_change times) but no job ever starts: the stall names the policy."""
    from sim.model.station import Station

    monkeypatch.setattr(Station, "events_per_check", 2_000)  # small: the run has 50 jobs
    path = _broken_file(tmp_path, "StallsAskingAgain")
    with pytest.raises(PolicyError) as raised:
        run(path)
    message = str(raised.value)
    assert re.search(r"policy '.*broken\.py:StallsAskingAgain' stalled the station: no job has finished over "
                     r"10,000 events, .*; it holds back 50 waiting jobs \(0, 1, 2, 3, 4, \.\.\.\) while instrument 0 "
                     r"is free, though it was asked again at every next_change", message), message
