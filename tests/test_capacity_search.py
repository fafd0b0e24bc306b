"""The capacity search against noisy oracles with known answers: how often its answer is wrong at the stated
level (measured over many seeds), how close it gets, and its one-sided, sequential tests."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from sim.experiments.capacity import CapacityAnswer, Probe, _answer, budget, run_search
from sim.experiments.decision import Sequential, clopper_pearson, decide_mean, decide_miss, mean_bounds
from sim.experiments.replications import Metrics
from sim.experiments.target import Target
from sim.scenario.streams import replication_seeds

RATE = Target("m", 50.0, below=True, level=0.95, search="k", low=0.0, high=100.0, find="max", tolerance=0.01)
"""A load search: the metric is the load itself plus noise, so the target (below 50) holds below 50."""
SERVERS = Target("m", 12.0, below=True, level=0.95, search="k", low=1, high=40, unit="int", find="min")
"""A server search: the metric is 100 / servers plus noise, so the fewest servers that hold is 9."""


def oracle(truth: float | None = None, sigma: float = 5.0, shared: float = 0.0):  # type: ignore[no-untyped-def]
    """Replications of a metric ``m(value) + sigma * z``: ``z`` mixes a per-seed part (``shared``: common random
    numbers make a seed's runs alike at every value) and a part of its own per seed and value."""
    def run_batch(requests: Sequence[tuple[int, float, int]]) -> list[Metrics]:
        out = []
        for _, value, seed in requests:
            common = np.random.default_rng(seed).standard_normal()
            own = np.random.default_rng([seed, int(value * 1e6)]).standard_normal()
            z = shared * common + math.sqrt(1 - shared ** 2) * own
            mean = value if truth is None else truth / value
            out.append({"m": mean + sigma * z})
        return out
    return run_batch


def search(target: Target, seed: int, **options: float) -> CapacityAnswer:
    sequential = budget(target, 5)
    seeds = replication_seeds(seed, sequential.budget)
    [(probes, bracket)] = run_search(target, 1, seeds, sequential, oracle(**options))
    return _answer(target, {}, probes, bracket, sequential.looks)


def error_rate(target: Target, seeds: int, wrong: float, **options: float) -> tuple[float, list[float]]:
    """The share of searches whose answer is a value where the target does not hold (``value >= wrong``
    for a load search, ``value <= wrong`` for a server search), and the answers."""
    answers = [search(target, seed, **options).value for seed in range(seeds)]
    bad = [a is not None and (a >= wrong if target.find == "max" else a <= wrong) for a in answers]
    return float(np.mean(bad)), [math.nan if a is None else a for a in answers]


def allowed(level: float, seeds: int) -> float:
    """The stated error rate plus 2.5 standard errors of its estimate over ``seeds`` searches."""
    alpha = 1 - level
    return alpha + 2.5 * math.sqrt(alpha * (1 - alpha) / seeds)


@pytest.mark.parametrize("shared", [0.0, 0.9])
def test_a_load_search_is_wrong_at_most_at_the_stated_rate(shared: float) -> None:
    rate, answers = error_rate(RATE, 300, wrong=50.0, shared=shared)
    assert rate <= allowed(0.95, 300), f"{rate:.1%} of answers were loads at which the target fails"
    assert np.nanmedian(answers) > 44.0  # and not by saying little: within a few noise widths of 50


def test_a_server_search_is_wrong_at_most_at_the_stated_rate() -> None:
    rate, answers = error_rate(SERVERS, 300, wrong=8, truth=100.0, sigma=1.0)
    assert rate <= allowed(0.95, 300)
    assert np.nanmedian(answers) <= 10  # 9 is the answer


def test_the_error_rate_measures_the_level() -> None:
    """The same measurement catches a search that tests at a laxer level than it states: at 70% one in
    several answers is a load at which the target fails."""
    lax = Target(**{**RATE.__dict__, "level": 0.70, "max_replications": 5})
    rate, _ = error_rate(lax, 300, wrong=50.0)
    assert rate > allowed(0.95, 300)


@pytest.mark.slow
@pytest.mark.parametrize("shared", [0.0, 0.9])
def test_the_error_rate_over_many_seeds(shared: float) -> None:
    for target, wrong, options in ((RATE, 50.0, {}), (SERVERS, 8, {"truth": 100.0, "sigma": 1.0})):
        rate, _ = error_rate(target, 3000, wrong=wrong, shared=shared, **options)
        assert rate <= allowed(0.95, 3000), (target.find, rate)


def test_a_probe_too_close_to_call_gets_more_replications() -> None:
    answer = search(RATE, 3)
    extended = [p for p in answer.probes if p.evidence.n > 5]
    assert extended, "no probe near the threshold was given more runs"
    assert all(p.evidence.n in (5, 10, 15) for p in answer.probes)
    assert max(p.evidence.n for p in answer.probes) <= 15
    for probe in answer.probes:  # a probe decided early had a verdict; one at the budget may be undecided
        assert probe.evidence.verdict != "undecided" or probe.evidence.n == 15
        assert not probe.holds or probe.evidence.high < 50.0


def test_the_probes_are_consistent_and_the_answer_has_its_evidence() -> None:
    for seed in range(20):
        answer = search(RATE, seed)
        holding = [p.value for p in answer.probes if p.holds]
        failing = [p.value for p in answer.probes if not p.holds]
        assert max(holding, default=-1) < min(failing, default=math.inf)  # monotone: no crossing verdicts
        assert answer.holds_at is not None
        assert answer.fails_at is not None
        assert answer.value == answer.holds_at.value == max(holding)
        assert answer.fails_at.value == min(failing)
        assert answer.fails_at.value - answer.holds_at.value <= 0.01 * answer.fails_at.value
        text = answer.describe()
        assert "holds at" in text
        assert "fails at" in text
        assert "one-sided upper 98.3% bound" in text
        rows = answer.probe_rows()
        assert len(rows) == len(answer.probes)
        assert [r["role"] for r in rows].count("answer") == 1


def test_one_sided_bounds_by_hand() -> None:
    # values 1..5: mean 3, s = 1.5811, t(0.95, 4) = 2.1318 -> margin 1.5074 (a two-sided 95% would be 1.9632)
    mean, low, high, n = mean_bounds([1, 2, 3, 4, 5], 0.95)
    assert (mean, n) == (3.0, 5)
    assert high == pytest.approx(3 + 2.131847 * 1.581139 / math.sqrt(5), rel=1e-6)
    assert low == pytest.approx(3 - 1.507443, rel=1e-5)
    assert decide_mean([1, 2, 3, 4, 5], 4.6, True, 0.95).verdict == "holds"  # upper bound 4.507 < 4.6
    assert decide_mean([1, 2, 3, 4, 5], 4.4, True, 0.95).verdict == "undecided"
    assert decide_mean([1, 2, 3, 4, 5], 1.4, True, 0.95).verdict == "fails"  # lower bound 1.49 >= 1.4
    assert decide_mean([7.0, 7.0], 7.0, True, 0.95).verdict == "fails"  # a constant at the threshold
    assert decide_mean([7.0], 9.0, True, 0.95).verdict == "undecided"  # one run: no spread, no verdict


def test_clopper_pearson_by_hand() -> None:
    # 0 misses of 59: the one-sided 95% upper bound is 1 - 0.05 ** (1 / 59) = 0.0495 (the "rule of three")
    low, high = clopper_pearson(0, 59, 0.95)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.05 ** (1 / 59), rel=1e-9)
    assert decide_miss(0, 59, 5, 0.05, 0.95).verdict == "holds"
    assert decide_miss(0, 58, 5, 0.05, 0.95).verdict == "undecided"
    low, high = clopper_pearson(10, 20, 0.975)  # the two-sided 95% interval of 10 of 20: 0.272 to 0.728
    assert low == pytest.approx(0.27196, abs=1e-4)
    assert high == pytest.approx(0.72804, abs=1e-4)


