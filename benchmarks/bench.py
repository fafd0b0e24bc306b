"""Benchmark of stationsim against a bare SimPy reference model of the same pipeline.

    python benchmarks/bench.py [--jobs N] [--scale 10000,100000,1000000] [--repeats R] [--clock cpu|wall] [--quick]
    python benchmarks/bench.py --profile [--jobs N]

Both models run one pipeline (``PIPELINE`` below): Poisson arrivals, then six pools in series (validation,
calibration, compilation, save_metadata, the instruments, post_processing), each with a fixed number of
servers and exponential service times, loaded at ``UNDER_LOAD`` of the bottleneck's capacity so that queues
form. The reference is the plain SimPy way of writing it (``run_reference``): one ``simpy.Resource`` per pool,
a request per stage, a scalar draw from its own ``numpy`` Generator per service time, and one timestamp per
status in a preallocated ``(jobs, 18)`` array. stationsim runs the same figures through ``sim.simulate`` on a
scenario built with ``sim.Scenario.from_dict`` (``stationsim_scenario``).

What is measured, against the targets of DESIGN.md (section Performance):

- throughput: jobs per second of each model at ``--jobs`` jobs, and their ratio (target >= 1);
- peak memory: every measurement runs in a fresh ``spawn``-ed process, which reports its peak resident set
  (``getrusage(RUSAGE_SELF).ru_maxrss``) and its resident set after its imports, before the first run; the
  table gives the peak and what the run added to that baseline. A full garbage collection before each run
  frees what the previous one left in reference cycles, so that the peak is one run's;
- scale: stationsim's time per job at each ``--scale`` size; spread = slowest / fastest - 1 (target <= 15%);
- store: ``sim.results.store.connect`` + ``sim.results.store.write_run`` of the ``--jobs`` run into a temporary
  folder, as a
  fraction of the run's own time (target <= 15%); for information, also what ``sim.simulate(..., store=path)``
  (the command line's way: rows written while the run goes on) adds to the run;
- overload: stationsim at ``OVER_LOAD`` x capacity, where the queues grow without bound, in time per event
  against the under-capacity run of as many jobs (target: not growing, i.e. <= +15%). An *event* is one SimPy
  event (a timeout, a granted request, a process starting or ending), counted after the timed runs in one
  more, untimed, run with ``Environment.schedule`` wrapped by a counter. Two more overloaded runs help read a
  miss: one with a tenth of the jobs (queues ten times shorter) and one with Python's cyclic garbage collector
  off. The SimPy reference is run overloaded too, for information.

Times are the best of ``--repeats`` runs for runs under ``LONG_RUN_JOBS`` jobs, a single run above, each
around the whole run (building the model, drawing, running: for stationsim, the ``sim.simulate`` call), after
an untimed warm-up run of a few jobs. The figures use the process's CPU time by default (``--clock cpu``: user
+ system time of the measuring process), which other programs on a shared machine disturb far less than
wall-clock time; the table shows the wall time beside it. Measurements run one after another, never side by
side, so that they do not compete for the machine's cores.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import itertools
import math
import os
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar
from unittest import mock

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import NORMAL

import sim
import sim.results.store
from sim import JobStatus

TimesArray = npt.NDArray[np.float64]
Arg = TypeVar("Arg")
Out = TypeVar("Out")

# --- the pipeline -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolSpec:
    """One pool of servers in the pipeline and the exponential service time of one job in it."""

    stage: str
    """Stage name in a stationsim scenario (``execution`` is the instruments, in its ``[hardware]`` table)."""
    servers: int
    mean: float
    """Mean service time, seconds."""
    started: JobStatus
    """The status a job reaches when it gets a server; the one after it is reached when service ends."""
    waiting: JobStatus | None = None
    """A status reached on joining the pool's queue, where that is not the end of the previous stage."""

    @property
    def capacity(self) -> float:
        """Jobs per second the pool serves when always busy."""
        return self.servers / self.mean


