"""Scheduling policies: the order-statistics list, each built-in policy driven by hand, the pool's dispatching and
wake-ups, the ``[scheduler]`` table and its errors, and each built-in policy's promise under load.

The promises run twice: a small run in the default suite and a run of 50,000 jobs marked slow. Each prints its
figures (``pytest -s``).
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from hardware_mock.calibration import CalibrationPlan, CalibrationSet
from sim.model.pools import FifoQueue, Pool
from sim.model.records import Holdings
from sim.model.status import EXECUTION_STARTED, PENDING_EXECUTION
from sim.policies import (
    Aging,
    CalibrationAware,
    FairShare,
    Fifo,
    PolicyError,
    QueueContext,
    RankedList,
    SelectPolicy,
    ShortestFirst,
    StrictPriority,
    Timeslot,
    Window,
)
from sim.testing import (
    assert_aging_order,
    assert_fifo_order,
    assert_invariants,
    assert_priority_order,
    assert_recalibrations_respected,
    assert_shares,
    assert_shortest_first,
    assert_windows_respected,
    expected_execution,
    instrument_shares,
    run,
)
from sim.testing.ordering import recalibration_overruns

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
CALIBRATION = ROOT / "scenarios" / "calibration.toml"
CAPACITY_PER_HOUR = 485.0
"""Jobs per hour one Garnet-like instrument serves with the baseline's job mix."""


def drain(policy: Any, now: float = 0.0) -> list[int]:
    """Pop every job the policy lets start at ``now``, in order."""
    order = []
    while (job := policy.pop(now)) is not None:
        order.append(job)
    return order


# --- the order-statistics list --------------------------------------------------------------------------------

operations = st.lists(st.tuples(st.sampled_from(("add", "remove", "pop", "rank", "before", "at")),
                                st.integers(0, 60)), max_size=300)


@given(operations)
@settings(max_examples=200, deadline=None)
def test_ranked_list_behaves_like_a_sorted_list(ops: list[tuple[str, int]]) -> None:
    ranked: RankedList[int] = RankedList(load=4)  # tiny blocks: splits and merges all the time
    model: list[int] = []
    for op, key in ops:
        if op == "add" and key not in model:
            ranked.add(key)
            model.append(key)
            model.sort()
        elif op == "remove" and key in model:
            ranked.remove(key)
            model.remove(key)
        elif op == "remove":
            with pytest.raises(KeyError):
                ranked.remove(key)
        elif op == "pop" and model:
            assert ranked.pop_first() == model.pop(0)
        elif op == "rank":
            assert ranked.rank(key) == sum(k < key for k in model)
        elif op == "before":
            assert ranked.before(key) == max((k for k in model if k < key), default=None)
        elif op == "at" and model:
            assert ranked.at(key % len(model)) == model[key % len(model)]
        assert list(ranked) == model
        assert len(ranked) == len(model)
        assert (key in ranked) == (key in model)


@given(st.lists(st.tuples(st.sampled_from(("push", "remove", "pop")), st.integers(0, 20)), max_size=200))
@settings(max_examples=200, deadline=None)
def test_stage_fifo_queue_positions(ops: list[tuple[str, int]]) -> None:
    queue, model = FifoQueue(), []
    for op, job in ops:
        if op == "push" and job not in model:
            queue.push(job, 0.0)
            model.append(job)
        elif op == "remove" and job in model:
            queue.remove(job)
            model.remove(job)
        elif op == "pop":
            assert queue.pop(0.0) == (model.pop(0) if model else None)
        assert len(queue) == len(model)
        assert [queue.position(j, 0.0) for j in model] == list(range(len(model)))


# --- each policy by hand --------------------------------------------------------------------------------------

