"""Benchmark of the execution queue's operations: each built-in scheduling policy with 1,000 to 100,000 jobs queued.

    python benchmarks/queues.py [--sizes 1000,10000,100000] [--operations 20000]

For each policy and queue size n, the queue is filled with n jobs (random priorities, users, projects and
expected execution times), then ``--operations`` rounds each take a job out (``pop``) and put a new one in
(``push``), so the queue stays at n; then as many ``position`` queries and ``remove`` + ``push`` pairs on random
waiting jobs. The table gives microseconds per operation (process CPU time). O(log n) operations grow by a small
constant from one size to the next (x10 jobs: log2 grows by 3.3); an O(n) one would grow tenfold.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from hardware_mock.calibration import CalibrationPlan, CalibrationSet
from sim.policies import BUILTIN, QueueContext, Window


def context(jobs: int, seed: int = 1) -> QueueContext:
    rng = np.random.default_rng(seed)
    plan = CalibrationPlan(times_of_day=(0.0,), duration=1800.0)
    current = CalibrationSet(0, 0.0, plan.valid_for)
    return QueueContext.of(
        jobs, entered=np.sort(rng.uniform(0, 1e6, jobs)).tolist(), users=tuple(f"u{i}" for i in range(20)),
        projects=("a", "b", "c"), user=rng.integers(0, 20, jobs).tolist(), project=rng.integers(0, 3, jobs).tolist(),
        priority=rng.integers(0, 3, jobs).tolist(), expected=rng.lognormal(1.5, 1.0, jobs).tolist(),
        use_timeslot=(rng.random(jobs) < 0.1).tolist(), windows=(Window("user", "u1", 9 * 3600, 11 * 3600, True),),
        calibration=plan, current_set=lambda: current)


def cpu(action: Callable[[], Any], rounds: int) -> float:
    """Microseconds per round."""
    start = time.process_time()
    action()
    return (time.process_time() - start) / rounds * 1e6


def measure(name: str, size: int, operations: int) -> dict[str, float]:
    total = size + 3 * operations
    policy = BUILTIN[name](context(total))
    now = 12 * 3600.0  # outside the timeslot window: every policy starts jobs
    for job in range(size):
        policy.push(job, now)
    waiting = list(range(size))
    fresh = iter(range(size, total))
    rng = random.Random(2)

    def churn() -> None:
        for _ in range(operations):
            job = policy.pop(now)
            if job is None:  # a policy holding jobs back: take any
                job = waiting[-1]
                policy.remove(job)
            policy.push(next(fresh), now)

    figures = {"pop + push": cpu(churn, operations)}
    waiting = [job for job in range(total) if _waits(policy, job, now)][: 4 * operations]
    sample = [rng.choice(waiting) for _ in range(operations)]
    figures["position"] = cpu(lambda: [policy.position(job, now) for job in sample], operations)

    def withdraw() -> None:
        for job in dict.fromkeys(sample):
            policy.remove(job)
            policy.push(job, now)

    figures["remove + push"] = cpu(withdraw, len(dict.fromkeys(sample)))
    return figures


def _waits(policy: Any, job: int, now: float) -> bool:
    try:
        policy.position(job, now)
    except (KeyError, IndexError):
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="queue sizes, comma-separated")
    parser.add_argument("--operations", type=int, default=20_000, help="operations of each kind per measurement")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"microseconds per operation (process CPU), {args.operations:,} operations each\n")
    print(f"{'policy':<18} {'operation':<14} " + " ".join(f"{f'n={n:,}':>11}" for n in sizes))
    for name in BUILTIN:
        rows: dict[str, list[float]] = {}
        for size in sizes:
            for operation, value in measure(name, size, args.operations).items():
                rows.setdefault(operation, []).append(value)
        for operation, values in rows.items():
            print(f"{name:<18} {operation:<14} " + " ".join(f"{v:>11.2f}" for v in values))


if __name__ == "__main__":
    main()