PIPELINE = (
    PoolSpec("validation", 2, 0.7, JobStatus.VALIDATION_STARTED),
    PoolSpec("calibration", 2, 0.5, JobStatus.FETCH_CALIBRATION_STARTED),
    PoolSpec("compilation", 4, 1.6, JobStatus.COMPILATION_STARTED),
    PoolSpec("save_metadata", 4, 1.2, JobStatus.SAVE_SWEEP_METADATA_STARTED),
    PoolSpec("execution", 2, 1.0, JobStatus.EXECUTION_STARTED, waiting=JobStatus.PENDING_EXECUTION),
    PoolSpec("post_processing", 2, 0.8, JobStatus.POST_PROCESSING_STARTED,
             waiting=JobStatus.POST_PROCESSING_PENDING),
)
"""Utilisations at ``UNDER_LOAD``: 0.56, 0.40, 0.64, 0.48, 0.80 (the instruments: the bottleneck), 0.64."""
CAPACITY = min(pool.capacity for pool in PIPELINE)
UNDER_LOAD = 0.8
OVER_LOAD = 2.0
N_STATUSES = len(JobStatus)
QUEUE_ENTRIES = [(pool.started.code - 1, pool.started.code) for pool in PIPELINE]
"""(status on joining a pool's queue, status on getting a server) of every pool, as column indices."""

LONG_RUN_JOBS = 500_000
WARM_UP_JOBS = 1_000
"""Jobs of an untimed first run in every measuring process, so that no timed run pays for first calls."""
TARGET_RATIO = 1.5
"""stationsim on the equivalent scenario against the reference."""
TARGET_FULL_RATIO = 1.0
"""stationsim with everything on (faults, aborts, recalibration, restarts, the store on disk) against it."""
TARGET_SPREAD = 0.15
TARGET_STORE_FRACTION = 0.15
TARGET_OVERLOAD_GROWTH = 0.15
TARGET_SWEEP_SPEEDUP = 1.8
"""A sweep on two local processes against one."""
SWEEP_FILE = Path(__file__).resolve().parents[1] / "scenarios" / "capacity_sweep.toml"


def stationsim_scenario(rate: float) -> sim.Scenario:
    """The pipeline as a stationsim scenario with Poisson arrivals at ``rate`` jobs per second."""
    def exponential(mean: float) -> dict[str, Any]:
        return {"dist": "exponential", "mean": mean}

    execution = next(pool for pool in PIPELINE if pool.stage == "execution")
    return sim.Scenario.from_dict({
        "name": "bench",
        "arrivals": {"rate": rate},
        "stages": {pool.stage: {"workers": pool.servers, "duration": exponential(pool.mean)}
                   for pool in PIPELINE if pool is not execution},
        "hardware": {"instruments": execution.servers, "execution_time": exponential(execution.mean)},
    }, source="<benchmark>")


def everything_on(rate: float) -> sim.Scenario:
    """The same pipeline with every kind of trouble the model knows: 5% aborts, failures in every stage,
    instrument errors, hangs caught by a timeout and outages, recalibration twice a day, and restarts every
    few hours (requeue). The run also writes the results database to disk."""
    stages = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")
    return stationsim_scenario(rate).with_values({
        "aborts": {"probability": 0.05, "delay": {"dist": "exponential", "mean": "30s"}},
        "failures": {stage: {"probability": 0.005, "after_end": 0.2} for stage in stages},
        "hardware.execution_timeout": "1min",
        "hardware.faults": {"error_probability": 0.01, "hang_probability": 0.001, "reset_after_hang": "10s",
                            "mean_time_between_outages": "6h", "mean_repair_time": "10min"},
        "calibration": {"times_of_day": ["00:45", "14:15"], "duration": "10min"},
        "restarts": {"mean_time_between": "3h", "downtime": "1min", "policy": "requeue"},
    })


# --- the reference model ------------------------------------------------------------------------------------

ReferencePools = list[tuple[simpy.Resource, PoolSpec]]
Process = Generator[simpy.Event, Any, None]