def test_fifo_by_entry_time_then_job_id() -> None:
    policy = Fifo(QueueContext.of(5, entered=[3.0, 1.0, 1.0, 0.5, 2.0]))
    for job in range(5):
        policy.push(job, 3.0)
    assert [policy.position(j, 3.0) for j in range(5)] == [4, 1, 2, 0, 3]
    policy.remove(1)
    assert policy.position(2, 3.0) == 1
    assert drain(policy) == [3, 2, 4, 0]


def test_priority_then_fifo_within_a_class() -> None:
    policy = StrictPriority(QueueContext.of(5, priority=[0, 2, 0, 2, 1]))
    for job in range(5):
        policy.push(job, 5.0)
    assert drain(policy) == [1, 3, 4, 0, 2]


def test_shortest_expected_execution_first() -> None:
    policy = ShortestFirst(QueueContext.of(4, expected=[30.0, 5.0, 30.0, 1.0]))
    for job in range(4):
        policy.push(job, 4.0)
    assert drain(policy) == [3, 1, 0, 2]


def test_aging_lets_a_long_wait_beat_a_higher_priority() -> None:
    # job 0 (priority 0) entered 700 s before job 1 (priority 1): more than one 600 s step, so it goes first
    context = QueueContext.of(3, priority=[0, 1, 1], entered=[0.0, 700.0, 500.0])
    policy = Aging(context, step="10min")
    for job in range(3):
        policy.push(job, 700.0)
    assert drain(policy, 700.0) == [2, 0, 1]  # keys: 0 - 0, 700 - 600 = 100, 500 - 600 = -100


def test_fair_share_divides_by_weight_and_forgets() -> None:
    context = QueueContext.of(60, users=("alice", "bob"), user=[j % 2 for j in range(60)], expected=[1.0] * 60)
    policy = FairShare(context, weights={"alice": 2}, half_life=3600)
    for job in range(60):
        policy.push(job, 0.0)
    started = [policy.pop(float(t)) for t in range(30)]
    alice = sum(1 for job in started if job is not None and job % 2 == 0)
    assert alice == 20  # two of every three starts
    assert policy.usage(30.0)["alice"] == pytest.approx(20 * 2 ** (-15 / 3600), rel=0.01)


def test_fair_share_by_project_prefers_the_group_that_used_least() -> None:
    context = QueueContext.of(4, projects=("qec", "chem"), project=[0, 0, 1, 1], expected=[100.0, 1, 1, 1])
    policy = FairShare(context, by="project")
    for job in range(4):
        policy.push(job, 0.0)
    assert drain(policy) == [0, 2, 3, 1]  # qec used 100 s: chem goes until it has used as much


def test_timeslot_reserves_windows_for_their_owners() -> None:
    windows = (Window("user", "alice", 9 * 3600, 11 * 3600, daily=True),)
    context = QueueContext.of(4, users=("alice", "bob"), user=[0, 1, 0, 1], use_timeslot=[True, False, False, False],
                              windows=windows)
    policy = Timeslot(context)
    for job in range(4):
        policy.push(job, 0.0)
    assert policy.pop(0.0) == 1  # outside the window: the shared FIFO (alice's timeslot job waits)
    assert policy.pop(0.0) == 2
    assert policy.pop(0.0) == 3
    assert policy.pop(0.0) is None
    assert policy.next_change(0.0) == 9 * 3600
    assert policy.pop(9 * 3600.0) == 0
    policy.push(1, 9 * 3600.0)
    assert policy.pop(9 * 3600.0 + 1) is None  # bob's job waits: the window is alice's
    assert policy.next_change(9 * 3600.0 + 1) == 11 * 3600
    assert policy.pop(11 * 3600.0) == 1


def test_timeslot_jobs_of_an_owner_without_windows_to_come_are_shared() -> None:
    windows = (Window("project", "qec", 0.0, 100.0, daily=False),)
    context = QueueContext.of(2, projects=("qec",), use_timeslot=[True, True], windows=windows)
    policy = Timeslot(context)
    policy.push(0, 150.0)  # after the last window: a shared job
    assert policy.pop(150.0) == 0
    policy.push(1, 50.0)
    assert policy.pop(50.0) == 1  # in its window


