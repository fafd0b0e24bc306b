"""Benchmark of stationsim against the targets of issue 16 and DESIGN.md (section Performance).

    python benchmarks/bench.py [--jobs N] [--rounds R] [--quick]
    python benchmarks/bench.py --profile [SCENARIO] [--jobs N]

Both models run one pipeline (``PIPELINE``): Poisson arrivals at ``LOAD`` of the bottleneck's capacity, then six
pools in series (validation, calibration, compilation, save_metadata, the instruments, post_processing), each
with a fixed number of servers and exponential service times. stationsim runs it as a scenario (``SCENARIO``,
TOML); the reference (``run_reference``) is the same model in bare SimPy as a competent SimPy user writes it:
one ``simpy.Resource`` per pool, every inter-arrival and service time drawn before the run in one vectorised
numpy block per pool, plain int status codes, one timestamp per status in a plain list per status, bound to
local names on the hot path. (The first benchmark's reference drew one scalar per time, read enum properties
and indexed a 2-D array on the hot path, about 24% slower; it is gone.) The check "same model" compares the
per-stage mean waits and services of both over the timed runs (Welch's t-test per figure, Bonferroni).

Measured, each in a fresh spawned process (the timed ones one at a time; the memory ones side by side, which
does not disturb them), times on the CPU clock of every process of the run (the forked results writer included):

- speed: ``--rounds`` interleaved rounds (reference, stationsim, stationsim with everything on and the store on
  disk) of ``--jobs`` jobs, after a warm-up run of each; the ratios are medians over the rounds of the
  reference's time over the model's;
- memory kept: what the returned result holds after the run (``tracemalloc``, after a full collection), per job;
- streaming: the peak resident set of ``stationsim run --out`` at ``--jobs`` and 10x as many jobs;
- start-up: ``stationsim run scenarios/baseline.toml --jobs 10`` against ``python -c 'import numpy, simpy'``,
  medians of interleaved pairs of fresh interpreters, with every module's bytecode cached (as an installed
  package has it), and again as the environment runs them (``startup``).

The script always exits 0: it reports a missed target with its figure, it does not fail on it.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import math
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import tracemalloc
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
from sim import JobStatus

TimesArray = npt.NDArray[np.float64]
Arg = TypeVar("Arg")
Out = TypeVar("Out")
ROOT = Path(__file__).resolve().parents[1]

# --- the pipeline, as a scenario and as bare SimPy ------------------------------------------------------------


@dataclass(frozen=True)
class PoolSpec:
    """One pool of servers and the exponential service time of one job in it."""

    stage: str
    """Stage name in a stationsim scenario (``execution``: the instruments, in its ``[hardware]`` table)."""
    servers: int
    mean: float
    """Mean service time, seconds."""
    started: int
    """Code of the status reached on getting a server; the next code is reached when service ends."""
    waiting: int | None = None
    """Code of a status reached on joining the pool's queue, where that is not the end of the previous stage."""


PIPELINE = (
    PoolSpec("validation", 2, 0.7, JobStatus.VALIDATION_STARTED.code),
    PoolSpec("calibration", 2, 0.5, JobStatus.FETCH_CALIBRATION_STARTED.code),
    PoolSpec("compilation", 4, 1.6, JobStatus.COMPILATION_STARTED.code),
    PoolSpec("save_metadata", 4, 1.2, JobStatus.SAVE_SWEEP_METADATA_STARTED.code),
    PoolSpec("execution", 2, 1.0, JobStatus.EXECUTION_STARTED.code, waiting=JobStatus.PENDING_EXECUTION.code),
    PoolSpec("post_processing", 2, 0.8, JobStatus.POST_PROCESSING_STARTED.code,
             waiting=JobStatus.POST_PROCESSING_PENDING.code),
)
"""Utilisations at ``LOAD``: 0.56, 0.40, 0.64, 0.48, 0.80 (the instruments: the bottleneck), 0.64."""
CAPACITY = min(pool.servers / pool.mean for pool in PIPELINE)
LOAD = 0.8
RATE = LOAD * CAPACITY
RECEIVED, READY, N_STATUSES = JobStatus.RECEIVED.code, JobStatus.READY.code, len(JobStatus)
SCENARIO = "\n".join([
    'name = "bench"', f"arrivals = {{ rate = {RATE} }}",
    *(f'stages.{p.stage} = {{ workers = {p.servers}, duration = {{ dist = "exponential", mean = {p.mean} }} }}'
      for p in PIPELINE if p.stage != "execution"),
    *(f'hardware = {{ instruments = {p.servers}, execution_time = {{ dist = "exponential", mean = {p.mean} }} }}'
      for p in PIPELINE if p.stage == "execution"), ""])