def run_reference(jobs: int, rate: float, seed: int) -> TimesArray:
    """The pipeline as one would write it in bare SimPy; returns each job's time at each status."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    times = np.full((jobs, N_STATUSES), np.nan)
    pools = [(simpy.Resource(env, capacity=spec.servers), spec) for spec in PIPELINE]
    env.process(_reference_arrivals(env, jobs, rate, rng, pools, times))
    env.run()
    return times


def _reference_arrivals(env: simpy.Environment, jobs: int, rate: float, rng: np.random.Generator,
                        pools: ReferencePools, times: TimesArray) -> Process:
    for job in range(jobs):
        yield env.timeout(rng.exponential(1.0 / rate))
        env.process(_reference_job(env, job, rng, pools, times))


def _reference_job(env: simpy.Environment, job: int, rng: np.random.Generator, pools: ReferencePools,
                   times: TimesArray) -> Process:
    times[job, JobStatus.RECEIVED.code] = env.now
    for pool, spec in pools:
        if spec.waiting is not None:
            times[job, spec.waiting.code] = env.now
        with pool.request() as request:
            yield request
            times[job, spec.started.code] = env.now
            yield env.timeout(rng.exponential(spec.mean))
        times[job, spec.started.code + 1] = env.now
    times[job, JobStatus.READY.code] = env.now


# --- measurements (each in a fresh process) -----------------------------------------------------------------

CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


@dataclass(frozen=True)
class Task:
    """One measurement: a model run ``repeats`` times on ``jobs`` jobs at ``load`` x capacity."""

    model: str
    """``reference`` or ``stationsim``."""
    jobs: int
    load: float
    repeats: int
    clock: str
    """The clock of ``Measurement.seconds``: ``cpu`` or ``wall``."""
    count_events: bool = False
    """Count the run's SimPy events too (one more, untimed, run)."""
    collect_garbage: bool = True
    """False runs with Python's cyclic garbage collector off."""
    seed: int = 1

    @property
    def label(self) -> str:
        gc_off = ", gc off" if not self.collect_garbage else ""
        return f"{self.model} {self.jobs:,} @{self.load:g}x{gc_off}"


@dataclass(frozen=True)
class Measurement:
    task: Task
    seconds: float
    """Best time of the repeats on the task's clock."""
    wall_seconds: float
    """Best wall-clock time of the repeats."""
    events: int | None
    """SimPy events of one run, if counted."""
    waits: int
    """Times a job joined a queue and got its server later, not at once."""
    completed: int
    """Jobs that reached READY."""
    mean_sojourn: float
    """Mean simulated seconds from RECEIVED to READY."""
    peak_in_system: int
    """Most jobs between RECEIVED and READY at once."""
    peak_mb: float
    base_mb: float
    """Resident set after the imports, before the first run."""

    @property
    def jobs_per_second(self) -> float:
        return self.task.jobs / self.seconds

    @property
    def us_per_job(self) -> float:
        return 1e6 * self.seconds / self.task.jobs

    @property
    def us_per_event(self) -> float:
        return 1e6 * self.seconds / self.events if self.events else math.nan

    @property
    def events_per_job(self) -> float:
        return self.events / self.task.jobs if self.events else math.nan

    @property
    def run_mb(self) -> float:
        """Memory the run added to the baseline."""
        return self.peak_mb - self.base_mb


@dataclass(frozen=True)
class StoreCost:
    jobs: int
    run_seconds: float
    """Best time of the simulation runs."""
    write_seconds: float
    """Best time of the writes, each into a new database."""
    write_wall_seconds: float
    streamed_seconds: float
    """Best time of the runs that wrote their results while running (``simulate(..., store=path)``)."""
    rows: int
    run_wall_seconds: float
    streamed_wall_seconds: float

    @property
    def fraction(self) -> float:
        """Writing a finished run afterwards (``write_run``), as a fraction of the run."""
        return self.write_seconds / self.run_seconds

    @property
    def streamed_fraction(self) -> float:
        """What writing while running adds to the run (the writer process's work overlaps it), on the wall
        clock: the time a user waits longer. The target applies to this, the command line's way."""
        return self.streamed_wall_seconds / self.run_wall_seconds - 1