def test_calibration_aware_holds_back_what_would_run_into_a_recalibration() -> None:
    plan = CalibrationPlan(times_of_day=(3600.0,), duration=600.0)
    current = CalibrationSet(0, 0.0, plan.valid_for)
    context = QueueContext.of(4, expected=[1000.0, 50.0, 400.0, 5000.0], calibration=plan,
                              current_set=lambda: current)
    policy = CalibrationAware(context)
    for job in range(4):
        policy.push(job, 3000.0)
    # 600 s to the recalibration at 3600 s: job 0 (1000 s) waits; the longest that fits goes (best fit)
    assert policy.pop(3000.0) == 2
    assert policy.pop(3500.0) == 1
    assert policy.pop(3560.0) is None
    assert policy.next_change(3560.0) == 3600.0 + 600.0


def test_calibration_aware_starts_a_job_too_long_for_any_period_when_it_is_first() -> None:
    plan = CalibrationPlan(times_of_day=(3600.0,), duration=600.0)
    current = CalibrationSet(0, 0.0, plan.valid_for)
    context = QueueContext.of(1, expected=[90_000.0], calibration=plan, current_set=lambda: current)
    policy = CalibrationAware(context)
    policy.push(0, 3000.0)
    assert policy.pop(3000.0) == 0


# --- the pool: dispatching, wake-ups, withdrawals, protocol errors --------------------------------------------

class OpensAtTen(SelectPolicy):
    """Nothing starts before t = 10; then FIFO."""

    def select(self, queued: Any, now: float) -> int | None:
        return queued[0] if now >= 10 else None

    def next_change(self, now: float) -> float | None:
        return 10.0 if now < 10 else None


def serve(env: simpy.Environment, pool: Pool, job: int, log: list[tuple[int, float]]) -> Any:
    grant = pool.acquire(job, env.now)
    server = grant if isinstance(grant, int) else (yield grant)
    log.append((job, env.now))
    yield env.timeout(1)
    pool.release(server)  # type: ignore[arg-type]


def test_pool_wakes_up_when_the_policy_says_things_change() -> None:
    env, log = simpy.Environment(), []
    pool = Pool(env, "execution", 2, OpensAtTen(QueueContext.of(3)), Holdings())
    for job in range(3):
        env.process(serve(env, pool, job, log))
    env.run()
    assert log == [(0, 10.0), (1, 10.0), (2, 11.0)]
    assert pool.idle


def test_pool_positions_follow_withdrawals() -> None:
    env = simpy.Environment()
    pool = Pool(env, "execution", 1, Fifo(QueueContext.of(4, entered=[0, 1, 2, 3])), Holdings())
    assert pool.acquire(0, env.now) == 0
    grants = {job: pool.acquire(job, env.now) for job in (1, 2, 3)}
    assert [pool.position(j) for j in (0, 1, 2, 3)] == [None, 0, 1, 2]
    pool.cancel(2, grants[2])  # type: ignore[arg-type]
    assert [pool.position(j) for j in (1, 2, 3)] == [0, None, 1]


class Rogue(SelectPolicy):
    def select(self, queued: Any, now: float) -> int | None:
        return 999


def test_a_policy_that_names_a_job_not_in_the_queue_is_reported() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0, 0]}, "hardware": {"execution_time": 5}},
                                      source="rogue.toml").with_values({"scheduler.policy": Rogue})
    with pytest.raises(PolicyError, match=r"rogue\.toml: scheduler\.policy: policy '.*Rogue' broke the scheduling "
                                          r"protocol: pop\(now=0, instrument=0\) returned job 999, which is not "
                                          r"waiting"):
        sim.simulate(scenario)


class Stuck(OpensAtTen):
    def next_change(self, now: float) -> float | None:
        return now


