"""Chaos: every fault at once, in random combination and intensity, and the books must balance.

Each example (``sim.testing.strategies.chaos_scenarios``) switches on aborts (drawn and explicit), failures in
every stage with ``after_end``, instrument errors, hangs with and without a timeout, outages, recalibrations on
one or several instruments under either ``on_expired``, frequent and overlapping restarts under either policy,
every built-in scheduling policy, and sometimes a trace. It runs under a wall-clock bound and must end (or stop
with ``NoProgress``, saying why) with every invariant holding: the timelines' (``sim.results.invariants``) and
the accounting of holdings, downtimes, lost work and utilisation (``sim.results.accounting``). A scenario with
hangs and no execution timeout must be refused before it runs.
"""

from __future__ import annotations

import copy
import csv
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from sim.invariants import assert_invariants
from sim.model.service import NoProgress
from sim.model.station import Station
from sim.model.status import NOT_RECEIVED, READY
from sim.model.workload import sample_workload
from sim.results.run import RunResult
from sim.scenario.config import ScenarioError
from sim.scenario.faults import check_explicit_aborts
from sim.scenario.scenario import Scenario
from sim.scenario.streams import RandomStreams
from sim.testing.strategies import chaos_scenarios

ROOT = Path(__file__).resolve().parents[1]
WALL_SECONDS = 30
"""The wall-clock bound of one example (generous: the examples take milliseconds on an idle machine)."""
TRACE_COLUMNS = ("time", "job_type", "shots", "circuits", "depth", "sweep_points", "qubits", "user", "priority",
                 "abort_at")

MIXES: Counter[str] = Counter()
"""How often each fault was on, over the examples of a session (printed by ``test_chaos_mixes_are_reported``)."""


class WallClockExceeded(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise WallClockExceeded(f"a chaos example ran for more than {WALL_SECONDS} s")


def with_trace(data: dict[str, Any], trace: list[dict[str, Any]] | None, folder: Path) -> dict[str, Any]:
    data = copy.deepcopy(data)
    if trace is not None:
        path = folder / "trace.csv"
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, TRACE_COLUMNS)
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in trace)
        data["arrivals"] = {"trace": str(path)}
    return data


def mix(data: dict[str, Any], trace: list[dict[str, Any]] | None) -> set[str]:
    """The faults an example has on."""
    faults = data["hardware"]["faults"]
    on = {f"policy {data['scheduler']['policy']}"}
    if data["aborts"]["probability"] > 0:
        on.add("aborts (drawn)")
    if data["aborts"]["jobs"]:
        on.add("aborts (explicit)")
    on |= {f"failures in {stage}" for stage, f in data["failures"].items() if f["probability"] > 0}
    on |= {"failures after_end" for f in data["failures"].values() if f["probability"] > 0 and f["after_end"] > 0}
    if faults["error_probability"] > 0:
        on.add("instrument errors")
    if faults["hang_probability"] > 0:
        on.add("hangs with timeout" if "execution_timeout" in data["hardware"] else "hangs without timeout")
    if "mean_time_between_outages" in faults:
        on.add("outages")
    if "calibration" in data:
        several = len(data["hardware"]["devices"]) > 1
        on.add(f"recalibration ({'several' if several else 'one'} instrument, {data['calibration']['on_expired']})")
        if "stagger" in data["calibration"]:
            on.add("staggered recalibration of drawn lengths")
    if "maintenance" in data:
        on.add("maintenance windows")
    if "outages" in data["hardware"]:
        on.add("an instrument's own outages")
    if "profile" in data.get("arrivals", {}) and trace is None:
        on.add("arrival profile")
    if "restarts" in data:
        restarts = data["restarts"]
        on.add(f"restarts {restarts['policy']}")
        if "mean_time_between" in restarts:
            on.add(f"random restarts every {restarts['mean_time_between']}")
        if len(restarts.get("times", ())) > 1:
            on.add("scheduled restarts")
    if trace is not None:
        on.add("trace")
    return on


