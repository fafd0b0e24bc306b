"""Instrument errors, hangs and outages: rates as configured, reproducible, and stable under parameter changes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hardware_mock.faults import (
    INSTRUMENT_ERRORS,
    FaultModel,
    JobFault,
    draw_job_faults,
    draw_outages,
    hang_timeout,
    instrument_error,
    outage_error,
)

DAY = 86_400.0


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_the_default_model_never_fails() -> None:
    model = FaultModel()
    faults = draw_job_faults(model, 10_000, rng())
    assert len(faults) == 10_000
    assert not faults.kind.any()
    assert len(draw_outages(model, 365 * DAY, rng())) == 0


def test_errors_and_hangs_come_at_their_rates() -> None:
    n, p_error, p_hang = 200_000, 0.05, 0.02
    faults = draw_job_faults(FaultModel(error_probability=p_error, hang_probability=p_hang), n, rng())
    for kind, p in ((JobFault.ERROR, p_error), (JobFault.HANG, p_hang)):
        observed = int(np.count_nonzero(faults.kind == kind))
        assert abs(observed - n * p) < 5 * math.sqrt(n * p * (1 - p))
    assert faults.at_fraction.min() >= 0
    assert faults.at_fraction.max() < 1
    assert set(faults.message.tolist()) == set(range(len(INSTRUMENT_ERRORS)))


def test_the_same_seed_draws_the_same_faults() -> None:
    model = FaultModel(error_probability=0.1, hang_probability=0.1, mean_time_between_outages=DAY)
    first, second = draw_job_faults(model, 1000, rng(5)), draw_job_faults(model, 1000, rng(5))
    assert np.array_equal(first.kind, second.kind)
    assert np.array_equal(first.at_fraction, second.at_fraction)
    a, b = draw_outages(model, 30 * DAY, rng(5)), draw_outages(model, 30 * DAY, rng(5))
    assert np.array_equal(a.starts, b.starts)
    assert np.array_equal(a.ends, b.ends)


def test_raising_the_hang_rate_leaves_the_erring_jobs_alone() -> None:
    low = draw_job_faults(FaultModel(error_probability=0.05, hang_probability=0.01), 5000, rng())
    high = draw_job_faults(FaultModel(error_probability=0.05, hang_probability=0.2), 5000, rng())
    assert np.array_equal(low.kind == JobFault.ERROR, high.kind == JobFault.ERROR)
    assert np.array_equal(low.at_fraction, high.at_fraction)
    assert np.all(high.kind[low.kind == JobFault.HANG] == JobFault.HANG)


def test_outages_alternate_with_up_times_of_the_configured_means() -> None:
    model = FaultModel(mean_time_between_outages=DAY, mean_repair_time=1800.0, repair_time_cv=0.5)
    outages = draw_outages(model, 2000 * DAY, rng())
    starts, ends = outages.starts, outages.ends
    assert np.all(ends > starts)
    assert np.all(starts[1:] > ends[:-1])
    assert starts[-1] < 2000 * DAY
    up_times = starts - np.concatenate([[0.0], ends[:-1]])
    repairs = ends - starts
    n = len(starts)
    assert abs(up_times.mean() - DAY) < 5 * DAY / math.sqrt(n)  # exponential: sd = mean
    assert abs(repairs.mean() - 1800) < 5 * 0.5 * 1800 / math.sqrt(n)
    assert abs(repairs.std() / repairs.mean() - 0.5) < 0.1


def test_a_longer_horizon_only_adds_outages() -> None:
    model = FaultModel(mean_time_between_outages=DAY)
    short, long = draw_outages(model, 100 * DAY, rng()), draw_outages(model, 400 * DAY, rng())
    assert len(long) > len(short)
    assert np.array_equal(long.starts[: len(short)], short.starts)


def test_repairs_without_spread_take_the_mean_and_the_instrument_is_down_during_them() -> None:
    outages = draw_outages(FaultModel(mean_time_between_outages=DAY, repair_time_cv=0.0), 50 * DAY, rng())
    assert np.allclose(outages.ends - outages.starts, 1800.0)


def test_error_records_name_the_stage_device_and_numbers() -> None:
    record = instrument_error(FaultModel(), 2, "garnet", elapsed=1.25, duration=4.408)
    assert record.user_message == INSTRUMENT_ERRORS[2][0]
    assert INSTRUMENT_ERRORS[2][1] in record.full_log
    for text in ("execution", "garnet", "1.25 s", "4.408 s"):
        assert text in record.full_log
    hang = hang_timeout("heron", timeout=900.0, reset=60.0)
    assert "900 s" in hang.user_message
    assert "60 s" in hang.full_log
    assert "outage" in outage_error("garnet", 3.0).full_log


@pytest.mark.parametrize(("changes", "message"), [
    ({"error_probability": 1.5}, "probability"),
    ({"error_probability": 0.6, "hang_probability": 0.6}, "exceed 1"),
    ({"mean_repair_time": -1.0}, "zero or more"),
    ({"error_messages": ()}, "at least one"),
])
def test_impossible_models_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultModel(**changes)  # type: ignore[arg-type]