def test_a_next_change_that_is_not_later_is_reported() -> None:
    scenario = sim.Scenario.from_dict({"arrivals": {"times": [0]}}).with_values({"scheduler.policy": Stuck})
    with pytest.raises(PolicyError, match=r"next_change\(0\) returned 0; expected a time after now"):
        sim.simulate(scenario)


# --- the [scheduler] table -------------------------------------------------------------------------------------

def scheduler_toml(tmp_path: Path, table: str, workload: str = "") -> Path:
    path = tmp_path / "s.toml"
    path.write_text('[arrivals]\nrate = "300/h"\n' + workload + table, encoding="utf-8")
    return path


def test_scheduler_table_with_options_windows_and_variants(tmp_path: Path) -> None:
    path = scheduler_toml(tmp_path, '''
[scheduler]
policy = "fair_share"
start_time_of_day = "08:00"
options = { by = "user", weights = { alice = 2 }, half_life = "30min" }
[[scheduler.windows]]
user = "alice"
start = "22:00"
end = "02:00"
[[scheduler.windows]]
project = "qec"
start = "1h"
end = "90min"
[scheduler.variants.quick]
policy = "aging"
options = { step = "1min" }
''', '[[workload]]\nusers = ["alice", "bob"]\nproject = "qec"\n')
    scheduler = sim.load_scenario(path).scheduler
    assert scheduler.policy == "fair_share"
    assert scheduler.options == {"by": "user", "weights": {"alice": 2}, "half_life": "30min"}
    assert scheduler.start_time_of_day == 8 * 3600
    assert scheduler.windows == (Window("user", "alice", 22 * 3600, 2 * 3600, daily=True),
                                 Window("project", "qec", 3600, 5400, daily=False))
    assert scheduler.variants == {"quick": {"policy": "aging", "options": {"step": "1min"}}}
    night = scheduler.windows[0]
    assert night.is_open(23 * 3600 - 8 * 3600, 8 * 3600)
    assert night.is_open(1 * 3600 + 16 * 3600, 8 * 3600)
    assert not night.is_open(12 * 3600, 0.0)


BAD_SCHEDULERS = {
    "unknown-policy": ('[scheduler]\npolicy = "lifo"\n', "scheduler.policy",
                       "unknown policy 'lifo'; expected one of fifo, priority, timeslot, shortest_first, fair_share, "
                       "aging, calibration_aware"),
    "module-not-found": ('[scheduler]\npolicy = "no_such_module.policies:Mine"\n', "scheduler.policy",
                         "cannot import module 'no_such_module.policies'"),
    "no-such-class": ('[scheduler]\npolicy = "sim.policies:Nope"\n', "scheduler.policy",
                      "sim.policies has no attribute 'Nope'"),
    "not-a-policy": ('[scheduler]\npolicy = "sim.policies:Window"\n', "scheduler.policy",
                     "is not a scheduling policy: it has no push, pop"),
    "unknown-option": ('[scheduler]\npolicy = "aging"\noptions = { stride = 3 }\n', "scheduler.options.stride",
                       "unknown option; expected one of step"),
    "no-options": ('[scheduler]\noptions = { x = 1 }\n', "scheduler.options.x", "this policy takes no options"),
    "bad-option": ('[scheduler]\npolicy = "fair_share"\noptions = { half_life = "soon" }\n',
                   "scheduler.options.half_life", "expected a duration"),
    "bad-weight": ('[scheduler]\npolicy = "fair_share"\noptions = { weights = { alice = -1 } }\n',
                   "scheduler.options.weights.alice", "above zero"),
    "bad-grouping": ('[scheduler]\npolicy = "fair_share"\noptions = { by = "team" }\n', "scheduler.options.by",
                     "expected one of user, project"),
    "unknown-key": ('[scheduler]\npolicy = "fifo"\nqueue = "shared"\n', "scheduler.queue", "unknown key"),
    "window-without-owner": ('[[scheduler.windows]]\nstart = "09:00"\nend = "10:00"\n', "scheduler.windows[0]",
                             "exactly one of user or project"),
    "window-mixed-times": ('[[scheduler.windows]]\nuser = "user"\nstart = "09:00"\nend = "2h"\n',
                           "scheduler.windows[0].end", "must both be clock times"),
    "window-bad-clock": ('[[scheduler.windows]]\nuser = "user"\nstart = "25:00"\nend = "26:00"\n',
                         "scheduler.windows[0].start", "time of day"),
    "window-ends-before-start": ('[[scheduler.windows]]\nuser = "user"\nstart = "2h"\nend = "1h"\n',
                                 "scheduler.windows[0]", "end after it starts"),
    "window-unknown-owner": ('[[scheduler.windows]]\nuser = "alcie"\nstart = "09:00"\nend = "10:00"\n',
                             "scheduler.windows[0].user", "no job class has user 'alcie'"),
    "variant-unknown-policy": ('[scheduler.variants.x]\npolicy = "lifo"\n', "scheduler.variants.x.policy",
                               "unknown policy 'lifo'"),
}


