"""Benchmark of stationsim against a bare SimPy reference model of the same pipeline.

    python benchmarks/bench.py [--jobs N] [--scale 10000,100000,1000000] [--repeats R] [--quick]
    python benchmarks/bench.py --profile [--jobs N]

Both models run one pipeline (``PIPELINE`` below): Poisson arrivals, then six pools in series (validation,
calibration, compilation, save_metadata, the instruments, post_processing), each with a fixed number of
servers and exponential service times, loaded at ``UNDER_LOAD`` of the bottleneck's capacity so that queues
form. The reference is the plain SimPy way of writing it (``run_reference``): one ``simpy.Resource`` per pool,
a request per stage, a scalar draw from its own ``numpy`` Generator per service time, and one timestamp per
status in a preallocated ``(jobs, 18)`` array. stationsim runs the same figures through ``sim.simulate`` on a
scenario built with ``sim.Scenario.from_dict`` (``stationsim_scenario``).

What is measured, against the targets of DESIGN.md (section Performance):

- throughput: jobs per wall-clock second of each model at ``--jobs`` jobs, and their ratio (target >= 1);
- peak memory: every measurement runs in a fresh ``spawn``-ed process, which reports its peak resident set
  (``getrusage(RUSAGE_SELF).ru_maxrss``) and the resident set after its imports; the table gives the peak and
  what the run added to that baseline;
- scale: stationsim's wall time per job at each ``--scale`` size; spread = slowest / fastest - 1 (target
  <= 15%);
- store: ``sim.store.connect`` + ``sim.store.write_run`` of the ``--jobs`` run into a temporary folder, as a
  fraction of the run's own wall time (target <= 15%);
- overload: stationsim at ``OVER_LOAD`` x capacity, where the queues grow without bound, in wall time per
  event against the under-capacity run of as many jobs (target: not growing, i.e. <= +15%). An *event* is
  one SimPy event (a timeout, a granted request, a process starting or ending): after its timed runs, a
  measurement counts them in one more, untimed, run with ``Environment.schedule`` wrapped by a counter. A job
  that waits for a server costs events that one served at once does not, so cost per job grows with load;
  cost per event must not. The SimPy reference is run overloaded too, for information.

Timings are wall clock (``time.perf_counter``) around the whole run (building the model, drawing, running),
the best of several repeats for runs under ``LONG_RUN_JOBS`` jobs and a single run above. Measurements run
one after another, never side by side, so they do not compete for the machine's cores.
"""

from __future__ import annotations

import argparse
import cProfile
import math
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

import numpy as np
import numpy.typing as npt
import simpy

import sim
import sim.store
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
    """A status reached on entering the pool's queue, when it is not the end of the previous stage."""

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
"""(status on joining a pool's queue, status on getting a server) for every pool, as column indices."""

LONG_RUN_JOBS = 500_000
TARGET_SPREAD = 0.15
TARGET_STORE_FRACTION = 0.15
TARGET_OVERLOAD_GROWTH = 0.15
TARGET_RATIO = 1.0


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


# --- the reference model ------------------------------------------------------------------------------------


def run_reference(jobs: int, rate: float, seed: int) -> TimesArray:
    """The pipeline as one would write it in bare SimPy; returns each job's time at each status."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    times = np.full((jobs, N_STATUSES), np.nan)
    pools = [(simpy.Resource(env, capacity=spec.servers), spec) for spec in PIPELINE]
    env.process(_reference_arrivals(env, jobs, rate, rng, pools, times))
    env.run()
    return times


ReferencePools = list[tuple[simpy.Resource, PoolSpec]]


def _reference_arrivals(env: simpy.Environment, jobs: int, rate: float, rng: np.random.Generator,
                        pools: ReferencePools, times: TimesArray) -> Generator[simpy.Event, Any, None]:
    for job in range(jobs):
        yield env.timeout(rng.exponential(1.0 / rate))
        env.process(_reference_job(env, job, rng, pools, times))


def _reference_job(env: simpy.Environment, job: int, rng: np.random.Generator, pools: ReferencePools,
                   times: TimesArray) -> Generator[simpy.Event, Any, None]:
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


@dataclass(frozen=True)
class Task:
    """One measurement: a model run ``repeats`` times on ``jobs`` jobs at ``load`` x capacity."""

    model: str
    """``reference`` or ``stationsim``."""
    jobs: int
    load: float
    repeats: int
    count_events: bool = False
    """Count the run's SimPy events too (one more, untimed, run)."""
    seed: int = 1