def run_chaos(data: dict[str, Any]) -> tuple[RunResult | None, str]:
    """Run one chaos scenario to its end; returns the result and how it ended (``finished``, ``no progress:
    ...`` or ``refused: ...``), the result None when the scenario was refused."""
    try:
        scenario = Scenario.from_dict(data, source="chaos.toml")
    except ScenarioError as error:
        return None, f"refused: {error}"
    submitted = sample_workload(scenario, scenario.run.jobs, RandomStreams(scenario.run.seed)).submitted_at
    explicit = data.get("aborts", {}).get("jobs", [])
    kept = [abort for abort in explicit if abort["job"] < len(submitted) and abort["at"] >= submitted[abort["job"]]]
    if kept != explicit:  # an explicit abort must come after its job's submission, which the strategy cannot know
        data = {**data, "aborts": {**data["aborts"], "jobs": kept}}
        scenario = Scenario.from_dict(data, source="chaos.toml")
    streams = RandomStreams(scenario.run.seed)
    workload = sample_workload(scenario, scenario.run.jobs, streams)
    check_explicit_aborts(scenario.source, scenario.faults.aborts, workload.submitted_at)
    station = Station(scenario, workload, streams)
    station.start()
    ending = "finished"
    try:
        station.run()
    except NoProgress as stop:
        ending = f"no progress: {stop}"
    return RunResult(scenario=scenario, seed=scenario.run.seed, workload=workload, records=station.records,
                     sim_time=station.env.now, wall_seconds=0.0), ending


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The wall-clock bound; and a no-progress window sized for runs of at most 60 jobs (the default, a million
    events, is sized for millions of jobs)."""
    monkeypatch.setattr(Station, "events_per_check", 10_000)
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_example(data: dict[str, Any], trace: list[dict[str, Any]] | None, folder: Path) -> None:
    MIXES.update(mix(data, trace))
    signal.setitimer(signal.ITIMER_REAL, WALL_SECONDS)
    try:
        result, ending = run_chaos(with_trace(data, trace, folder))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    MIXES[ending.split(":")[0]] += 1
    hangs_unbounded = data["hardware"]["faults"]["hang_probability"] > 0 and "execution_timeout" not in data["hardware"]
    if result is None:
        assert hangs_unbounded, ending
        return
    assert not hangs_unbounded, "a scenario with hangs and no execution timeout must be refused"
    assert_invariants(result)
    if ending == "finished":  # every job settled: terminal, or cancelled before the service received it
        status = np.asarray(result.records.status)
        assert np.all((status >= READY) | (status == NOT_RECEIVED)), np.unique(status)


Example = tuple[dict[str, Any], list[dict[str, Any]] | None]
UNHEALTHY = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


@settings(max_examples=150, deadline=None, suppress_health_check=UNHEALTHY)  # 5,000 in the slow run below
@given(example=chaos_scenarios())
def test_every_fault_at_once_keeps_the_books(example: Example, tmp_path: Path, wall_clock: None) -> None:
    check_example(*example, tmp_path)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=UNHEALTHY)
@given(example=chaos_scenarios())
def test_every_fault_at_once_keeps_the_books_at_length(example: Example, tmp_path: Path, wall_clock: None) -> None:
    check_example(*example, tmp_path)


def test_chaos_mixes_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    """Print how often each fault was on in this session's chaos examples (``pytest -s`` shows it)."""
    with capsys.disabled():
        for name, count in sorted(MIXES.items()):
            print(f"chaos: {count:5d} {name}")


DIGEST_SCRIPT = """
import copy, hashlib, json, sys, tempfile
from pathlib import Path
from hypothesis import given, settings, HealthCheck, Phase
sys.path.insert(0, {tests!r})
from test_chaos import run_chaos, with_trace
from sim.model.station import Station
from sim.testing.strategies import chaos_scenarios
Station.events_per_check = 10_000
digest = hashlib.sha256()
folder = Path(tempfile.mkdtemp())
@settings(max_examples=40, derandomize=True, database=None, deadline=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(example=chaos_scenarios())
def collect(example):
    result, ending = run_chaos(with_trace(*example, folder))
    digest.update(ending.encode())
    if result is not None:
        digest.update(result.times.tobytes())
        digest.update(repr(result.records.events).encode())
        digest.update(repr(sorted(result.records.failed_stage.items())).encode())
collect()
print(digest.hexdigest())
"""


@pytest.mark.slow
def test_chaos_runs_are_deterministic_under_any_hash_seed() -> None:
    """The same chaos examples give identical records whatever Python's string hashing (PYTHONHASHSEED)."""
    script = DIGEST_SCRIPT.format(tests=str(ROOT / "tests"))
    digests = set()
    for hash_seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                              timeout=600, check=True)
        digests.add(done.stdout.strip())
    assert len(digests) == 1, digests


def test_a_hang_without_a_timeout_is_refused_with_the_key() -> None:
    data = {"arrivals": {"rate": "60/h"}, "hardware": {"faults": {"hang_probability": 0.1}}}
    with pytest.raises(ScenarioError, match=r"hardware\.faults\.hang_probability.*execution_timeout"):
        Scenario.from_dict(data, source="hangs.toml")
