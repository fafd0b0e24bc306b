"""Synthetic bitstring counts: reproducible, and misread at the configured per-qubit rates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hardware_mock.measurement import (
    ReadoutError,
    counts_from_bits,
    expected_distribution,
    sample_bits,
    sample_counts,
    sparse_random_distribution,
)

GHZ3 = {"000": 0.5, "111": 0.5}


def test_perfect_readout_returns_the_ideal_outcomes() -> None:
    counts = sample_counts({"01": 1.0}, 1000, ReadoutError.uniform(2, 0.0, 0.0), np.random.default_rng(1))
    assert counts == {"01": 1000}


def test_the_same_seed_gives_the_same_counts() -> None:
    readout = ReadoutError.uniform(3)
    first = sample_counts(GHZ3, 4000, readout, np.random.default_rng(9))
    assert first == sample_counts(GHZ3, 4000, readout, np.random.default_rng(9))
    assert sum(first.values()) == 4000
    assert list(first) == sorted(first)


def test_a_zero_is_misread_at_p01_and_a_one_at_p10() -> None:
    shots = 100_000
    readout = ReadoutError(p01=(0.1, 0.0), p10=(0.0, 0.2))  # qubit 0 prepared 0, qubit 1 prepared 1
    bits = sample_bits({"01": 1.0}, shots, readout, np.random.default_rng(2))
    assert bits.shape == (shots, 2)
    for qubit, expected_ones in ((0, 0.1), (1, 0.8)):
        ones = int(bits[:, qubit].sum())
        assert abs(ones - shots * expected_ones) < 5 * math.sqrt(shots * expected_ones * (1 - expected_ones))


def test_counts_follow_the_exact_noisy_distribution() -> None:
    shots = 50_000
    readout = ReadoutError(p01=(0.01, 0.02, 0.03), p10=(0.03, 0.05, 0.08))
    counts = sample_counts(GHZ3, shots, readout, np.random.default_rng(3))
    expected = expected_distribution(GHZ3, readout)
    assert sum(expected.values()) == pytest.approx(1.0)
    # "000": all three read right = 0.5 x 0.99 x 0.98 x 0.97 + 0.5 x 0.03 x 0.05 x 0.08 = 0.47059 + 0.00006
    assert expected["000"] == pytest.approx(0.5 * 0.99 * 0.98 * 0.97 + 0.5 * 0.03 * 0.05 * 0.08)
    for bits, p in expected.items():
        assert abs(counts.get(bits, 0) - shots * p) < 5 * math.sqrt(shots * p * (1 - p)) + 1


def test_counts_from_bits_reads_qubit_zero_first() -> None:
    bits = np.array([[True, False, False], [True, False, False], [False, False, True]])
    assert counts_from_bits(bits) == {"001": 1, "100": 2}
    assert counts_from_bits(np.zeros((0, 3), dtype=bool)) == {}


def test_a_random_stand_in_distribution_is_a_distribution() -> None:
    ideal = sparse_random_distribution(20, 50, np.random.default_rng(4))
    assert 1 <= len(ideal) <= 50
    assert all(len(bits) == 20 for bits in ideal)
    assert sum(ideal.values()) == pytest.approx(1.0)
    counts = sample_counts(ideal, 2000, ReadoutError.uniform(20), np.random.default_rng(4))
    assert sum(counts.values()) == 2000


@pytest.mark.parametrize(("ideal", "message"), [
    ({}, "at least one"),
    ({"0": 1.0}, "2 characters"),
    ({"0x": 1.0}, "2 characters"),
    ({"00": 0.5}, "add up to 1"),
])
def test_bad_ideal_distributions_are_refused(ideal: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sample_counts(ideal, 10, ReadoutError.uniform(2), np.random.default_rng(0))


def test_readout_errors_need_one_probability_per_qubit() -> None:
    with pytest.raises(ValueError, match="one entry per qubit"):
        ReadoutError(p01=(0.1,), p10=(0.1, 0.2))
    with pytest.raises(ValueError, match="between 0 and 1"):
        ReadoutError(p01=(1.5,), p10=(0.1,))