def _rss_mb() -> float:
    """Peak resident set of this process so far, in MB (ru_maxrss is in KB on Linux, in bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _prepare(task: Task) -> Callable[[], TimesArray]:
    """A run of ``task``'s model, ready to time, returning its (jobs, statuses) array of times; the
    scenario is built beforehand, out of the timing."""
    rate = task.load * CAPACITY
    if task.model == "reference":
        return lambda: run_reference(task.jobs, rate, task.seed)
    if task.model == "stationsim, everything on":
        full = everything_on(rate)
        folder = Path(tempfile.mkdtemp(prefix="stationsim-bench-"))
        runs = itertools.count()
        return lambda: sim.simulate(full, seed=task.seed, jobs=task.jobs,
                                    store=folder / f"run{next(runs)}.sqlite").times
    scenario = stationsim_scenario(rate)
    return lambda: sim.simulate(scenario, seed=task.seed, jobs=task.jobs).times


def count_simpy_events(task: Task) -> int:
    """SimPy events scheduled (and so processed: every run ends with an empty event queue) in one run of
    ``task``, counted by wrapping ``simpy.Environment.schedule``, the one way into the event queue."""
    schedule = simpy.Environment.schedule
    scheduled = 0

    def counting_schedule(env: simpy.Environment, event: simpy.Event, priority: Any = NORMAL,
                          delay: float = 0) -> None:
        nonlocal scheduled
        scheduled += 1
        schedule(env, event, priority, delay)

    run = _prepare(task)
    with mock.patch.object(simpy.Environment, "schedule", counting_schedule):
        run()
    return scheduled


def count_waits(times: TimesArray) -> int:
    """Queue waits: a pool's start status reached later than the status on joining its queue."""
    return sum(int(np.count_nonzero(times[:, started] > times[:, joined])) for joined, started in QUEUE_ENTRIES)


def peak_in_system(times: TimesArray) -> int:
    """The most jobs received and not yet ready at any one time."""
    received = np.sort(times[:, JobStatus.RECEIVED.code])
    ready = np.sort(times[:, JobStatus.READY.code])
    left_before = np.searchsorted(ready, received, side="right")  # ready at or before each receipt
    return int(np.max(np.arange(1, len(received) + 1) - left_before))


def measure(task: Task) -> Measurement:
    """Run ``task`` in the calling process (a fresh one: see ``in_fresh_process``) and summarise it."""
    if not task.collect_garbage:
        gc.disable()
    _prepare(Task(task.model, min(task.jobs, WARM_UP_JOBS), task.load, 1, task.clock))()
    gc.collect()
    base_mb = _rss_mb()
    clock = CLOCKS[task.clock]
    run = _prepare(task)
    best = best_wall = math.inf
    times: TimesArray | None = None
    for _ in range(task.repeats):
        times = None  # free the previous run's records before the next run,
        gc.collect()  # and whatever it left in reference cycles: each run's peak is its own
        started, started_wall = clock(), time.perf_counter()
        times = run()
        best, best_wall = min(best, clock() - started), min(best_wall, time.perf_counter() - started_wall)
    assert times is not None
    peak_mb = _rss_mb()
    ready = times[:, JobStatus.READY.code]
    done = ~np.isnan(ready)
    waits, completed, most = count_waits(times), int(done.sum()), peak_in_system(times)
    mean_sojourn = float(np.mean(ready[done] - times[done, JobStatus.RECEIVED.code]))
    del times, ready, done  # the counting run needs the memory more
    events = count_simpy_events(task) if task.count_events else None
    return Measurement(task=task, seconds=best, wall_seconds=best_wall, events=events, waits=waits,
                       completed=completed, mean_sojourn=mean_sojourn, peak_in_system=most, peak_mb=peak_mb,
                       base_mb=base_mb)


def measure_store(task: Task) -> StoreCost:
    """Time stationsim on ``task``, writing its results to a new database afterwards, and running it with the
    results written as it runs; each the best of the repeats."""
    scenario = stationsim_scenario(task.load * CAPACITY)
    clock = CLOCKS[task.clock]
    sim.simulate(scenario, seed=task.seed, jobs=min(task.jobs, WARM_UP_JOBS))
    run_seconds = run_wall = write_seconds = write_wall = streamed_seconds = streamed_wall = math.inf
    for _ in range(task.repeats):
        gc.collect()
        started, started_wall = clock(), time.perf_counter()
        result = sim.simulate(scenario, seed=task.seed, jobs=task.jobs)
        run_seconds = min(run_seconds, clock() - started)
        run_wall = min(run_wall, time.perf_counter() - started_wall)
    with tempfile.TemporaryDirectory(prefix="stationsim-bench-") as folder:
        for attempt in range(task.repeats):
            started, started_wall = clock(), time.perf_counter()
            connection = sim.results.store.connect(Path(folder) / f"written-after-{attempt}.sqlite")
            sim.results.store.write_run(connection, result)
            connection.close()
            write_seconds = min(write_seconds, clock() - started)
            write_wall = min(write_wall, time.perf_counter() - started_wall)
        for attempt in range(task.repeats):
            gc.collect()
            started, started_wall = clock(), time.perf_counter()
            sim.simulate(scenario, seed=task.seed, jobs=task.jobs, store=Path(folder) / f"streamed-{attempt}.sqlite")
            streamed_seconds = min(streamed_seconds, clock() - started)
            streamed_wall = min(streamed_wall, time.perf_counter() - started_wall)
    rows = task.jobs  # one row per job: its status times are columns of it (transitions is a view)
    return StoreCost(jobs=task.jobs, run_seconds=run_seconds, write_seconds=write_seconds,
                     write_wall_seconds=write_wall, streamed_seconds=streamed_seconds, rows=rows,
                     run_wall_seconds=run_wall, streamed_wall_seconds=streamed_wall)


