"""The regression kit ``sim.testing``: running a scenario under a policy, the ordering assertions and their
messages, the paired comparison on common random numbers, golden summaries, the pytest plugin, the hypothesis
strategies, and the example of a user's regression suite (which must pass, and fail on a broken policy)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.cli.main import main
from sim.policies import Fifo, PolicyError
from sim.testing import (
    assert_fifo_order,
    assert_invariants,
    assert_matches_golden,
    assert_priority_order,
    assert_shares,
    assert_windows_respected,
    compare,
    golden_figures,
    run,
    with_policy,
)
from sim.testing.strategies import scenario_dicts, schedulers

ROOT = Path(__file__).resolve().parent.parent
COMPARISON = ROOT / "scenarios" / "scheduler_comparison.toml"
EXAMPLE = ROOT / "examples" / "scheduler_regression"


def small(**sections: Any) -> sim.Scenario:
    """A few hundred jobs of two priorities and two users on one busy instrument."""
    data: dict[str, Any] = {
        "run": {"jobs": 400, "seed": 4},
        "arrivals": {"rate": "90/min"},
        "workload": [{"name": "normal", "weight": 3, "users": ["alice", "bob"]},
                     {"name": "urgent", "weight": 1, "priority": 2, "users": ["bob"]}],
        "hardware": {"execution_time": {"dist": "exponential", "mean": "0.7s"}},
    }
    data.update(sections)
    return sim.Scenario.from_dict(data, source="small.toml")


# --- running ---------------------------------------------------------------------------------------------------

def test_with_policy_takes_the_options_the_scenario_gives() -> None:
    base = sim.load_scenario(COMPARISON)
    variant = with_policy(base, "project_shares")
    assert variant.scheduler.policy == "fair_share"
    assert variant.scheduler.options["by"] == "project"
    assert with_policy(base, "fair_share").scheduler.options == {}
    assert with_policy(base, "aging", {"step": 60}).scheduler.options == {"step": 60}
    assert with_policy(base) is base
    given = with_policy(base, Fifo)
    assert given.scheduler.policy == "sim.policies.ordering:Fifo"
    assert given.scheduler.factory is Fifo


def test_run_gives_every_policy_the_same_jobs() -> None:
    """Common random numbers: the workload does not depend on the policy."""
    a, b = run(small(), "fifo", seed=9), run(small(), "shortest_first", seed=9)
    assert np.array_equal(a.workload.submitted_at, b.workload.submitted_at)
    assert np.array_equal(a.workload.shots, b.workload.shots)
    assert np.array_equal(a.times[:, sim.JobStatus.PENDING_EXECUTION.code],
                          b.times[:, sim.JobStatus.PENDING_EXECUTION.code])
    assert not np.array_equal(a.times[:, sim.JobStatus.EXECUTION_STARTED.code],
                              b.times[:, sim.JobStatus.EXECUTION_STARTED.code])


def test_run_accepts_a_dict_and_dotted_changes() -> None:
    result = run({"arrivals": {"times": [0, 0, 1]}}, "priority", run__jobs=2)
    assert len(result.workload) == 2
    assert result.scenario.scheduler.policy == "priority"


# --- ordering assertions ---------------------------------------------------------------------------------------

def test_ordering_assertions_pass_on_their_policies_and_fail_on_others() -> None:
    fifo, priority = run(small(), "fifo"), run(small(), "priority")
    assert_fifo_order(fifo)
    assert_priority_order(priority, fifo_within_class=True)
    with pytest.raises(AssertionError, match=r"priority order broken: \d+ of 400 starts overtook a job that should "
                                             r"have gone first") as caught:
        assert_priority_order(fifo)
    first = str(caught.value).splitlines()[1]
    assert "(priority 0, entered" in first
    assert "while job" in first
    assert "(priority 2, entered" in first
    with pytest.raises(AssertionError, match="FIFO order broken"):
        assert_fifo_order(priority)


def test_window_assertion_catches_a_policy_that_ignores_windows() -> None:
    windows = {"windows": [{"user": "alice", "start": "60s", "end": "180s"}]}
    assert_windows_respected(run(small(scheduler={"policy": "timeslot", **windows})))
    with pytest.raises(AssertionError, match=r"reserved windows broken: .*\n  job \d+ \(user bob"):
        assert_windows_respected(run(small(scheduler={"policy": "fifo", **windows})))


def test_share_assertion_names_each_group_off_its_weight() -> None:
    result = run(small(run={"jobs": 600}), "fair_share", options={"weights": {"alice": 1, "bob": 1}})
    with pytest.raises(AssertionError, match=r"alice: share 0\.\d+, weight share 0\.1000"):
        assert_shares(result, {"alice": 1, "bob": 9}, tolerance=0.01)


# --- paired comparison -----------------------------------------------------------------------------------------

def test_paired_comparison_has_intervals_of_the_differences() -> None:
    comparison = compare(small(), "fifo", "shortest_first", replications=4, jobs=300)
    assert comparison.seeds == tuple(comparison.seeds)
    assert len(comparison.seeds) == 4
    wait = comparison["queue wait mean (s)"]
    assert wait.verdict == "better"
    assert wait.difference.mean == pytest.approx(wait.b.mean - wait.a.mean)
    assert wait.difference.high < 0
    assert comparison["instrument utilisation"].difference.mean == pytest.approx(0, abs=0.02)
    table = comparison.table()
    assert table.splitlines()[0].startswith("scenario: A = fifo, B = shortest_first, 4 paired replications")
    assert "queue wait mean (s)" in table
    assert "better" in table
    comparison.assert_no_worse("queue wait mean (s)")
    with pytest.raises(AssertionError, match=r"fifo is worse than shortest_first in queue wait mean"):
        compare(small(), "shortest_first", "fifo", replications=3, jobs=300).assert_no_worse("queue wait mean (s)")


def test_a_comparison_needs_two_replications() -> None:
    with pytest.raises(ValueError, match="at least 2 replications"):
        compare(small(), "fifo", "priority", replications=1)


def test_compare_command_prints_the_table_and_rejects_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(COMPARISON), "--policy", "fifo", "--policy", "project_shares", "--replications", "2",
                 "--jobs", "500"]) == 0
    out = capsys.readouterr().out
    assert 'A = fifo, B = project_shares { by = "project", weights = { qec = 2' in out  # the variant's options
    assert "2 paired replications of 500 jobs" in out
    assert "interval of B - A" in out
    for args, message in (
            (["--policy", "fifo", "--policy", "lifo"], "scheduler.policy: unknown policy 'lifo'"),
            (["--policy", "fifo"], "--policy: give exactly two policies"),
            (["--policy", "fifo", "--policy", "no_such_module:P"], "cannot import module 'no_such_module'"),
            (["--policy", "fifo", "--policy", "aging", "--replications", "1"], "at least 2 replications")):
        assert main(["compare", str(COMPARISON), *args]) == 2, args
        error = capsys.readouterr().err
        assert error.startswith("stationsim: error: "), error
        assert message in error, error
        assert len(error.splitlines()) == 1


# --- golden summaries ------------------------------------------------------------------------------------------

def test_golden_summary_records_then_holds_the_figures(tmp_path: Path) -> None:
    path = tmp_path / "golden" / "fifo.json"
    result = run(small(), "fifo")
    with pytest.raises(AssertionError, match=r"no golden summary at .*recorded this run's figures"):
        assert_matches_golden(result, path)
    assert json.loads(path.read_text())["figures"] == golden_figures(result)
    assert_matches_golden(result, path)  # the same run: the same figures
    assert_matches_golden(run(small(), "fifo"), path, rtol=0.0)  # deterministic
    moved = r"figure\(s\) moved away (.|\n)*\n  stages\.execution\.wait\.mean: 5\.\d+ now, 15\.\d+ recorded \(-66\.\d%"
    with pytest.raises(AssertionError, match=moved):
        assert_matches_golden(run(small(), "shortest_first"), path)
    assert_matches_golden(run(small(), "shortest_first"), path, tolerances=dict.fromkeys(golden_figures(result), 10.0))
    assert_matches_golden(run(small(), "shortest_first"), path, update=True)
    assert_matches_golden(run(small(), "shortest_first"), path, rtol=0.0)


# --- the pytest plugin -----------------------------------------------------------------------------------------

def plugin_arguments() -> list[str]:
    """Nothing when the package's ``pytest11`` entry point is installed; else load the plugin by name."""
    installed = any(ep.value == "sim.testing.plugin" for ep in entry_points(group="pytest11"))
    return [] if installed else ["-p", "sim.testing.plugin"]