def test_the_level_is_split_over_the_looks() -> None:
    sequential = Sequential(5, 15)
    assert sequential.looks == 3
    assert sequential.look_level(0.95) == pytest.approx(1 - 0.05 / 3)
    assert [sequential.next_size(n) for n in (0, 5, 10, 14)] == [5, 10, 15, 15]
    assert Sequential(5, 5).look_level(0.95) == pytest.approx(0.95)  # one look: the stated level itself
    with pytest.raises(ValueError, match="max_replications"):
        Sequential(5, 4)


def test_a_probe_of_a_miss_probability_pools_the_periods_of_its_runs() -> None:
    target = Target("turnaround.p95", 600.0, per=86400.0, miss_probability=0.05, search="k", low=1, high=2,
                    unit="int", find="min")
    from sim.experiments.capacity import decide

    runs = [{"per_1d.turnaround.p95.periods": 7.0, "per_1d.turnaround.p95.misses": float(m)} for m in (0, 1, 0)]
    evidence = decide(target, runs, 0.95)
    assert (evidence.periods, evidence.misses, evidence.n) == (21, 1, 3)
    assert evidence.estimate == pytest.approx(1 / 21)
    assert evidence.verdict == "undecided"  # 1 of 21: the upper bound is 0.2, the lower 0.0024
    assert str(target) == "P(a 1d period's turnaround.p95 >= 10min) < 5% at 95% confidence (one-sided)"
    assert Probe(1, evidence).holds is False


def test_a_miss_probability_that_cannot_be_shown_with_the_periods_run_says_how_many_it_needs() -> None:
    target = Target("turnaround.p95", 600.0, per=86400.0, miss_probability=0.05, search="k", low=1, high=2,
                    unit="int", find="min", max_replications=5)
    probe = Probe(2, decide_miss(0, 35, 5, 0.05, 0.95), 1)  # a week each of 5 runs, not a day missed
    assert probe.evidence.verdict == "undecided"  # 0 of 35: the upper bound is 8.2%
    answer = CapacityAnswer(target, {}, None, None, probe, (probe,), 1)
    assert "59 periods are needed to show a miss probability below 5% at 95%; 35 were run" in answer.describe()