@dataclass(frozen=True)
class Measurement:
    task: Task
    seconds: float
    """Best wall time of the repeats."""
    events: int | None
    """SimPy events of one run, if counted."""
    waits: int
    """Times a job joined a queue and got its server later (not at once)."""
    completed: int
    """Jobs that reached READY."""
    mean_sojourn: float
    """Mean simulated seconds from RECEIVED to READY."""
    peak_in_system: int
    """Most jobs between RECEIVED and READY at once."""
    peak_mb: float
    base_mb: float
    """Resident set after imports, before the first run."""

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


@dataclass(frozen=True)
class StoreCost:
    jobs: int
    run_seconds: float
    write_seconds: float
    """Best of the repeats, each into a new database."""
    rows: int

    @property
    def fraction(self) -> float:
        return self.write_seconds / self.run_seconds


def _rss_mb() -> float:
    """Peak resident set of this process so far, in MB (ru_maxrss is in KB on Linux, in bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _run_model(task: Task) -> tuple[float, TimesArray]:
    """One timed run of ``task``: its wall time and its (jobs, statuses) array of times."""
    rate = task.load * CAPACITY
    if task.model == "reference":
        started = time.perf_counter()
        times = run_reference(task.jobs, rate, task.seed)
        return time.perf_counter() - started, times
    scenario = stationsim_scenario(rate)
    started = time.perf_counter()
    result = sim.simulate(scenario, seed=task.seed, jobs=task.jobs)
    return time.perf_counter() - started, result.times


def count_simpy_events(task: Task) -> int:
    """SimPy events scheduled (and so processed: every run ends with an empty event queue) in one run of
    ``task``, counted by wrapping ``simpy.Environment.schedule``, the one way into the event queue."""
    schedule = simpy.Environment.schedule
    scheduled = 0

    def counting_schedule(env: simpy.Environment, event: simpy.Event, priority: Any = simpy.core.NORMAL,
                          delay: float = 0) -> None:
        nonlocal scheduled
        scheduled += 1
        schedule(env, event, priority, delay)

    simpy.Environment.schedule = counting_schedule  # type: ignore[method-assign]
    try:
        _run_model(task)
    finally:
        simpy.Environment.schedule = schedule  # type: ignore[method-assign]
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
    """Run ``task`` (in the calling process) and summarise it."""
    base_mb = _rss_mb()
    best = math.inf
    times: TimesArray | None = None
    for _ in range(task.repeats):
        times = None  # free the previous run's records before the next run
        seconds, times = _run_model(task)
        best = min(best, seconds)
    assert times is not None
    peak_mb = _rss_mb()
    ready = times[:, JobStatus.READY.code]
    done = ~np.isnan(ready)
    waits, completed, most = count_waits(times), int(done.sum()), peak_in_system(times)
    mean_sojourn = float(np.mean(ready[done] - times[done, JobStatus.RECEIVED.code]))
    del times, ready, done  # the counting run needs the memory more
    events = count_simpy_events(task) if task.count_events else None
    return Measurement(task=task, seconds=best, events=events, waits=waits, completed=completed,
                       mean_sojourn=mean_sojourn, peak_in_system=most, peak_mb=peak_mb, base_mb=base_mb)


def measure_store(task: Task) -> StoreCost:
    """Time stationsim on ``task`` and writing its results, each the best of ``task.repeats``."""
    scenario = stationsim_scenario(task.load * CAPACITY)
    run_seconds = math.inf
    for _ in range(task.repeats):
        started = time.perf_counter()
        result = sim.simulate(scenario, seed=task.seed, jobs=task.jobs)
        run_seconds = min(run_seconds, time.perf_counter() - started)
    best = math.inf
    with tempfile.TemporaryDirectory(prefix="stationsim-bench-") as folder:
        for attempt in range(task.repeats):
            started = time.perf_counter()
            connection = sim.store.connect(Path(folder) / f"results-{attempt}.sqlite")
            sim.store.write_run(connection, result)
            connection.close()
            best = min(best, time.perf_counter() - started)
    rows = task.jobs + int(np.count_nonzero(~np.isnan(result.times)))
    return StoreCost(jobs=task.jobs, run_seconds=run_seconds, write_seconds=best, rows=rows)


def in_fresh_process(function: Callable[[Arg], Out], argument: Arg) -> Out:
    """``function(argument)`` in a new spawned interpreter, so that its peak memory and heap are its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as executor:
        return executor.submit(function, argument).result()