@pytest.mark.parametrize("case", BAD_SCHEDULERS, ids=list(BAD_SCHEDULERS))
def test_bad_scheduler_tables_name_the_file_and_key(case: str, tmp_path: Path) -> None:
    table, key, fragment = BAD_SCHEDULERS[case]
    path = scheduler_toml(tmp_path, table)
    with pytest.raises(sim.ScenarioError) as caught:
        sim.load_scenario(path)
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert fragment in caught.value.message


POLICY_FILE = '''
from sim.policies import KeyPolicy


class ShortJobsFirst(KeyPolicy):
    def __init__(self, context, limit=10.0):
        super().__init__(context)
        self.limit = float(limit)

    def key(self, job):
        return (self.context.expected[job] > self.limit,)


class ReturnsAStranger(ShortJobsFirst):
    def pop(self, now):
        job = super().pop(now)
        return None if job is None else job + 1_000_000
'''


def test_a_policy_file_next_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "my_policies.py").write_text(POLICY_FILE, encoding="utf-8")
    path = scheduler_toml(tmp_path, '[scheduler]\npolicy = "my_policies.py:ShortJobsFirst"\noptions = { limit = 5 }\n'
                          '[run]\njobs = 200\n')
    result = sim.simulate(path)
    assert_invariants(result)
    assert result.scenario.scheduler.policy == "my_policies.py:ShortJobsFirst"


def test_command_line_reports_bad_policies_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "my_policies.py").write_text(POLICY_FILE + "\ndef broken(:\n", encoding="utf-8")
    cases = {
        "unknown.toml": ('[scheduler]\npolicy = "lifo"\n', "scheduler.policy: unknown policy 'lifo'"),
        "broken_file.toml": ('[scheduler]\npolicy = "my_policies.py:ShortJobsFirst"\n',
                             "scheduler.policy: loading policy file 'my_policies.py' failed: SyntaxError"),
    }
    for name, (table, message) in cases.items():
        (tmp_path / name).write_text('[arrivals]\nrate = "300/h"\n' + table, encoding="utf-8")
        process = subprocess.run([sys.executable, "-m", "sim", "validate", name], cwd=tmp_path, capture_output=True,
                                 text=True, timeout=120)
        assert process.returncode == 2, process.stderr
        assert "Traceback" not in process.stderr
        assert process.stderr.strip() == f"stationsim: error: {name}: {message}" or message in process.stderr