"""The pipeline as a stationsim scenario file."""
EVERYTHING_ON = {
    "aborts": {"probability": 0.05, "delay": {"dist": "exponential", "mean": "30s"}},
    "failures": {p.stage: {"probability": 0.005, "after_end": 0.2} for p in PIPELINE},
    "hardware.execution_timeout": "1min",
    "hardware.faults": {"error_probability": 0.01, "hang_probability": 0.001, "reset_after_hang": "10s",
                        "mean_time_between_outages": "6h", "mean_repair_time": "10min"},
    "calibration": {"times_of_day": ["00:45", "14:15"], "duration": "10min"},
    "restarts": {"mean_time_between": "3h", "downtime": "1min", "policy": "requeue"},
}
"""Every kind of trouble the model knows: aborts, failures in every stage, instrument errors, hangs caught by a
timeout, outages, recalibration twice a day, restarts every few hours (requeue); run with the store on disk."""


def stationsim_scenario() -> sim.Scenario:
    return sim.Scenario.from_dict(tomllib.loads(SCENARIO), source="<benchmark>")


Process = Generator[simpy.Event, Any, None]
Stage = tuple[Callable[[], simpy.resources.resource.Request], list[float], list[float] | None, list[float],
              list[float]]
"""A pool's request method, each job's service time, and the time lists of its statuses (on joining its queue,
if any; on getting a server; on leaving it)."""