# --- the report ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    jobs: int
    scale: tuple[int, ...]
    repeats: int


def repeats_for(jobs: int, repeats: int) -> int:
    return 1 if jobs >= LONG_RUN_JOBS else repeats


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def _row(name: str, value: str, target: str = "", verdict: str = "") -> str:
    return f"  {name:<44} {value:>22}  {target:<14} {verdict}"


def run_benchmark(settings: Settings, log: Callable[[str], None]) -> list[str]:
    """Every measurement, then the table of figures and targets as lines of text."""
    cache: dict[Task, Measurement] = {}

    def timed(model: str, jobs: int, load: float, count_events: bool = False) -> Measurement:
        task = Task(model, jobs, load, repeats_for(jobs, settings.repeats), count_events)
        if task not in cache:
            counting = ", then counting events" if count_events else ""
            log(f"  {model:<10} {jobs:>9,} jobs at {load:.1f} x capacity, best of {task.repeats}{counting} ...")
            cache[task] = in_fresh_process(measure, task)
            log(f"    {cache[task].seconds:8.2f} s  ({cache[task].jobs_per_second:,.0f} jobs/s, "
                f"peak {cache[task].peak_mb:,.0f} MB)")
        return cache[task]

    n = settings.jobs
    reference = timed("reference", n, UNDER_LOAD, count_events=True)
    station = timed("stationsim", n, UNDER_LOAD, count_events=True)
    scale = [station if size == n else timed("stationsim", size, UNDER_LOAD) for size in settings.scale]
    overloaded = timed("stationsim", n, OVER_LOAD, count_events=True)
    reference_overloaded = timed("reference", n, OVER_LOAD, count_events=True)
    log(f"  store      {n:>9,} jobs, best of {settings.repeats} writes ...")
    store = in_fresh_process(measure_store, Task("stationsim", n, UNDER_LOAD, settings.repeats))

    ratio = station.jobs_per_second / reference.jobs_per_second
    per_job = [m.us_per_job for m in scale]
    spread = max(per_job) / min(per_job) - 1
    growth = overloaded.us_per_event / station.us_per_event - 1
    reference_growth = reference_overloaded.us_per_event / reference.us_per_event - 1

    lines = [
        f"pipeline: {', '.join(f'{p.stage} {p.servers}x{p.mean:g}s' for p in PIPELINE)} (exponential); "
        f"capacity {CAPACITY:g} jobs/s",
        f"under capacity: Poisson {UNDER_LOAD * CAPACITY:g} jobs/s ({UNDER_LOAD:g} x); "
        f"overloaded: {OVER_LOAD * CAPACITY:g} jobs/s ({OVER_LOAD:g} x)",
        "",
        f"  {'model, jobs, load':<30} {'wall s':>7} {'jobs/s':>8} {'us/job':>7} {'events/job':>10} "
        f"{'us/event':>8} {'waits/job':>9} {'sojourn s':>9} {'max in sys':>10} {'peak MB':>8} {'+run MB':>8}",
    ]
    shown = dict.fromkeys((reference, station, *scale, reference_overloaded, overloaded))  # in order, once each
    for m in shown:
        label = f"{m.task.model} {m.task.jobs:,} @{m.task.load:g}x"
        lines.append(
            f"  {label:<30} {m.seconds:7.2f} {m.jobs_per_second:8,.0f} {m.us_per_job:7.1f} {m.events_per_job:10.2f} "
            f"{m.us_per_event:8.2f} {m.waits / m.task.jobs:9.2f} {m.mean_sojourn:9.3g} {m.peak_in_system:10,} "
            f"{m.peak_mb:8.0f} {m.peak_mb - m.base_mb:8.0f}")
    if any(m.completed != m.task.jobs for m in cache.values()):
        lines.append("  WARNING: a run left jobs unfinished")
    lines += [
        "",
        _row("figure", "value", "target", "verdict"),
        _row(f"reference jobs/s ({n:,} jobs)", f"{reference.jobs_per_second:,.0f}"),
        _row(f"stationsim jobs/s ({n:,} jobs)", f"{station.jobs_per_second:,.0f}"),
        _row("stationsim / reference", f"{ratio:.2f}x", f">= {TARGET_RATIO:g}x", _verdict(ratio >= TARGET_RATIO)),
        _row("peak memory reference / stationsim", f"{reference.peak_mb:,.0f} / {station.peak_mb:,.0f} MB"),
        _row("memory added by the run, per job", f"{1e6 * (reference.peak_mb - reference.base_mb) / n:,.0f} / "
             f"{1e6 * (station.peak_mb - station.base_mb) / n:,.0f} B"),
        _row("us/job at " + ", ".join(f"{s:,}" for s in settings.scale),
             " / ".join(f"{x:.1f}" for x in per_job)),
        _row("scale spread (slowest / fastest - 1)", f"{spread:+.1%}", f"<= {TARGET_SPREAD:.0%}",
             _verdict(spread <= TARGET_SPREAD)),
        _row(f"store write ({store.rows:,} rows)", f"{store.write_seconds:.2f} s of {store.run_seconds:.2f} s"),
        _row("store write / run", f"{store.fraction:.1%}", f"<= {TARGET_STORE_FRACTION:.0%}",
             _verdict(store.fraction <= TARGET_STORE_FRACTION)),
        _row(f"us/event {UNDER_LOAD:g}x -> {OVER_LOAD:g}x (stationsim)",
             f"{station.us_per_event:.2f} -> {overloaded.us_per_event:.2f}"),
        _row("overload cost per event growth", f"{growth:+.1%}", f"<= +{TARGET_OVERLOAD_GROWTH:.0%}",
             _verdict(growth <= TARGET_OVERLOAD_GROWTH)),
        _row("  (reference, for information)", f"{reference_growth:+.1%}"),
    ]
    return lines