def test_the_plugin_is_declared_as_a_pytest_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["entry-points"]["pytest11"] == {"stationsim": "sim.testing.plugin"}


USER_TEST = '''
from sim import Scenario

SCENARIO = Scenario.from_dict({"arrivals": {"rate": "60/min"}, "run": {"jobs": 300},
                               "hardware": {"execution_time": {"dist": "exponential", "mean": "0.8s"}}})


def test_fixtures(stationsim_run, stationsim_compare, stationsim_golden):
    result = stationsim_run(SCENARIO, "shortest_first")
    stationsim_golden.check(result)
    comparison = stationsim_compare(SCENARIO, "fifo", "shortest_first", replications=2, jobs=200)
    assert comparison["queue wait mean (s)"].b.mean <= comparison["queue wait mean (s)"].a.mean
'''


@pytest.mark.slow
def test_plugin_fixtures_in_a_users_suite(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(USER_TEST, encoding="utf-8")

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin_arguments(),
                               *args], cwd=tmp_path, capture_output=True, text=True, timeout=300)

    first = pytest_run()
    assert first.returncode == 1
    assert "no golden summary at" in first.stdout
    golden = tmp_path / "golden" / "test_user" / "test_fixtures.json"
    recorded = json.loads(golden.read_text())
    golden.write_text(json.dumps({"figures": {**recorded["figures"], "turnaround.mean": 1e6}}))
    moved = pytest_run()
    assert moved.returncode == 1
    assert "turnaround.mean: " in moved.stdout
    assert "1e+06 recorded" in moved.stdout
    assert pytest_run("--stationsim-update-golden").returncode == 0
    assert json.loads(golden.read_text()) == recorded