def run_reference(jobs: int, seed: int) -> TimesArray:
    """The pipeline in bare SimPy; returns each job's time at each status (jobs x statuses, NaN if never)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    gaps = rng.exponential(1.0 / RATE, jobs).tolist()
    columns: list[list[float]] = [[math.nan] * jobs for _ in range(N_STATUSES)]
    stages: list[Stage] = [
        (simpy.Resource(env, capacity=p.servers).request, rng.exponential(p.mean, jobs).tolist(),
         None if p.waiting is None else columns[p.waiting], columns[p.started], columns[p.started + 1])
        for p in PIPELINE]
    env.process(_reference_arrivals(env, gaps, stages, columns[RECEIVED], columns[READY]))
    env.run()
    return np.array(columns).T


def _reference_arrivals(env: simpy.Environment, gaps: list[float], stages: list[Stage], received: list[float],
                        ready: list[float]) -> Process:
    timeout, process = env.timeout, env.process
    for job, gap in enumerate(gaps):
        yield timeout(gap)
        process(_reference_job(env, job, stages, received, ready))


def _reference_job(env: simpy.Environment, job: int, stages: list[Stage], received: list[float],
                   ready: list[float]) -> Process:
    timeout = env.timeout
    received[job] = env.now
    for request, service, joined, started, ended in stages:
        if joined is not None:
            joined[job] = env.now
        with request() as granted:
            yield granted
            started[job] = env.now
            yield timeout(service[job])
        ended[job] = env.now
    ready[job] = env.now


def run_simpy_floor(jobs: int, seed: int) -> None:
    """SimPy's own cost of this pipeline: the arrivals and one process per job that waits out its six service times,
    with no pools, no queueing and no records. No model with one SimPy process per job and a timeout per service
    does less SimPy work (stationsim adds the grants of the jobs that queue, and its process's end), so the
    reference's time over this one bounds the ratio any such model can reach."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    gaps = rng.exponential(1.0 / RATE, jobs).tolist()
    services = [rng.exponential(p.mean, jobs).tolist() for p in PIPELINE]
    env.process(_floor_arrivals(env, gaps, services))
    env.run()


def _floor_arrivals(env: simpy.Environment, gaps: list[float], services: list[list[float]]) -> Process:
    timeout, process = env.timeout, env.process
    for job, gap in enumerate(gaps):
        yield timeout(gap)
        process(_floor_job(env, job, services))


def _floor_job(env: simpy.Environment, job: int, services: list[list[float]]) -> Process:
    timeout = env.timeout
    for service in services:
        yield timeout(service[job])


# --- one run of a model, on the CPU clock of all its processes --------------------------------------------------

MODELS = ("reference", "stationsim", "everything on", "SimPy floor")
SAME_MODELS = MODELS[:3]
"""The models that run the whole pipeline (the floor has no pools: it is timed, not compared)."""
WARM_UP_JOBS = 1_000


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the store's forked writer)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def runner(model: str, folder: Path) -> Callable[[int, int], Any]:
    """``run(jobs, seed)`` of ``model``, its scenario built beforehand; stationsim's runs return the result."""
    if model == "reference":
        return run_reference
    if model == "SimPy floor":
        return run_simpy_floor
    scenario = stationsim_scenario()
    if model == "stationsim":
        return lambda jobs, seed: sim.simulate(scenario, seed=seed, jobs=jobs)
    full = scenario.with_values(EVERYTHING_ON)
    return lambda jobs, seed: sim.simulate(full, seed=seed, jobs=jobs, store=folder / f"run-{seed}-{jobs}.sqlite")


def times_of(outcome: Any) -> TimesArray:
    return outcome if isinstance(outcome, np.ndarray) else outcome.times


def stage_means(times: TimesArray) -> list[float]:
    """Mean wait and mean service of each pool over the jobs that were served there."""
    means = []
    for p in PIPELINE:
        joined = times[:, p.started - 1 if p.waiting is None else p.waiting]
        started, ended = times[:, p.started], times[:, p.started + 1]
        served = ~np.isnan(ended)
        means += [float(np.mean(started[served] - joined[served])), float(np.mean(ended[served] - started[served]))]
    return means


@dataclass(frozen=True)
class Rounds:
    jobs: int
    cpu: dict[str, list[float]]
    wall: dict[str, list[float]]
    means: dict[str, list[list[float]]]
    """Per model and round: ``stage_means`` of the run."""
    events: dict[str, int]
    """SimPy events of one run of ``events_jobs`` jobs, per model."""
    events_jobs: int


def interleaved_rounds(settings: tuple[int, int]) -> Rounds:
    """Warm up every model, then ``rounds`` rounds of one run of each, on ``jobs`` jobs with the round's seed."""
    jobs, rounds = settings
    cpu: dict[str, list[float]] = {m: [] for m in MODELS}
    wall: dict[str, list[float]] = {m: [] for m in MODELS}
    means: dict[str, list[list[float]]] = {m: [] for m in MODELS}
    with tempfile.TemporaryDirectory(prefix="stationsim-bench-") as folder:
        runs = {model: runner(model, Path(folder)) for model in MODELS}
        for run in runs.values():
            run(WARM_UP_JOBS, 0)
        for seed in range(1, rounds + 1):
            for model, run in runs.items():
                gc.collect()
                started, started_wall = cpu_seconds(), time.perf_counter()
                outcome = run(jobs, seed)
                cpu[model].append(cpu_seconds() - started)
                wall[model].append(time.perf_counter() - started_wall)
                if model in SAME_MODELS:
                    means[model].append(stage_means(times_of(outcome)))
                del outcome
        events_jobs = min(jobs, 20_000)
        events = {model: count_simpy_events(runs[model], events_jobs) for model in (*MODELS[:2], MODELS[3])}
    return Rounds(jobs, cpu, wall, means, events, events_jobs)


def count_simpy_events(run: Callable[[int, int], Any], jobs: int) -> int:
    """SimPy events scheduled in ``run(jobs, 1)``, counted by wrapping ``Environment.schedule``, the one way into the
    event queue (every run ends with it empty, so every scheduled event is processed)."""
    schedule = simpy.Environment.schedule
    scheduled = 0

    def counting(env: simpy.Environment, event: simpy.Event, priority: Any = NORMAL, delay: float = 0) -> None:
        nonlocal scheduled
        scheduled += 1
        schedule(env, event, priority, delay)

    with mock.patch.object(simpy.Environment, "schedule", counting):
        run(jobs, 1)
    return scheduled


def memory_kept(settings: tuple[str, int]) -> tuple[float, float]:
    """Bytes per job that ``model``'s result holds once its run has ended, and the run's traced peak per job."""
    model, jobs = settings
    with tempfile.TemporaryDirectory(prefix="stationsim-bench-") as folder:
        run = runner(model, Path(folder))
        run(WARM_UP_JOBS, 0)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        outcome = run(jobs, 1)
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del outcome
    return (kept - before) / jobs, (peak - before) / jobs


def streaming_peak(jobs: int) -> float:
    """Peak resident set (MB) of ``stationsim run SCENARIO --jobs N --out DIR`` run in this fresh process."""
    from sim.cli.main import main

    with tempfile.TemporaryDirectory(prefix="stationsim-bench-") as folder:
        path = Path(folder) / "bench.toml"
        path.write_text(SCENARIO, encoding="utf-8")
        with contextlib.redirect_stdout(io.StringIO()):
            main(["run", str(path), "--jobs", str(jobs), "--out", str(Path(folder) / "out")])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KB on Linux


def in_fresh_process(function: Callable[[Arg], Out], argument: Arg) -> Out:
    """``function(argument)`` in a new spawned interpreter, so that its heap, peak memory and clocks are its own."""
    return in_fresh_processes([(function, argument)])[0]  # type: ignore[no-any-return]


def in_fresh_processes(calls: Sequence[tuple[Callable[[Any], Any], Any]]) -> list[Any]:
    """Each ``function(argument)`` of ``calls`` in a new spawned interpreter of its own, all at once: for
    measurements of memory, which other processes do not disturb (times are measured one process at a time)."""
    with ProcessPoolExecutor(max_workers=len(calls), mp_context=get_context("spawn"),
                             max_tasks_per_child=1) as executor:
        futures = [executor.submit(function, argument) for function, argument in calls]
        return [future.result() for future in futures]


# --- start-up ----------------------------------------------------------------------------------------------------

HEAVY = ("pandas", "matplotlib", "scipy", "dask", "distributed", "tqdm")


@dataclass(frozen=True)
class Startup:
    """Median wall seconds of a 10-job run and of ``import numpy, simpy``: with bytecode cached, and as the
    environment runs them; and the heavy modules such a run imports."""

    run: float
    imports: float
    run_as_is: float
    imports_as_is: float
    heavy: list[str]


def _startup_pairs(pairs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall seconds of a 10-job run and of ``import numpy, simpy`` over ``pairs`` interleaved pairs of fresh
    interpreters, after one untimed pair."""
    script = Path(sys.executable).with_name("stationsim")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "sim"]
    run = [*command, "run", "scenarios/baseline.toml", "--jobs", "10"]
    imports = [sys.executable, "-c", "import numpy, simpy"]
    seconds: dict[str, list[float]] = {"run": [], "imports": []}
    for _ in range(pairs + 1):
        for name, argv in (("run", run), ("imports", imports)):
            started = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
            seconds[name].append(time.perf_counter() - started)
    return statistics.median(seconds["run"][1:]), statistics.median(seconds["imports"][1:])


def startup(pairs: int) -> Startup:
    """The start-up figures, each over ``pairs`` interleaved pairs. "Bytecode cached" is how an installed package
    starts (pip compiles it; a source tree caches it on first import): here every module's bytecode, numpy's and
    SimPy's too, is cached in a temporary ``PYTHONPYCACHEPREFIX`` that the untimed first pair fills, so the source
    tree is not written. "As is" inherits the environment: with ``PYTHONDONTWRITEBYTECODE=1`` and a tree that was
    never compiled, every start compiles the project's source, while numpy and SimPy read their installed
    bytecode."""
    with tempfile.TemporaryDirectory(prefix="stationsim-pycache-") as cache:
        cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
            "PYTHONPYCACHEPREFIX": cache}
        run_s, imports_s = _startup_pairs(pairs, cached)
    run_as_is, imports_as_is = _startup_pairs(pairs, dict(os.environ))
    probe = ("import sys\nfrom sim.cli.main import main\nmain(['run', 'scenarios/baseline.toml', '--jobs', '10'])\n"
             f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    heavy = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True)
    return Startup(run_s, imports_s, run_as_is, imports_as_is, heavy.stdout.splitlines()[-1].split())


# --- the report -------------------------------------------------------------------------------------------------

TARGET_SPEED = 2.5
TARGET_FULL_SPEED = 1.5
TARGET_BYTES_PER_JOB = 150
TARGET_STREAMING_GROWTH = 0.10
"""Peak memory of run --out at 10x the jobs: at most this much more ("does not grow with the run")."""
TARGET_STARTUP = 0.15
SAME_MODEL_ALPHA = 0.01
"""Family-wise level of the "same model" check (Bonferroni over the stage figures)."""


def _verdict(ok: bool) -> str:
    return "met" if ok else "missed"


def _row(name: str, value: str, target: str = "", verdict: str = "") -> str:
    return f"  {name:<52} {value:>46}  {target:<9} {verdict}".rstrip()


def same_model_lines(rounds: Rounds) -> list[str]:
    """Per-stage means of the reference and of stationsim, and Welch's test of each difference."""
    from scipy import stats  # type: ignore[import-untyped]  # no stubs; here only, not in every measuring process

    ref, station = np.array(rounds.means["reference"]), np.array(rounds.means["stationsim"])
    tests = len(ref[0])
    p_values = [float(stats.ttest_ind(ref[:, k], station[:, k], equal_var=False).pvalue) for k in range(tests)]
    lines = [f"  same model? per-stage means over {len(ref)} runs of each (reference / stationsim, seconds):"]
    for i, pool in enumerate(PIPELINE):
        w, s = 2 * i, 2 * i + 1
        lines.append(f"    {pool.stage:<16} wait {ref[:, w].mean():7.3f} / {station[:, w].mean():7.3f} "
                     f"(p {p_values[w]:.2f})   service {ref[:, s].mean():6.3f} / {station[:, s].mean():6.3f} "
                     f"(p {p_values[s]:.2f})")
    smallest = min(p for p in p_values if not math.isnan(p))
    same = smallest * tests >= SAME_MODEL_ALPHA
    lines.append(f"    smallest p {smallest:.3f} over {tests} figures: "
                 + ("the same model" if same else f"DIFFERENT (below {SAME_MODEL_ALPHA:g} / {tests})"))
    return lines


def report(rounds: Rounds, kept: dict[str, tuple[float, float, int]], streaming: tuple[int, float, float],
           start: Startup) -> list[str]:
    n = rounds.jobs
    us = {m: 1e6 * statistics.median(rounds.cpu[m]) / n for m in MODELS}
    ratios = {m: [r / s for r, s in zip(rounds.cpu["reference"], rounds.cpu[m], strict=True)] for m in MODELS[1:]}
    speed, full, floor = (statistics.median(ratios[m]) for m in MODELS[1:])
    spread = {m: f"rounds {min(ratios[m]):.2f}-{max(ratios[m]):.2f}" for m in MODELS[1:]}
    lines = [f"  {'model':<16} {'us/job cpu':>10} {'us/job wall':>11} {'jobs/s':>8} {'events/job':>10} {'us/event':>8}"]
    for m in MODELS:
        events = rounds.events.get(m)
        per_job = f"{events / rounds.events_jobs:10.2f}" if events else f"{'-':>10}"
        per_event = f"{us[m] * rounds.events_jobs / events:8.2f}" if events else f"{'-':>8}"
        lines.append(f"  {m:<16} {us[m]:10.2f} {1e6 * statistics.median(rounds.wall[m]) / n:11.2f} "
                     f"{1e6 / us[m]:8,.0f} {per_job} {per_event}")
    small, large, small_mb, large_mb = streaming[0], 10 * streaming[0], streaming[1], streaming[2]
    growth = large_mb / small_mb - 1
    lines += ["", *same_model_lines(rounds), "",
              _row("target", "measured", "target", "verdict"),
              _row(f"speed: reference / stationsim, cpu ({len(rounds.cpu['reference'])} rounds, {n:,} jobs)",
                   f"{speed:.2f}x ({spread['stationsim']}; {us['reference']:.1f} vs {us['stationsim']:.1f} us/job)",
                   f">= {TARGET_SPEED:g}x",
                   _verdict(speed >= TARGET_SPEED)),
              _row("  SimPy's floor: reference / SimPy floor (its ceiling)",
                   f"{floor:.2f}x ({spread['SimPy floor']}; {us['SimPy floor']:.1f} us/job)"),
              _row("  everything on, store on disk, cpu of all processes",
                   f"{full:.2f}x ({spread['everything on']}; {us['everything on']:.1f} us/job)",
                   f">= {TARGET_FULL_SPEED:g}x",
                   _verdict(full >= TARGET_FULL_SPEED)),
              _row(f"memory per job kept after a run held in memory ({kept['stationsim'][2]:,} jobs)",
                   f"{kept['stationsim'][0]:,.0f} B (reference {kept['reference'][0]:,.0f} B)",
                   f"<= {TARGET_BYTES_PER_JOB} B", _verdict(kept["stationsim"][0] <= TARGET_BYTES_PER_JOB)),
              _row("  peak per job during that run",
                   f"{kept['stationsim'][1]:,.0f} B (reference {kept['reference'][1]:,.0f} B)",
                   f"<= {TARGET_BYTES_PER_JOB} B", _verdict(kept["stationsim"][1] <= TARGET_BYTES_PER_JOB)),
              _row(f"streaming run --out: peak RSS, {small:,} -> {large:,} jobs",
                   f"{small_mb:,.0f} -> {large_mb:,.0f} MB ({growth:+.0%}, "
                   f"{(large_mb - small_mb) * 2**20 / (large - small):,.0f} B/job)",
                   f"<= +{TARGET_STREAMING_GROWTH:.0%}", _verdict(growth <= TARGET_STREAMING_GROWTH)),
              _row("start-up: run --jobs 10 minus import numpy, simpy",
                   f"{start.run - start.imports:.3f} s ({start.run:.3f} vs {start.imports:.3f} s)",
                   f"<= {TARGET_STARTUP:g} s", _verdict(start.run - start.imports <= TARGET_STARTUP)),
              _row("  the same as this environment runs it (PYTHONDONTWRITEBYTECODE="
                   f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')})",
                   f"{start.run_as_is - start.imports_as_is:.3f} s ({start.run_as_is:.3f} vs "
                   f"{start.imports_as_is:.3f} s)"),
              _row("  heavy modules a run imports", " ".join(start.heavy) or "none")]
    return lines


def profile(jobs: int, path: str | None = None, top: int = 15) -> str:
    """cProfile of one stationsim run of ``jobs`` jobs of the pipeline (or of the scenario file at ``path``):
    the ``top`` functions by own time."""
    scenario = stationsim_scenario() if path is None else sim.load_scenario(path)
    profiler = cProfile.Profile()
    profiler.runcall(sim.simulate, scenario, seed=1, jobs=jobs)
    sink = io.StringIO()
    pstats.Stats(profiler, stream=sink).strip_dirs().sort_stats("tottime").print_stats(top)
    return sink.getvalue().strip("\n")


PIPELINE_NAME = "pipeline"
"""``--profile`` without a scenario file: the benchmark's pipeline."""


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    load = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return f"{os.cpu_count()} cores ({model or platform.machine()}), load average {load}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark stationsim against the targets of DESIGN.md.")
    parser.add_argument("--jobs", type=_count, help="jobs of each timed run and of the smaller streaming run "
                        "(default 100,000; 4,000 with --quick)")
    parser.add_argument("--rounds", type=_count, help="interleaved rounds of the speed comparison (default 5; 3 "
                        "with --quick)")
    parser.add_argument("--quick", action="store_true", help="small job counts: a smoke run under 30 s")
    parser.add_argument("--profile", nargs="?", const=PIPELINE_NAME, metavar="SCENARIO",
                        help="instead of benchmarking, print a cProfile of one stationsim run of --jobs jobs of the "
                        "pipeline, or of a scenario file")
    args = parser.parse_args(argv)
    jobs: int = args.jobs or (4_000 if args.quick else 100_000)
    if args.profile:
        print(profile(jobs, None if args.profile == PIPELINE_NAME else args.profile))
        return 0
    rounds_wanted: int = args.rounds or (3 if args.quick else 5)
    print(f"stationsim {sim.__version__} benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}: Python "
          f"{platform.python_version()}, SimPy {simpy.__version__}, numpy {np.__version__}; {_machine()}", flush=True)
    print("pipeline (servers x mean exponential service): "
          + ", ".join(f"{p.stage} {p.servers}x{p.mean:g}s" for p in PIPELINE)
          + f"; Poisson arrivals at {LOAD:g} of capacity ({RATE:g}/s)\n", flush=True)
    started = time.perf_counter()
    def progress(text: str) -> None:
        print(f"  {time.perf_counter() - started:5.1f} s  {text} ...", flush=True)

    progress(f"{rounds_wanted} interleaved rounds of {jobs:,} jobs")
    rounds = in_fresh_process(interleaved_rounds, (jobs, rounds_wanted))
    memory_jobs = max(jobs // 2, 2_000) if args.quick else jobs
    progress(f"memory kept at {memory_jobs:,} jobs, and streaming run --out at {jobs:,} and {10 * jobs:,} jobs, "
             "side by side")
    memory = in_fresh_processes([(memory_kept, ("reference", memory_jobs)), (memory_kept, ("stationsim", memory_jobs)),
                                 (streaming_peak, jobs), (streaming_peak, 10 * jobs)])
    kept = {"reference": (*memory[0], memory_jobs), "stationsim": (*memory[1], memory_jobs)}
    streaming = (jobs, memory[2], memory[3])
    progress("start-up")
    start = startup(4 if args.quick else 15)
    lines = report(rounds, kept, streaming, start)
    print("\n".join(["", *lines, "", f"benchmark took {time.perf_counter() - started:.0f} s; {_machine()}"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