def test_command_line_reports_a_policy_that_breaks_the_protocol(tmp_path: Path) -> None:
    (tmp_path / "my_policies.py").write_text(POLICY_FILE, encoding="utf-8")
    (tmp_path / "rogue.toml").write_text('[arrivals]\nrate = "300/h"\n[run]\njobs = 50\n[scheduler]\n'
                                         'policy = "my_policies.py:ReturnsAStranger"\n', encoding="utf-8")
    process = subprocess.run([sys.executable, "-m", "sim", "run", "rogue.toml"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120)
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert "rogue.toml: scheduler.policy: policy 'my_policies.py:ReturnsAStranger' broke the scheduling protocol: " \
           "pop(now=" in process.stderr
    assert "returned job 10000" in process.stderr
    assert "which is not waiting in the queue" in process.stderr


def test_trace_columns_project_and_use_timeslot(tmp_path: Path) -> None:
    (tmp_path / "jobs.csv").write_text("time,job_type,shots,circuits,user,project,use_timeslot\n"
                                       "0,circuit,100,1,alice,qec,true\n1,circuit,100,1,bob,chem,0\n"
                                       "2,pulse,100,1,bob,qec,\n", encoding="utf-8")
    path = scheduler_toml(tmp_path, "")
    path.write_text('[arrivals]\ntrace = "jobs.csv"\n[scheduler]\npolicy = "timeslot"\n', encoding="utf-8")
    result = sim.simulate(path)
    w = result.workload
    assert [w.projects[p] for p in w.project] == ["qec", "chem", "qec"]
    assert w.use_timeslot.tolist() == [True, False, False]
    assert_invariants(result)


def test_policies_see_the_longest_time_over_unlike_devices() -> None:
    """Shortest-first on a Garnet and a Heron orders by the time on the slower device, as the kit computes it."""
    scenario = sim.Scenario.from_dict({"arrivals": {"rate": "900/h"}, "run": {"jobs": 400},
                                       "workload": [{"circuits": {"dist": "uniform", "low": 1, "high": 30}}],
                                       "hardware": {"devices": ["garnet", "heron"]}})
    result = run(scenario, "shortest_first")
    assert_invariants(result)
    assert_shortest_first(result)


# --- each built-in policy's promise under load ---------------------------------------------------------------

SIZES = [pytest.param(3_000, id="3k"), pytest.param(50_000, marks=pytest.mark.slow, id="50k")]


def baseline(load: float, instruments: int = 1, **changes: Any) -> sim.Scenario:
    """The baseline scenario at ``load`` x the capacity of ``instruments`` instruments."""
    return sim.load_scenario(BASELINE).with_values({
        "arrivals.rate": f"{load * instruments * CAPACITY_PER_HOUR:.1f}/h", "hardware.instruments": instruments,
        **changes})


def job_class(name: str, weight: float, **fields: Any) -> dict[str, Any]:
    """The baseline's circuit jobs as a class of their own."""
    circuits = copy.deepcopy(sim.load_scenario(BASELINE).raw["workload"][0])
    return {**circuits, "name": name, "weight": weight, **fields}


def report(title: str, **figures: Any) -> None:
    print(f"\n{title}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                     for k, v in figures.items()))


def queue_waits(result: sim.RunResult) -> np.ndarray:
    return result.times[:, EXECUTION_STARTED] - result.times[:, PENDING_EXECUTION]


@pytest.mark.parametrize("jobs", SIZES)
def test_fifo_starts_in_queue_entry_order(jobs: int) -> None:
    scenario = baseline(0.95, instruments=2, aborts={"probability": 0.05, "delay": {"dist": "exponential",
                                                                                     "mean": "5min"}})
    result = run(scenario, "fifo", jobs=jobs, seed=11)
    assert_invariants(result)
    assert_fifo_order(result)
    aborted_queued = int(np.sum(~np.isnan(result.times[:, PENDING_EXECUTION])
                                & np.isnan(result.times[:, EXECUTION_STARTED])))
    report("fifo", jobs=jobs, starts=int(np.sum(~np.isnan(result.times[:, EXECUTION_STARTED]))),
           withdrawn_from_queue=aborted_queued, mean_wait=float(np.nanmean(queue_waits(result))))
    assert aborted_queued > 0  # withdrawals happened, and the order held around them


PRIORITY_CLASSES = [job_class("normal", 0.6, priority=0), job_class("high", 0.3, priority=1),
                    job_class("urgent", 0.1, priority=2)]


@pytest.mark.parametrize("jobs", SIZES)
def test_priority_never_keeps_a_job_behind_a_lower_priority_one(jobs: int) -> None:
    result = run(baseline(0.97, workload=PRIORITY_CLASSES), "priority", jobs=jobs, seed=12)
    assert_invariants(result)
    assert_priority_order(result, fifo_within_class=True)
    waits = queue_waits(result)
    means = {p: float(np.nanmean(waits[result.workload.priority == p])) for p in (0, 1, 2)}
    report("priority", jobs=jobs, mean_wait_p0=means[0], mean_wait_p1=means[1], mean_wait_p2=means[2])
    assert means[2] < means[1] < means[0]


FAIR_USERS = {"workload[0].users": ["alice", "bob", "carol"], "workload[1].users": ["alice", "bob", "carol"]}
WEIGHTS = {"alice": 1.0, "bob": 2.0, "carol": 3.0}


@pytest.mark.parametrize("jobs", SIZES)
def test_fair_share_holds_the_instrument_shares_to_the_weights(jobs: int) -> None:
    """Every user asks for 0.8 of the instrument (2.4 x capacity in all), more than any weight gives: while all
    are backlogged (from 1 h to the last submission), the shares of instrument seconds follow the weights."""
    tolerance = 0.02 if jobs >= 50_000 else 0.05
    scenario = baseline(2.4, **FAIR_USERS)
    result = run(scenario, "fair_share", options={"weights": WEIGHTS, "half_life": "30min"}, jobs=jobs, seed=13)
    assert_invariants(result)
    end = float(result.workload.submitted_at[-1])
    shares = assert_shares(result, WEIGHTS, tolerance=tolerance, start=3600.0, end=end)
    fifo = instrument_shares(run(scenario, "fifo", jobs=jobs, seed=13), start=3600.0, end=end)
    report("fair_share", jobs=jobs, hours=end / 3600, tolerance=tolerance,
           **{f"share_{u}": shares[u] for u in WEIGHTS}, **{f"fifo_share_{u}": fifo[u] for u in WEIGHTS})
    assert max(abs(s - 1 / 3) for s in fifo.values()) < tolerance  # FIFO gives everyone their demand


AGING_CLASSES = [job_class("normal", 0.2, priority=0), job_class("urgent", 0.8, priority=2)]
STEP = 60.0


@pytest.mark.parametrize("jobs", SIZES)
def test_aging_bounds_the_longest_wait(jobs: int) -> None:
    """A job is never overtaken by one that entered more than (priority difference) x step after it, so its wait
    is at most 2 x step plus the longest time the FIFO queue ever needed to clear (a job's wait and run: the most
    unfinished work there ever was, the same under every work-conserving order on one instrument). Strict priority
    has no such bound: urgent jobs, 80% of the load, hold the normal ones back for longer."""
    scenario = baseline(0.97, workload=AGING_CLASSES)
    aging = run(scenario, "aging", options={"step": STEP}, jobs=jobs, seed=14)
    assert_invariants(aging)
    assert_aging_order(aging, STEP)
    fifo = run(scenario, "fifo", jobs=jobs, seed=14)
    strict = run(scenario, "priority", jobs=jobs, seed=14)
    fifo_clear = float(np.nanmax(fifo.times[:, EXECUTION_STARTED + 1] - fifo.times[:, PENDING_EXECUTION]))
    bound = 2 * STEP + fifo_clear
    longest = {name: float(np.nanmax(queue_waits(r))) for name, r in
               (("aging", aging), ("priority", strict), ("fifo", fifo))}
    report("aging", jobs=jobs, bound=bound, longest_wait_aging=longest["aging"],
           longest_wait_priority=longest["priority"], longest_wait_fifo=longest["fifo"])
    assert longest["aging"] <= bound
    assert longest["aging"] <= longest["priority"]
    if jobs >= 50_000:  # long enough for strict priority to starve the normal jobs for a while
        assert longest["aging"] < longest["priority"]


TIMESLOT_WORKLOAD = [
    job_class("shared", 0.8, users=["bob", "carol", "dave"]),
    job_class("alice-timeslot", 0.1, users=["alice"], use_timeslot=True),
    job_class("alice-shared", 0.05, users=["alice"]),
    job_class("qec-timeslot", 0.05, users=["erin"], project="qec", use_timeslot=True),
]
TIMESLOT_WINDOWS = [{"user": "alice", "start": "09:00", "end": "11:00"},
                    {"project": "qec", "start": "14:00", "end": "16:00"},
                    {"user": "bob", "start": "30h", "end": "31h"}]


@pytest.mark.parametrize("jobs", SIZES)
def test_timeslot_windows_start_only_their_owners_jobs(jobs: int) -> None:
    scenario = baseline(0.7, workload=TIMESLOT_WORKLOAD, scheduler={
        "policy": "timeslot", "start_time_of_day": "08:00", "windows": TIMESLOT_WINDOWS})
    result = run(scenario, jobs=jobs, seed=15)
    assert_invariants(result)
    assert_windows_respected(result)
    started = result.times[:, EXECUTION_STARTED]
    windows = result.scenario.scheduler.windows
    in_window = np.array([any(w.is_open(t, 8 * 3600) for w in windows) if not math.isnan(t) else False
                          for t in started])
    timeslot = result.workload.use_timeslot
    report("timeslot", jobs=jobs, days=result.sim_time / 86400, starts_in_windows=int(in_window.sum()),
           timeslot_starts=int(np.sum(timeslot & ~np.isnan(started))),
           mean_wait_timeslot=float(np.nanmean(queue_waits(result)[timeslot])),
           mean_wait_shared=float(np.nanmean(queue_waits(result)[~timeslot])))
    assert in_window.sum() > 0
    assert np.all(in_window[timeslot & ~np.isnan(started)])


@pytest.mark.parametrize("jobs", SIZES)
def test_shortest_first_never_passes_over_a_shorter_job(jobs: int) -> None:
    scenario = baseline(0.9)
    result = run(scenario, "shortest_first", jobs=jobs, seed=16)
    assert_invariants(result)
    assert_shortest_first(result)
    fifo = run(scenario, "fifo", jobs=jobs, seed=16)
    report("shortest_first", jobs=jobs, mean_wait=float(np.nanmean(queue_waits(result))),
           fifo_mean_wait=float(np.nanmean(queue_waits(fifo))))
    assert np.nanmean(queue_waits(result)) < np.nanmean(queue_waits(fifo))


@pytest.mark.parametrize("jobs", SIZES)
def test_calibration_aware_starts_nothing_that_would_run_into_a_recalibration(jobs: int) -> None:
    scenario = sim.load_scenario(CALIBRATION).with_values({"arrivals.rate": "450/h"})  # 93% busy
    result = run(scenario, "calibration_aware", jobs=jobs, seed=17)
    assert_invariants(result)
    assert_recalibrations_respected(result)
    fifo = run(scenario, "fifo", jobs=jobs, seed=17)
    overruns = len(recalibration_overruns(fifo))
    recalibrations = sum(1 for e in result.records.events if e.kind == "recalibration_requested")
    report("calibration_aware", jobs=jobs, recalibrations=recalibrations, fifo_overruns=overruns,
           mean_wait=float(np.nanmean(queue_waits(result))), fifo_mean_wait=float(np.nanmean(queue_waits(fifo))))
    assert overruns > 0  # FIFO does run into recalibrations: the promise is not empty
    assert len(expected_execution(result)) == jobs
