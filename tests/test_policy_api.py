"""The scheduler developers' API, second version: the whole job and the free instrument in view, feedback from
the runs, one-line errors of broken policies, options checked with their path, and the kit around it.

The outside policies live in ``tests/policies_outside/`` and are named by file path, as a user's package would
be by module: EDF by submission deadline (the worked example of ``docs/writing-a-policy.md``), instrument
matching with callbacks, and the broken ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sim
from sim.cli.main import main
from sim.model.status import EXECUTION_STARTED, PENDING_EXECUTION
from sim.policies import KeyPolicy, QueueContext, SelectPolicy
from sim.policies.protocol import pop_with_instrument
from sim.testing import (
    PolicyError,
    assert_fifo_order,
    assert_invariants,
    assert_matches_golden,
    assert_no_overtaking,
    context_of,
    entry_rank,
    key_rank,
    overtakings,
    policy_of,
    run,
)

OUTSIDE = Path(__file__).parent / "policies_outside"
EDF = f"{OUTSIDE / 'edf.py'}:EarliestDeadlineFirst"
SLACK = {"interactive": "30s", "batch": "1h"}


def edf_scenario(jobs: int, *, policy: str = EDF, options: dict[str, Any] | None = None) -> sim.Scenario:
    """Two classes at about 90% load, aborts and failures on (in validation, compilation and execution)."""
    return sim.Scenario.from_dict({
        "name": "edf", "run": {"jobs": jobs, "seed": 11}, "arrivals": {"rate": "330/h"},
        "workload": [{"name": "interactive", "weight": 0.4, "shots": 200},
                     {"name": "batch", "weight": 0.6, "shots": 4000,
                      "circuits": {"dist": "uniform", "low": 1, "high": 12}}],
        "scheduler": {"policy": policy, "options": {"slack": SLACK} if options is None else options},
        "aborts": {"probability": 0.1, "delay": {"dist": "exponential", "mean": "30s"}},
        "failures": {"validation": {"probability": 0.01}, "compilation": {"probability": 0.01},
                     "execution": {"probability": 0.03}},
        "hardware": {"faults": {"error_probability": 0.02}}}, source="edf.toml")


# --- EDF by submission deadline ------------------------------------------------------------------------------

def _check_edf(jobs: int) -> None:
    result = run(edf_scenario(jobs))
    assert_invariants(result)
    w = result.workload
    assert np.count_nonzero(~np.isnan(result.times[:, sim.model.status.ABORTED])) > 0.02 * jobs
    assert np.count_nonzero(~np.isnan(result.times[:, sim.model.status.FAILED])) > 0.002 * jobs
    policy = policy_of(result)
    assert_no_overtaking(result, rank=policy.key, rule="EDF order broken")  # type: ignore[attr-defined]
    # the same rank written out by hand from the deadline: submitted_at + slack of the class
    slack = np.array([30.0 if name == "interactive" else 3600.0 for name in w.class_names])
    deadline = w.submitted_at + slack[w.job_class]
    assert not overtakings(result, entry_rank(result, deadline))
    # and the check can fail: FIFO overtakes by deadline all the time on this workload
    fifo = run(edf_scenario(min(jobs, 3000), policy="fifo", options={}))
    assert overtakings(fifo, entry_rank(fifo, deadline[:len(fifo.workload)]))


def test_edf_by_submission_deadline_keeps_its_order() -> None:
    _check_edf(5_000)


@pytest.mark.slow
def test_edf_by_submission_deadline_keeps_its_order_on_50000_jobs() -> None:
    _check_edf(50_000)


def test_the_context_gives_every_workload_column_and_the_instruments() -> None:
    result = run(edf_scenario(300))
    context = context_of(result)
    w = result.workload
    assert context.submitted_at == w.submitted_at.tolist()
    assert context.job_class == w.job_class.tolist()
    assert context.job_classes == ("interactive", "batch")
    for name in ("kind", "qubits", "depth", "sweep_points", "shots", "circuits", "priority"):
        assert getattr(context, name) == getattr(w, name).tolist(), name
    assert [d.name for d in context.devices] == [d.name for d in result.scenario.hardware.devices]
    assert context.instrument_states() == ["idle"]


# --- instrument matching, callbacks ---------------------------------------------------------------------------

def matching_scenario(jobs: int) -> sim.Scenario:
    return sim.Scenario.from_dict({
        "run": {"jobs": jobs, "seed": 5}, "arrivals": {"rate": "900/h"},
        "workload": [{"name": "small", "weight": 0.6, "qubits": 5, "shots": 500},
                     {"name": "big", "weight": 0.4, "qubits": {"dist": "uniform", "low": 21, "high": 54},
                      "shots": 500, "max_circuit_duration_over_t2": 0}],
        "hardware": {"devices": ["garnet", {"preset": "garnet", "name": "big-one", "qubits": 54}]},
        "scheduler": {"policy": f"{OUTSIDE / 'matching.py'}:FitsTheDevice"},
        "aborts": {"probability": 0.2, "delay": {"dist": "exponential", "mean": "10s"}},
        "failures": {"execution": {"probability": 0.05}}}, source="matching.toml")


def test_callbacks_hear_every_run_with_its_outcome_and_run_time() -> None:
    scenario = matching_scenario(2_000)
    built: list[Any] = []
    factory = sim.policies.resolve(scenario.scheduler.policy)[1]

    def keep(context: QueueContext) -> Any:
        built.append(factory(context))
        return built[-1]

    result = sim.simulate(scenario.with_values({"scheduler.policy": keep}))
    policy = built[-1]  # (the first was built on a context with no jobs, to check the options)
    assert not policy.running
    ends = [end for _, _, end, _ in policy.runs]
    assert {"ready", "failed", "aborted"} <= set(ends)
    started = np.count_nonzero(~np.isnan(result.times[:, EXECUTION_STARTED]))
    assert len(policy.runs) == started
    holdings = result.holdings["execution"]
    users = holdings.holder >= 0
    held = {(int(j), int(i)): float(e - s) for j, i, s, e in zip(holdings.holder[users], holdings.server[users],
                                                                 holdings.start[users], holdings.end[users],
                                                                 strict=True)}
    for job, instrument, end, run_time in policy.runs:
        if end != "aborted":  # an aborted run holds the instrument to the end of its shot batch
            assert run_time == pytest.approx(held[(job, instrument)]), (job, end)


def test_a_first_version_policy_with_pop_now_still_works_and_is_detected_once() -> None:
    from policies_outside_loader import load

    old = load("broken.py").OldStyle(QueueContext.of(3))
    pop, takes = pop_with_instrument(old)
    assert not takes
    fifo = sim.policies.Fifo(QueueContext.of(3))
    pop, takes = pop_with_instrument(fifo)
    assert takes
    assert pop == fifo.pop  # the bound method itself: no wrapper on the hot path
    scenario = edf_scenario(1_000, policy=f"{OUTSIDE / 'broken.py'}:OldStyle", options={})
    result = run(scenario)
    assert_fifo_order(result)
    reference = run(scenario, "fifo")
    assert np.array_equal(result.times, reference.times, equal_nan=True)


# --- broken policies -------------------------------------------------------------------------------------------

BROKEN = {
    "Raises": r"policy '.*broken\.py:Raises' raised ZeroDivisionError: integer division or modulo by zero in "
              r"pop\(now=[0-9.e+]+, instrument=0\) \(\d+ jobs wait: [\d, .]+\)",
    "ReturnsAStranger": r"policy '.*broken\.py:ReturnsAStranger' broke the scheduling protocol: pop\(now=[0-9.e+]+, "
                        r"instrument=0\) returned job 1000001, which is not waiting in the queue \(1 job waits: 0\); "
                        r"job 1000001 is no job of this run \(jobs 0 \.\. 49\)",
    "ReturnsTwice": r"policy '.*broken\.py:ReturnsTwice' broke the scheduling protocol: pop\(now=[0-9.e+]+, "
                    r"instrument=0\) returned job (\d+), which is not waiting in the queue "
                    r"\(\d+ jobs? waits?: [\d, .]+\); job \1 started on instrument 0 at t=[0-9.e+]+ already "
                    r"\(returned twice\?\)",
}


def _broken_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(f'[run]\njobs = 50\n[arrivals]\nrate = "600/h"\n[scheduler]\n'
                    f'policy = "{OUTSIDE / "broken.py"}:{name}"\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_policy_stops_the_run_with_one_line_naming_it(name: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = _broken_file(tmp_path, name)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert err.startswith(f"stationsim: error: {path}: scheduler.policy: ")
    line = err.removeprefix(f"stationsim: error: {path}: scheduler.policy: ").strip()
    assert __import__("re").fullmatch(BROKEN[name], line), line
    with pytest.raises(PolicyError) as raised:  # the kit raises the same text
        run(path)
    assert str(raised.value) == f"{path}: scheduler.policy: {line}"


# --- options: compare, validate, --set --------------------------------------------------------------------------

def _edf_file(tmp_path: Path, slack: str = '{ interactive = "30s", batch = "1h" }', policy: str = "fifo") -> Path:
    path = tmp_path / "edf.toml"
    path.write_text(f'[run]\njobs = 300\n[arrivals]\nrate = "700/h"\n'
                    f'[[workload]]\nname = "interactive"\nweight = 0.4\nshots = 200\n'
                    f'[[workload]]\nname = "batch"\nweight = 0.6\nshots = 4000\ncircuits = 10\n'
                    f'[scheduler]\npolicy = "{policy}"\n'
                    + (f"[scheduler.options]\nslack = {slack}\n" if policy != "fifo" else ""), encoding="utf-8")
    return path


def test_validate_names_the_path_of_a_bad_option_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _edf_file(tmp_path, '{ interactive = "30s", batch = "30 parsecs" }', policy=EDF)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"stationsim: error: {path}: scheduler.options.slack.batch: expected a duration")
    path = _edf_file(tmp_path, '{ interactive = "30s", nightly = "1h" }', policy=EDF)
    assert main(["validate", str(path)]) == 0  # class names are the run's to check ...
    capsys.readouterr()
    assert main(["run", str(path), "--jobs", "20"]) == 2  # ... and it names the key too
    assert f"{path}: scheduler.options.slack.nightly: no job class 'nightly'" in capsys.readouterr().err


# --- the kit ----------------------------------------------------------------------------------------------------

def test_key_rank_follows_the_policys_own_key() -> None:
    result = run(edf_scenario(500))
    rank = key_rank(result, policy_of(result).key)  # type: ignore[attr-defined]
    entered = ~np.isnan(result.times[:, PENDING_EXECUTION])
    deadline = np.array([policy_of(result).deadline(j) for j in range(len(rank))])  # type: ignore[attr-defined]
    order = np.argsort(-rank[entered], kind="stable")
    assert np.all(np.diff(deadline[entered][order]) >= 0)
    fifo = run(edf_scenario(500, policy="fifo", options={}))
    with pytest.raises(AssertionError, match="EDF order broken"):
        assert_no_overtaking(fifo, rank=lambda job: (deadline[job],), rule="EDF order broken")


def test_golden_files_take_any_dict_of_metrics(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    with pytest.raises(AssertionError, match="no golden summary"):
        assert_matches_golden({"misses": 0.25, "p95": 10.0}, path)
    assert_matches_golden({"misses": 0.25, "p95": 10.2}, path)
    with pytest.raises(AssertionError, match=r"misses: 0\.5 now, 0\.25 recorded"):
        assert_matches_golden({"misses": 0.5, "p95": 10.0}, path)
    with pytest.raises(AssertionError, match="p95: missing now"):
        assert_matches_golden({"misses": 0.25}, path)


class Longest(SelectPolicy):
    """Longest expected run first: an order that is not the queue-entry order."""

    def select(self, queued: Any, now: float) -> int | None:
        return max(queued, key=lambda job: (self.context.expected[job], -job))


class Opaque(Longest):
    positions_by_select = False


def test_a_select_policy_counts_positions_by_its_own_order() -> None:
    context = QueueContext.of(4, expected=[1.0, 5.0, 3.0, 9.0])
    policy = Longest(context)
    for job in range(4):
        policy.push(job, 0.0)
    assert [policy.position(job, 0.0) for job in range(4)] == [3, 1, 2, 0]
    assert [policy.pop(0.0, 0) for _ in range(4)] == [3, 1, 2, 0]
    opaque = Opaque(context)
    opaque.push(0, 0.0)
    assert opaque.position(0, 0.0) is None


class ByInstrument(SelectPolicy):
    def select(self, queued: Any, now: float, instrument: int) -> int | None:
        return queued[-1] if instrument == 1 else queued[0]


def test_a_select_policy_may_ask_which_instrument_is_free() -> None:
    policy = ByInstrument(QueueContext.of(3, instruments=2))
    for job in range(3):
        policy.push(job, 0.0)
    assert policy.pop(0.0, 1) == 2
    assert policy.pop(0.0, 0) == 0


class KeepsFifo(KeyPolicy):
    pass


def test_the_policy_of_a_run_is_built_again_with_its_options() -> None:
    result = run(edf_scenario(100))
    policy = policy_of(result)
    assert policy.slack == [30.0, 3600.0]  # type: ignore[attr-defined]


def test_a_callback_that_raises_is_named_with_its_job(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy '.*broken\.py:FailsInFinished' raised KeyError: 0 in "
                                          r"finished\(job 0, instrument 0, now=[0-9.e+]+, RunOutcome\(end='ready', "
                                          r"run_time=[0-9.e+]+\)\)$"):
        run(_broken_file(tmp_path, "FailsInFinished"))


def test_compare_gives_each_policy_its_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _edf_file(tmp_path)
    status = main(["compare", str(path), "--policy", "fifo", "--policy", EDF, "--options",
                   'B={ slack = { interactive = "30s", batch = "1h" } }', "--metric",
                   'deadline_misses={ slack = { interactive = "30s", batch = "1h" } }', "--replications", "2"])
    out = capsys.readouterr().out
    assert status == 0
    assert 'B = ' in out
    assert '{ slack = { interactive = "30s", batch = "1h" } }' in out
    line = next(row for row in out.splitlines() if row.startswith("deadline misses (share)"))
    assert float(line.split()[3]) > float(line.split()[4])  # EDF misses fewer deadlines than FIFO
    status = main(["compare", str(path), "--policy", "fifo", "--policy", EDF, "--options",
                   'B={ slack = { batch = "30 parsecs" } }', "--replications", "2"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"stationsim: error: --options B (policy {EDF}): slack.batch: expected a duration")


COMPARISON = Path(__file__).parent.parent / "scenarios" / "scheduler_comparison.toml"


@pytest.mark.parametrize(("args", "message"), [
    (["--options", "B={ step = \"soon\" }"], "--options B (policy aging): step: "),
    (["--options", "B=5min"], "--options B: expected a TOML inline"),
    (["--options", "C={}"], "expected A={...} or B={...}"),
    (["--metric", "nonsense"], "--metric nonsense: unknown metric"),
    (["--metric", "deadline_misses={ slack = { x = \"1s\" } }", "--replications", "2", "--jobs", "50"],
     "--metric deadline_misses: slack.x: no job class 'x'")])
def test_compare_refuses_bad_options_and_metrics_in_one_line(args: list[str], message: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(COMPARISON), "--policy", "fifo", "--policy", "aging", *args]) == 2
    error = capsys.readouterr().err
    assert error.startswith("stationsim: error: ")
    assert message in error
    assert len(error.splitlines()) == 1


class OpaqueFifo(SelectPolicy):
    """FIFO that says it cannot count positions."""

    positions_by_select = False

    def select(self, queued: Any, now: float) -> int | None:
        return queued[0]


def test_job_data_shows_no_position_when_the_policy_cannot_say() -> None:
    from sim.results.client import job_data
    from sim.simulation import observe

    base = {"arrivals": {"times": [0, 0, 0]}, "hardware": {"execution_time": 10}}
    opaque = observe(sim.Scenario.from_dict(base).with_values({"scheduler.policy": OpaqueFifo}), at=5)
    assert [job_data(opaque, j).position for j in range(3)] == [0, None, None]  # 0: on the instrument
    counted = observe(sim.Scenario.from_dict(base).with_values({"scheduler.policy": Longest}), at=5)
    assert [job_data(counted, j).position for j in range(3)] == [0, 0, 1]


def test_a_restart_under_a_run_is_heard_and_the_requeued_run_starts_again() -> None:
    built: list[Any] = []
    factory = sim.policies.resolve(f"{OUTSIDE / 'matching.py'}:FitsTheDevice")[1]

    def keep(context: QueueContext) -> Any:
        built.append(factory(context))
        return built[-1]

    scenario = sim.Scenario.from_dict({
        "arrivals": {"times": [0, 0]}, "hardware": {"execution_time": 100},
        "restarts": {"times": [50], "downtime": 10, "policy": "requeue"}}).with_values({"scheduler.policy": keep})
    sim.simulate(scenario)
    runs = [(job, end) for job, _, end, _ in built[-1].runs]
    assert runs == [(0, "restarted"), (0, "ready"), (1, "ready")]
    assert built[-1].runs[0][3] == pytest.approx(50.0)  # the run time until the restart
    assert built[-1].runs[1][3] == pytest.approx(100.0)  # the requeued run, from its own start
