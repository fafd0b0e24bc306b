"""The execution queue against closed-form queueing theory, over seeded replications.

With every stage but execution instantaneous (the default stage: unlimited workers, zero duration), Poisson
arrivals and an abstract execution time, the station is a textbook queue: jobs wait in PENDING_EXECUTION for one
of ``c`` instruments, served first come, first served. Its steady state is known exactly:

- M/M/1 (exponential execution): mean wait ``Wq = rho / (mu - lambda)``, and an arriving job waits at all with
  probability ``rho``;
- M/M/c: ``Wq = C(c, a) / (c mu - lambda)`` with ``C`` Erlang's C formula (the probability of waiting) and
  ``a = lambda / mu`` the offered load;
- M/G/1 (Pollaczek-Khinchine): ``Wq = lambda E[S^2] / (2 (1 - rho))``; for constant execution (M/D/1) that is
  ``rho / (2 mu (1 - rho))``, and the probability of waiting is still ``rho`` (Poisson arrivals see time
  averages);
- Little's law: the time-average number of jobs in PENDING_EXECUTION is ``Lq = lambda Wq``;
- utilisation of the instruments: ``rho = lambda / (c mu)``;
- two priority classes on one instrument (non-preemptive, Cobham): class ``k`` waits
  ``W0 / ((1 - sigma_{k-1}) (1 - sigma_k))`` with ``W0 = lambda E[S^2] / 2`` and ``sigma_k`` the load of the
  classes of priority at least ``k``'s; and by Kleinrock's conservation law the mean over all jobs equals the
  FIFO wait.

Each check runs ``R`` independent replications (seeds from ``replication_seeds``), deletes a warm-up (the first
jobs, submitted into an empty station), takes one value per replication, and asserts that the theoretical value
lies in the 99% Student-t interval over the replications. No tolerance is tuned by hand: the interval's width
comes from the spread of the replications. The loads, run lengths and warm-ups keep the warm-up bias far below
the half-width (the relaxation time at these loads is tens of jobs; the warm-up is thousands), and a power test
shows that the intervals are narrow enough to tell the M/M/1 queue from neighbouring loads and from M/D/1.

Every case uses the same base seed, so the cases share their arrival draws (common random numbers) and their
deviations from theory are correlated: with ``BASE_SEED`` the 30 arrival streams run about 0.2% slow (two
standard errors), which shows in every case's measured arrival rate and in the M/D/1 utilisation. When this
module was written the default battery was also run for 30 other base seeds: the distances from theory, in
standard errors, had mean about 0 and spread about 1, and 2 of 630 checks fell outside their 99% interval.

Run with ``pytest -s`` to see the figures. Larger and heavier-loaded cases, M/M/3, M/D/1 and the priority classes
are marked ``slow`` (CI runs them too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats

import sim
from sim.experiments.confidence import Interval, t_interval
from sim.model.status import PENDING_EXECUTION, JobStatus
from sim.scenario.streams import replication_seeds

EXECUTION_STARTED = JobStatus.EXECUTION_STARTED.code
LEVEL = 0.99
BASE_SEED = 20240917
REPLICATIONS = 30

FloatArray = npt.NDArray[np.float64]


# --- theory --------------------------------------------------------------------------------------------------


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arriving job waits in an M/M/c queue with ``offered_load`` = lambda / mu < c."""
    assert 0 < offered_load < servers
    terms = [offered_load**k / math.factorial(k) for k in range(servers)]
    last = offered_load**servers / math.factorial(servers) * servers / (servers - offered_load)
    return last / (sum(terms) + last)


