"""One run, from scenario to results: build the station, run it, collect the records.

``simulate(scenario, seed=..., jobs=...)`` is the whole lifecycle (build -> run -> collect). The seed and job
count default to the scenario's ``[run]`` table; the run owns its random streams, so the same scenario and
seed give identical records wherever and however often it runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from sim.model.compaction import compact_records, compact_workload
from sim.model.station import Station
from sim.model.workload import sample_workload
from sim.results.run import RunResult
from sim.scenario.faults import check_explicit_aborts
from sim.scenario.scenario import Scenario
from sim.scenario.streams import RandomStreams


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file (raises ``ScenarioError``)."""
    return Scenario.from_toml(path)


def simulate(scenario: Scenario | str | Path, *, seed: int | None = None, jobs: int | None = None,
             store: str | Path | None = None) -> RunResult:
    """Run one simulation and return its results.

    ``seed`` and ``jobs`` default to the scenario's ``[run]`` table. With ``store`` (a results database file),
    the run is written into it while it runs and marked complete at the end (see ``sim.results.store``); if
    anything stops the run (an error, KeyboardInterrupt) the writer process stops with it, the rows committed
    so far stay, and the run says ``complete = 0``. A database that cannot be written raises ``WriterError``.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seed = scenario.run.seed if seed is None else seed
    jobs = scenario.run.jobs if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"a run needs at least one job, got {jobs}")
    started = time.perf_counter()
    streams = RandomStreams(seed)
    workload = sample_workload(scenario, jobs, streams)
    check_explicit_aborts(scenario.source, scenario.faults.aborts, workload.submitted_at)
    if store is None:
        station = Station(scenario, workload, streams)
        _run(station, scenario)
        compact_records(station.records)  # the run has ended: nothing writes its records any more
        return RunResult(scenario=scenario, seed=seed, workload=compact_workload(workload), records=station.records,
                         sim_time=station.env.now, wall_seconds=time.perf_counter() - started)
    from sim.results.store import RunWriter  # the database, its writer process and sqlite3: only when storing

    station = Station(scenario, workload, streams)
    writer = RunWriter(store, scenario, seed, workload, station.records)
    try:
        writer.begin()
        station.on_settled = writer.write_jobs
        _run(station, scenario)
        wall = time.perf_counter() - started
        writer.finish(station.env.now, wall)
    except BaseException:  # an error, Ctrl-C, SIGTERM: the writer stops with the run, the database stays sound
        writer.abort()
        raise
    compact_records(station.records)  # written and finished: nothing writes its records any more
    return RunResult(scenario=scenario, seed=seed, workload=compact_workload(workload), records=station.records,
                     sim_time=station.env.now, wall_seconds=wall, run_id=writer.run_id)


def observe(scenario: Scenario | str | Path, *, at: float, seed: int | None = None,
            jobs: int | None = None) -> Station:
    """A station run to simulated time ``at`` and paused there, for looking at it as a client would
    (``sim.results.client.job_data``, ``queue_states``); ``station.run(until=later)`` runs it on."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    seed = scenario.run.seed if seed is None else seed
    streams = RandomStreams(seed)
    workload = sample_workload(scenario, scenario.run.jobs if jobs is None else jobs, streams)
    check_explicit_aborts(scenario.source, scenario.faults.aborts, workload.submitted_at)
    station = Station(scenario, workload, streams)
    station.start()
    station.run(until=at)
    return station


def _run(station: Station, scenario: Scenario) -> None:
    station.start()
    station.run(until=scenario.run.horizon)