def in_fresh_process(function: Callable[[Arg], Out], argument: Arg) -> Out:
    """``function(argument)`` in a new spawned interpreter, so that its peak memory and heap are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as executor:
        return executor.submit(function, argument).result()


# --- the benchmark and its report ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    jobs: int
    scale: tuple[int, ...]
    repeats: int
    clock: str


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def _figure(name: str, value: str, target: str = "", verdict: str = "") -> str:
    return f"  {name:<46} {value:>24}  {target:<9} {verdict}".rstrip()


def _number(value: float, width: int, decimals: int) -> str:
    """``value`` right-aligned in ``width`` characters; a dash if it was not measured (NaN)."""
    return "-".rjust(width) if math.isnan(value) else f"{value:{width}.{decimals}f}"


def run_benchmark(settings: Settings, log: Callable[[str], None]) -> list[str]:
    """Every measurement, then the table of figures and targets, as lines of text."""
    cache: dict[Task, Measurement] = {}

    def timed(model: str, jobs: int, load: float, count_events: bool = False,
              collect_garbage: bool = True) -> Measurement:
        repeats = 1 if jobs >= LONG_RUN_JOBS else settings.repeats
        task = Task(model, jobs, load, repeats, settings.clock, count_events, collect_garbage)
        if task not in cache:
            counting = ", then counting events" if count_events else ""
            log(f"  {task.label:<34} best of {repeats}{counting} ...")
            m = cache[task] = in_fresh_process(measure, task)
            log(f"    {m.seconds:.2f} s {settings.clock} ({m.wall_seconds:.2f} s wall), {m.jobs_per_second:,.0f} "
                f"jobs/s, peak {m.peak_mb:,.0f} MB")
        return cache[task]

    n = settings.jobs
    reference = timed("reference", n, UNDER_LOAD, count_events=True)
    station = timed("stationsim", n, UNDER_LOAD, count_events=True)
    full = timed("stationsim, everything on", n, UNDER_LOAD)
    scale = [station if size == n else timed("stationsim", size, UNDER_LOAD) for size in settings.scale]
    reference_over = timed("reference", n, OVER_LOAD, count_events=True)
    short_over = timed("stationsim", max(n // 10, 1), OVER_LOAD, count_events=True)
    over = timed("stationsim", n, OVER_LOAD, count_events=True)
    over_no_gc = timed("stationsim", n, OVER_LOAD, count_events=True, collect_garbage=False)
    sweep_jobs = max(n // 20, 500)
    log(f"  capacity sweep, 80 runs of {sweep_jobs:,} jobs, on 1 and 2 processes ...")
    sweeps = [sweep_seconds(processes, sweep_jobs) for processes in (1, 2)]
    log(f"  store of stationsim {n:,} @{UNDER_LOAD:g}x     best of {settings.repeats} ...")
    store = in_fresh_process(measure_store, Task("stationsim", n, UNDER_LOAD, settings.repeats, settings.clock))

    ratio = station.jobs_per_second / reference.jobs_per_second
    full_ratio = full.jobs_per_second / reference.jobs_per_second
    per_job = [m.us_per_job for m in scale]
    spread = max(per_job) / min(per_job) - 1

    def growth(before: Measurement, after: Measurement) -> float:
        return after.us_per_event / before.us_per_event - 1

    lines = [
        "pipeline (servers x mean exponential service): "
        + ", ".join(f"{p.stage} {p.servers}x{p.mean:g}s" for p in PIPELINE),
        f"capacity {CAPACITY:g} jobs/s; Poisson arrivals at {UNDER_LOAD:g}x ({UNDER_LOAD * CAPACITY:g}/s) and, "
        f"overloaded, {OVER_LOAD:g}x ({OVER_LOAD * CAPACITY:g}/s); times on the {settings.clock} clock",
        "",
        f"  {'model jobs @load':<34} {'s':>6} {'wall s':>6} {'jobs/s':>7} {'us/job':>6} {'ev/job':>6} "
        f"{'us/ev':>5} {'waits/job':>9} {'sojourn':>8} {'max in sys':>10} {'peak MB':>7} {'run MB':>6}",
    ]
    for m in dict.fromkeys((reference, station, full, *scale, reference_over, short_over, over, over_no_gc)):
        lines.append(
            f"  {m.task.label:<34} {m.seconds:6.2f} {m.wall_seconds:6.2f} {m.jobs_per_second:7,.0f} "
            f"{m.us_per_job:6.1f} {_number(m.events_per_job, 6, 2)} {_number(m.us_per_event, 5, 2)} "
            f"{m.waits / m.task.jobs:9.2f} {m.mean_sojourn:7.3g}s {m.peak_in_system:10,} {m.peak_mb:7,.0f} "
            f"{m.run_mb:6,.0f}")
    unfinished = [m.task.label for m in cache.values()
                  if m.completed != m.task.jobs and m.task.model != "stationsim, everything on"]  # it fails some
    if unfinished:
        lines.append(f"  WARNING: jobs left unfinished in {', '.join(unfinished)}")
    lines += [
        "",
        _figure("figure", "value", "target", "verdict"),
        _figure(f"reference, stationsim jobs/s at {n:,} jobs",
                f"{reference.jobs_per_second:,.0f}, {station.jobs_per_second:,.0f}"),
        _figure("stationsim / reference", f"{ratio:.2f}x", f">= {TARGET_RATIO:g}x", _verdict(ratio >= TARGET_RATIO)),
        _figure("stationsim with everything on / reference", f"{full_ratio:.2f}x", f">= {TARGET_FULL_RATIO:g}x",
                _verdict(full_ratio >= TARGET_FULL_RATIO)),
        _figure("peak memory, reference / stationsim", f"{reference.peak_mb:,.0f} / {station.peak_mb:,.0f} MB"),
        _figure("  added by the run, per job",
                f"{1e6 * reference.run_mb / n:,.0f} / {1e6 * station.run_mb / n:,.0f} B"),
        _figure(f"  stationsim at {scale[-1].task.jobs:,} jobs", f"{scale[-1].peak_mb:,.0f} MB peak, "
                f"{1e6 * scale[-1].run_mb / scale[-1].task.jobs:,.0f} B/job"),
        _figure("us/job at " + ", ".join(f"{m.task.jobs:,}" for m in scale), " / ".join(f"{x:.1f}" for x in per_job)),
        _figure("scale spread (slowest / fastest - 1)", f"{spread:+.1%}", f"<= {TARGET_SPREAD:.0%}",
                _verdict(spread <= TARGET_SPREAD)),
        _figure(f"store write of {store.rows:,} job rows; run", f"{store.write_seconds:.2f} s "
                f"({store.write_wall_seconds:.2f} s wall); {store.run_seconds:.2f} s"),
        _figure("run --out: writing while running adds (wall clock)", f"{store.streamed_fraction:+.1%}",
                f"<= +{TARGET_STORE_FRACTION:.0%}", _verdict(store.streamed_fraction <= TARGET_STORE_FRACTION)),
        _figure("  write_run of a finished run / the run (cpu)", f"{store.fraction:.1%}"),
        _figure(f"us/event at {UNDER_LOAD:g}x, {OVER_LOAD:g}x ({n:,} jobs)",
                f"{station.us_per_event:.2f}, {over.us_per_event:.2f}"),
        _figure(f"cost per event, {OVER_LOAD:g}x vs {UNDER_LOAD:g}x", f"{growth(station, over):+.1%}",
                f"<= +{TARGET_OVERLOAD_GROWTH:.0%}", _verdict(growth(station, over) <= TARGET_OVERLOAD_GROWTH)),
        _figure(f"  {OVER_LOAD:g}x, {short_over.task.jobs:,} -> {n:,} jobs (queues x10)",
                f"{growth(short_over, over):+.1%}"),
        _figure(f"  {OVER_LOAD:g}x vs {UNDER_LOAD:g}x with the cyclic gc off", f"{growth(station, over_no_gc):+.1%}"),
        _figure(f"  reference, {OVER_LOAD:g}x vs {UNDER_LOAD:g}x", f"{growth(reference, reference_over):+.1%}"),
        _figure(f"sweep of 80 runs x {sweep_jobs:,} jobs, 1 / 2 processes",
                f"{sweeps[0]:.1f} / {sweeps[1]:.1f} s wall"),
        _figure("  speed-up on 2 processes", f"{sweeps[0] / sweeps[1]:.2f}x", f">= {TARGET_SWEEP_SPEEDUP:g}x",
                _verdict(sweeps[0] / sweeps[1] >= TARGET_SWEEP_SPEEDUP)),
    ]
    return lines


def sweep_seconds(processes: int, jobs: int) -> float:
    """Wall seconds of the bundled capacity sweep (16 points x 5 replications of ``jobs`` jobs) on a local pool
    of ``processes`` processes (1: in this process)."""
    from sim.experiments.executors import open_executor
    from sim.experiments.replications import Warmup
    from sim.experiments.sweeps import Sweep, run_sweep

    sweep = Sweep.from_toml(SWEEP_FILE).with_changes(jobs=jobs, warmup=Warmup(jobs=jobs // 10))
    with open_executor(processes) as executor:
        started = time.perf_counter()
        run_sweep(sweep, executor)
        return time.perf_counter() - started


def profile(jobs: int, top: int = 15) -> str:
    """cProfile of one stationsim run of ``jobs`` jobs under capacity: the ``top`` functions by own time."""
    scenario = stationsim_scenario(UNDER_LOAD * CAPACITY)
    profiler = cProfile.Profile()
    profiler.runcall(sim.simulate, scenario, seed=1, jobs=jobs)
    sink = _TextSink()
    pstats.Stats(profiler, stream=sink).strip_dirs().sort_stats("tottime").print_stats(top)  # type: ignore[arg-type]
    return sink.text()


class _TextSink:
    """A file-like object that keeps what ``pstats`` writes to it."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def text(self) -> str:
        return "".join(self._parts).strip("\n")


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _counts(text: str) -> tuple[int, ...]:
    sizes = tuple(_count(part) for part in text.split(","))
    if len(sizes) < 2:
        raise argparse.ArgumentTypeError(f"expected at least two job counts separated by commas, got {text!r}")
    return sizes


