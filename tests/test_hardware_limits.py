"""The device limits that validation enforces: qubits, shots, and circuit duration against IQM's T2 check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hardware_mock import GARNET, HERON
from hardware_mock.limits import LimitReason, check_job, check_jobs, max_depth, violation

R = LimitReason


def test_garnet_fits_two_hundred_and_forty_layers_in_its_t2() -> None:
    # T2 = 9.6 us, layer = 40 ns: 9.6 us / 40 ns = 240 layers at factor 1.0
    assert max_depth(GARNET) == 240
    assert check_job(GARNET, 20, 1000, 240) is None
    too_long = check_job(GARNET, 20, 1000, 241)
    assert too_long is not None
    assert too_long.reason == R.CIRCUIT_TOO_LONG


def test_heron_fits_far_deeper_circuits() -> None:
    # T2 = 150 us, layer = 76 ns: 150 / 0.076 = 1,973.7 -> 1,973 layers
    assert max_depth(HERON) == 1973
    assert check_job(HERON, 100, 1000, 1973) is None
    assert check_job(HERON, 100, 1000, 1974) is not None


def test_the_jobs_own_factor_overrides_the_device_default_and_zero_turns_the_check_off() -> None:
    # factor 0.5: 4.8 us / 40 ns = 120 layers
    assert max_depth(GARNET, 0.5) == 120
    assert check_job(GARNET, 5, 100, 121, duration_over_t2=0.5) is not None
    assert check_job(GARNET, 5, 100, 121) is None
    assert max_depth(GARNET, 0.0) is None
    assert check_job(GARNET, 5, 100, 1_000_000, duration_over_t2=0.0) is None
    assert check_job(dataclasses.replace(GARNET, max_circuit_duration_over_t2=0.0), 5, 100, 1_000_000) is None


def test_a_job_over_the_qubit_count_is_rejected_with_both_numbers() -> None:
    rejected = check_job(GARNET, 21, 1000, 10)
    assert rejected is not None
    assert rejected.reason == R.TOO_MANY_QUBITS
    assert "21" in rejected.user_message
    assert "20" in rejected.user_message
    assert "\n" not in rejected.user_message
    assert "qubits used" in rejected.full_log
    assert "garnet" in rejected.full_log


@pytest.mark.parametrize("shots", [0, -5, 100_001])
def test_shots_out_of_range_are_rejected(shots: int) -> None:
    rejected = check_job(GARNET, 2, shots, 10)
    assert rejected is not None
    assert rejected.reason == R.SHOTS_OUT_OF_RANGE
    assert str(shots) in rejected.user_message
    assert "1 to 100000" in rejected.full_log


def test_the_duration_log_gives_every_number_of_the_check() -> None:
    rejected = check_job(GARNET, 2, 100, 300)
    assert rejected is not None
    # 300 layers x 40 ns = 12 us > 1.0 x 9.6 us
    assert "12 us" in rejected.user_message
    assert "9.6 us" in rejected.user_message
    for text in ("depth (layers)", "300", "40 ns", "9.6 us", "240"):
        assert text in rejected.full_log
    assert len(rejected.full_log.splitlines()) > 5


def test_the_first_broken_limit_is_reported() -> None:
    assert check_jobs(GARNET, 50, 0, 1000) == R.TOO_MANY_QUBITS
    assert check_jobs(GARNET, 5, 0, 1000) == R.SHOTS_OUT_OF_RANGE
    assert check_jobs(GARNET, 5, 10, 1000) == R.CIRCUIT_TOO_LONG
    assert check_jobs(GARNET, 5, 10, 10) == R.WITHIN_LIMITS


def test_vectorised_checks_agree_with_one_job_at_a_time() -> None:
    rng = np.random.default_rng(11)
    qubits, shots, depth = rng.integers(1, 26, 500), rng.integers(0, 120_000, 500), rng.integers(0, 300, 500)
    factor = rng.choice([0.0, 0.5, 1.0, 2.0], 500)
    reasons = check_jobs(GARNET, qubits, shots, depth, factor)
    assert reasons.dtype == np.int8
    for i in range(500):
        one = check_job(GARNET, int(qubits[i]), int(shots[i]), int(depth[i]), float(factor[i]))
        assert (one.reason if one else R.WITHIN_LIMITS) == reasons[i]
        built = violation(GARNET, int(reasons[i]), int(qubits[i]), int(shots[i]), int(depth[i]), float(factor[i]))
        assert built == one
    assert set(np.unique(reasons).tolist()) == {0, 1, 2, 3}