def profile(jobs: int, top: int = 15) -> str:
    """cProfile of one stationsim run of ``jobs`` jobs under capacity: the ``top`` functions by own time."""
    scenario = stationsim_scenario(UNDER_LOAD * CAPACITY)
    profiler = cProfile.Profile()
    profiler.runcall(sim.simulate, scenario, seed=1, jobs=jobs)
    stream = _Lines()
    pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats("tottime").print_stats(top)  # type: ignore[arg-type]
    return stream.text()


class _Lines:
    """A text sink for ``pstats``, which writes to a file-like object."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def text(self) -> str:
        return "".join(self._parts).strip("\n")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected job counts separated by commas, got {text!r}") from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected at least two positive job counts, got {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, help="jobs in the model comparison, store and overload runs "
                        "(default 100,000; 5,000 with --quick)")
    parser.add_argument("--scale", type=_sizes, help="stationsim job counts of the scale series "
                        "(default 10000,100000,1000000; 2000,5000,20000 with --quick)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing under "
                        f"{LONG_RUN_JOBS:,} jobs, the best counted (default 3)")
    parser.add_argument("--quick", action="store_true", help="small job counts: a smoke run of a few seconds")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one stationsim run of "
                        "--jobs jobs instead of benchmarking")
    args = parser.parse_args(argv)
    jobs: int = args.jobs or (5_000 if args.quick else 100_000)
    if args.profile:
        print(profile(jobs))
        return 0
    scale: tuple[int, ...] = args.scale or ((2_000, 5_000, 20_000) if args.quick else (10_000, 100_000, 1_000_000))
    settings = Settings(jobs=jobs, scale=scale, repeats=args.repeats)
    print(f"stationsim {sim.__version__} benchmark; Python {sys.version.split()[0]}, SimPy {simpy.__version__}, "
          f"numpy {np.__version__}; each measurement in a fresh process", flush=True)
    started = time.perf_counter()
    lines = run_benchmark(settings, log=lambda text: print(text, flush=True))
    print("\n".join(["", *lines, "", f"benchmark wall time {time.perf_counter() - started:.0f} s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