# --- the example of a user's regression suite ----------------------------------------------------------------

def example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", *plugin_arguments(), *args], cwd=EXAMPLE,
                          capture_output=True, text=True, timeout=600)


def test_the_example_regression_suite_passes() -> None:
    process = example()
    assert process.returncode == 0, process.stdout + process.stderr
    assert "6 passed" in process.stdout


@pytest.mark.slow
def test_the_example_suite_catches_a_broken_policy_with_a_readable_message() -> None:
    process = example("--policy", "my_policies:BrokenExpressLane")
    assert process.returncode == 1, process.stdout + process.stderr
    out = process.stdout
    assert "FAILED test_my_policy.py::test_no_job_waits_behind_a_lower_priority_job" in out
    assert "FAILED test_my_policy.py::test_golden_summary" in out
    assert "E       AssertionError: priority order broken:" in out
    assert "(priority 0, entered t=" in out
    assert "while job" in out
    assert "(priority 2, entered t=" in out
    assert "moved away from the golden summary" in out
    assert "INTERNALERROR" not in out


# --- strategies ------------------------------------------------------------------------------------------------

def test_strategies_live_in_the_kit() -> None:
    import strategies

    assert strategies.scenario_dicts is scenario_dicts


@given(st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_generated_scheduler_keeps_the_invariants(data: st.DataObject) -> None:
    scenario = data.draw(scenario_dicts(with_faults=True))
    users = tuple(dict.fromkeys(u for c in scenario.get("workload", [{}]) for u in c.get("users", ["user"])))
    projects = tuple(dict.fromkeys(c.get("project", "default") for c in scenario.get("workload", [{}])))
    scenario["scheduler"] = data.draw(schedulers(users, projects))
    result = sim.simulate(sim.Scenario.from_dict(scenario))
    assert_invariants(result)


def test_policy_errors_are_scenario_errors() -> None:
    assert issubclass(PolicyError, sim.ScenarioError)