def _load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark stationsim against a bare SimPy reference model.")
    parser.add_argument("--jobs", type=_count, help="jobs of the model comparison, store and overload runs "
                        "(default 100,000; 5,000 with --quick)")
    parser.add_argument("--scale", type=_counts, help="job counts of stationsim's scale series "
                        "(default 10000,100000,1000000; 5000,20000 with --quick)")
    parser.add_argument("--repeats", type=_count, default=3, help="runs of each measurement under "
                        f"{LONG_RUN_JOBS:,} jobs, the best counted (default 3)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="time the figures by process CPU time (default) or wall-clock time")
    parser.add_argument("--quick", action="store_true", help="small job counts: a smoke run of a few seconds")
    parser.add_argument("--profile", action="store_true",
                        help="instead of benchmarking, print a cProfile of one stationsim run of --jobs jobs")
    args = parser.parse_args(argv)
    jobs: int = args.jobs or (5_000 if args.quick else 100_000)
    if args.profile:
        print(profile(jobs))
        return 0
    scale: tuple[int, ...] = args.scale or ((5_000, 20_000) if args.quick else (10_000, 100_000, 1_000_000))
    settings = Settings(jobs=jobs, scale=scale, repeats=args.repeats, clock=args.clock)
    print(f"stationsim {sim.__version__} benchmark: Python {sys.version.split()[0]}, SimPy {simpy.__version__}, "
          f"numpy {np.__version__}, {os.cpu_count()} cores, load average {_load_average()}; "
          "each measurement in a fresh process", flush=True)
    started = time.perf_counter()
    lines = run_benchmark(settings, log=lambda text: print(text, flush=True))
    print("\n".join(["", *lines, "", f"benchmark took {time.perf_counter() - started:.0f} s; "
                     f"load average at the end {_load_average()}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