def mmc_wait(rate: float, mean_service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c."""
    mu = 1.0 / mean_service
    return erlang_c(servers, rate * mean_service) / (servers * mu - rate)


def mg1_wait(rate: float, mean_service: float, cv: float) -> float:
    """Mean wait in queue of M/G/1 (Pollaczek-Khinchine), service with mean and coefficient of variation cv."""
    rho = rate * mean_service
    second_moment = (1.0 + cv**2) * mean_service**2
    return rate * second_moment / (2.0 * (1.0 - rho))


def test_erlang_c_reference_values() -> None:
    assert erlang_c(1, 0.7) == pytest.approx(0.7)  # M/M/1: the server is busy with probability rho
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)  # by hand: (1/2 * 2) / (1 + 1 + 1)
    assert erlang_c(3, 2.4) == pytest.approx(0.64719, abs=1e-5)  # standard table value
    assert mmc_wait(0.7, 1.0, 1) == pytest.approx(0.7 / (1.0 - 0.7))
    assert mg1_wait(0.7, 1.0, 1.0) == pytest.approx(mmc_wait(0.7, 1.0, 1))  # exponential: cv = 1
    assert mg1_wait(0.7, 1.0, 0.0) == pytest.approx(0.7 / (2 * 0.3))  # M/D/1


# --- simulation ----------------------------------------------------------------------------------------------


def queue_scenario(rate: float, instruments: int, execution_time: float | Mapping[str, Any],
                   **sections: Any) -> sim.Scenario:
    """A station whose only non-instant stage is execution: a textbook queue in PENDING_EXECUTION."""
    return sim.Scenario.from_dict({
        "arrivals": {"rate": rate},
        "hardware": {"instruments": instruments, "execution_time": execution_time},
        **sections,
    })


def time_average_in_queue(entered: FloatArray, left: FloatArray, start: float, end: float) -> float:
    """Time-average number of jobs in the queue over [start, end]: the integral of the queue-length step
    function (+1 when a job enters, -1 when it leaves) divided by the window's length."""
    moments = np.concatenate([entered, left])
    steps = np.concatenate([np.ones(entered.size), -np.ones(left.size)])
    order = np.argsort(moments, kind="stable")  # at equal times, entries (first in the array) before exits
    length = np.cumsum(steps[order])
    assert length.min() >= 0
    assert length[-1] == 0
    clipped = np.clip(moments[order], start, end)
    return float(np.sum(length[:-1] * np.diff(clipped)) / (end - start))


@dataclass(frozen=True)
class Replication:
    """What one run says about the execution queue, measured on the jobs after the warm-up."""

    wait: float
    """Mean time from PENDING_EXECUTION to EXECUTION_STARTED."""
    waited: float
    """Share of jobs that waited at all."""
    arrival_rate: float
    """Measured arrival rate: jobs submitted per second between the first and last submission measured."""
    queue_length: float
    """Time-average number of jobs in PENDING_EXECUTION over that window (warm-up jobs still waiting count)."""
    little: float
    """The measured arrival rate x the mean wait of the jobs that entered the queue in that window."""
    utilisation: float
    """``summary()["stages"]["execution"]["utilisation"]`` (the whole run)."""
    wait_by_priority: dict[int, float]


def measure(scenario: sim.Scenario, seed: int, jobs: int, warm_up: int) -> Replication:
    result = sim.simulate(scenario, seed=seed, jobs=jobs)
    assert result.status_counts() == {"ready": jobs}
    entered = result.times[:, PENDING_EXECUTION]
    started = result.times[:, EXECUTION_STARTED]
    waits = (started - entered)[warm_up:]
    start, end = entered[warm_up], entered[-1]
    rate = (jobs - 1 - warm_up) / (end - start)  # arrivals in [start, end), the last one excluded
    priority = result.workload.priority[warm_up:]
    return Replication(
        wait=float(waits.mean()),
        waited=float(np.mean(waits > 0)),
        arrival_rate=rate,
        queue_length=time_average_in_queue(entered, started, start, end),
        little=rate * float(waits[:-1].mean()),
        utilisation=result.summary()["stages"]["execution"]["utilisation"],
        wait_by_priority={int(p): float(waits[priority == p].mean()) for p in np.unique(priority)},
    )


@dataclass(frozen=True)
class Case:
    """A queue, its theory and how to replicate it."""

    name: str
    scenario: sim.Scenario
    wait: float
    """Theoretical mean wait in queue."""
    waited: float
    """Theoretical probability of waiting."""
    load: float
    """rho = lambda / (c mu)."""
    jobs: int = 20_000
    warm_up: int = 2_000
    replications: int = REPLICATIONS

    @property
    def rate(self) -> float:
        return self.scenario.arrivals.mean_rate

    def replicate(self, base_seed: int = BASE_SEED) -> list[Replication]:
        seeds = replication_seeds(base_seed, self.replications)
        return [measure(self.scenario, seed, self.jobs, self.warm_up) for seed in seeds]


def interval(runs: list[Replication], field: str) -> Interval:
    return t_interval([getattr(r, field) for r in runs], LEVEL)


def check(label: str, theory: float, estimate: Interval) -> None:
    """Assert that ``theory`` lies in ``estimate``; print both with the distance in standard errors."""
    standard_errors = (estimate.mean - theory) / (estimate.half_width / stats.t.ppf(0.5 + LEVEL / 2, estimate.n - 1))
    print(f"\n{label}: theory {theory:.5g}, simulated {estimate} -> {standard_errors:+.2f} standard errors")
    assert estimate.contains(theory), f"{label}: theory {theory:.5g} outside the {LEVEL:.0%} interval {estimate}"


# --- the default cases ---------------------------------------------------------------------------------------

EXPONENTIAL_1S = {"dist": "exponential", "mean": 1.0}

MM1 = Case("M/M/1 rho=0.7", queue_scenario(0.7, 1, EXPONENTIAL_1S), wait=mmc_wait(0.7, 1.0, 1), waited=0.7,
           load=0.7)
MM3 = Case("M/M/3 rho=0.8", queue_scenario(2.4, 3, EXPONENTIAL_1S), wait=mmc_wait(2.4, 1.0, 3),
           waited=erlang_c(3, 2.4), load=0.8)
MD1 = Case("M/D/1 rho=0.7", queue_scenario(0.7, 1, 1.0), wait=mg1_wait(0.7, 1.0, 0.0), waited=0.7, load=0.7)


@pytest.fixture(scope="module")
def replications() -> Callable[[Case], list[Replication]]:
    """The replications of a case, run once per test module however many tests read them."""
    runs: dict[str, list[Replication]] = {}

    def get(case: Case) -> list[Replication]:
        if case.name not in runs:
            runs[case.name] = case.replicate()
        return runs[case.name]

    return get


@pytest.fixture(params=[MM1, pytest.param(MM3, marks=pytest.mark.slow), pytest.param(MD1, marks=pytest.mark.slow)],
                ids=["M/M/1", "M/M/3", "M/D/1"])
def replicated(request: pytest.FixtureRequest,
               replications: Callable[[Case], list[Replication]]) -> tuple[Case, list[Replication]]:
    case: Case = request.param
    return case, replications(case)


def test_mean_wait(replicated: tuple[Case, list[Replication]]) -> None:
    case, runs = replicated
    check(f"{case.name} mean wait", case.wait, interval(runs, "wait"))


def test_probability_of_waiting(replicated: tuple[Case, list[Replication]]) -> None:
    case, runs = replicated
    check(f"{case.name} P(wait > 0)", case.waited, interval(runs, "waited"))


def test_utilisation(replicated: tuple[Case, list[Replication]]) -> None:
    case, runs = replicated
    check(f"{case.name} utilisation", case.load, interval(runs, "utilisation"))


def test_arrival_rate(replicated: tuple[Case, list[Replication]]) -> None:
    case, runs = replicated
    check(f"{case.name} arrival rate", case.rate, interval(runs, "arrival_rate"))


def test_littles_law(replicated: tuple[Case, list[Replication]]) -> None:
    """The time-average queue length (integrated from the recorded timeline) matches lambda x Wq of the theory;
    and, run by run on the same window, the measured arrival rate x the measured mean wait (a paired, much
    tighter comparison: only the jobs waiting at the window's two ends differ, and those cancel on average)."""
    case, runs = replicated
    check(f"{case.name} time-average queue length", case.rate * case.wait, interval(runs, "queue_length"))
    paired = t_interval([r.queue_length - r.little for r in runs], LEVEL)
    check(f"{case.name} Lq - lambda W per run", 0.0, paired)


def test_intervals_are_sharp_enough_to_reject_a_wrong_model(
        replications: Callable[[Case], list[Replication]]) -> None:
    """Power: the M/M/1 interval excludes the M/D/1 wait (same load, constant execution) and the M/M/1 waits
    at loads 0.02 off. A model with the execution-time variance or the arrival rate 3% wrong would fail."""
    estimate = interval(replications(MM1), "wait")
    print(f"\nM/M/1 rho=0.7 mean wait {estimate}: M/D/1 {mg1_wait(0.7, 1.0, 0.0):.4g}, "
          f"rho=0.68 {mmc_wait(0.68, 1.0, 1):.4g}, rho=0.72 {mmc_wait(0.72, 1.0, 1):.4g}")
    assert not estimate.contains(mg1_wait(0.7, 1.0, 0.0))
    assert not estimate.contains(mmc_wait(0.68, 1.0, 1))
    assert not estimate.contains(mmc_wait(0.72, 1.0, 1))


@pytest.mark.slow
def test_priority_classes_follow_cobham_and_conservation() -> None:
    """Non-preemptive priority on one instrument: urgent jobs (30% of arrivals, priority 1) wait
    ``W0 / (1 - rho_1)``, the others ``W0 / ((1 - rho_1)(1 - rho))``; the mean over both is the FIFO wait."""
    rate, share = 0.7, 0.3
    scenario = queue_scenario(rate, 1, EXPONENTIAL_1S, scheduler={"policy": "priority"}, workload=[
        {"name": "urgent", "weight": share, "priority": 1},
        {"name": "normal", "weight": 1 - share, "priority": 0},
    ])
    case = Case("M/M/1 priority", scenario, wait=mmc_wait(rate, 1.0, 1), waited=rate, load=rate)
    runs = case.replicate()
    residual = rate * 2.0 / 2  # W0 = lambda E[S^2] / 2 with E[S^2] = 2 for exponential(1)
    urgent_load = share * rate
    check("priority 1 (urgent) mean wait", residual / (1 - urgent_load),
          t_interval([r.wait_by_priority[1] for r in runs], LEVEL))
    check("priority 0 (normal) mean wait", residual / ((1 - urgent_load) * (1 - rate)),
          t_interval([r.wait_by_priority[0] for r in runs], LEVEL))
    check("all jobs under priority (conservation law)", case.wait, interval(runs, "wait"))


# --- slow: heavier load, more servers, general service --------------------------------------------------------

SLOW_CASES = [
    Case("M/M/1 rho=0.9", queue_scenario(0.9, 1, EXPONENTIAL_1S), wait=mmc_wait(0.9, 1.0, 1), waited=0.9,
         load=0.9, jobs=100_000, warm_up=10_000),
    Case("M/M/10 rho=0.9", queue_scenario(9.0, 10, EXPONENTIAL_1S), wait=mmc_wait(9.0, 1.0, 10),
         waited=erlang_c(10, 9.0), load=0.9, jobs=60_000, warm_up=10_000),
    Case("M/G/1 gamma cv=2 rho=0.7", queue_scenario(0.7, 1, {"dist": "gamma", "mean": 1.0, "cv": 2.0}),
         wait=mg1_wait(0.7, 1.0, 2.0), waited=0.7, load=0.7, jobs=60_000, warm_up=5_000),
    Case("M/G/1 uniform 0-2s rho=0.7", queue_scenario(0.7, 1, {"dist": "uniform", "low": 0.0, "high": 2.0}),
         wait=mg1_wait(0.7, 1.0, 1 / math.sqrt(3)), waited=0.7, load=0.7),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_CASES, ids=[case.name.rsplit(" ", 1)[0] for case in SLOW_CASES])
def test_slow_cases(case: Case) -> None:
    runs = case.replicate()
    check(f"{case.name} mean wait", case.wait, interval(runs, "wait"))
    check(f"{case.name} P(wait > 0)", case.waited, interval(runs, "waited"))
    check(f"{case.name} utilisation", case.load, interval(runs, "utilisation"))
    check(f"{case.name} time-average queue length", case.rate * case.wait, interval(runs, "queue_length"))
