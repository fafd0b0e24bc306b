"""The timing model against figures computed by hand from each preset, and its relation to IQM's estimate.

Each test writes its arithmetic out; the figures come from ``docs/references.md`` through the
presets (Garnet and Emerald: 40 ns layers, 2 us readout, 348 us end delay, 0.9 s per job; Heron: 76 ns layers,
2.1 us readout, 250 us repetition delay, 5 s per job).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hardware_mock import EMERALD, GARNET, HERON, PRESETS, DeviceProfile
from hardware_mock.timing import circuit_duration, execution_time, iqm_qpu_runtime, shot_duration

UNITS = {"count", "number", "fraction", "text"}


def test_garnet_ten_circuits_of_a_thousand_shots() -> None:
    # layer: max(PRX 20 ns, CZ 40 ns) = 40 ns; schedule: 20 layers x 40 ns + 2 us readout = 2.8 us
    # one shot: 2.8 us + 348 us end delay = 350.8 us; one circuit: 1,000 shots x 350.8 us = 0.3508 s
    # on the QPU: 10 circuits x 0.3508 s = 3.508 s (IQM's estimate); with 0.9 s arming: 4.408 s
    assert float(circuit_duration(GARNET, 20)) == pytest.approx(2.8e-6)
    assert float(shot_duration(GARNET, 20)) == pytest.approx(350.8e-6)
    assert float(iqm_qpu_runtime(GARNET, 10, 1000, 20)) == pytest.approx(3.508)
    assert float(execution_time(GARNET, 10, 1000, 20)) == pytest.approx(4.408)


def test_emerald_sweep_of_deep_circuits() -> None:
    # schedule: 100 layers x 40 ns + 2 us = 6 us; one shot: 6 us + 348 us = 354 us
    # one circuit: 2,000 x 354 us = 0.708 s; one sweep point: 5 circuits x 0.708 s = 3.54 s
    # 3 sweep points: 10.62 s on the QPU; with 0.9 s arming: 11.52 s
    assert float(iqm_qpu_runtime(EMERALD, 5, 2000, 100, 3)) == pytest.approx(10.62)
    assert float(execution_time(EMERALD, 5, 2000, 100, 3)) == pytest.approx(11.52)


def test_heron_ten_circuits_of_a_thousand_shots() -> None:
    # layer: max(sx 30 ns, CZ 76 ns) = 76 ns; schedule: 20 x 76 ns + 2.1 us readout = 3.62 us
    # one shot: 3.62 us + 250 us repetition delay = 253.62 us; one circuit: 1,000 x 253.62 us = 0.25362 s
    # on the QPU: 10 x 0.25362 s = 2.5362 s; with 5 s loading: 7.5362 s
    assert float(shot_duration(HERON, 20)) == pytest.approx(253.62e-6)
    assert float(iqm_qpu_runtime(HERON, 10, 1000, 20)) == pytest.approx(2.5362)
    assert float(execution_time(HERON, 10, 1000, 20)) == pytest.approx(7.5362)


def test_a_one_shot_job_costs_the_minimum_per_job() -> None:
    # IT4I: "minimum 0.9 s per job": 0.9 s + one shot of 1 layer (40 ns + 2 us + 348 us = 350.04 us)
    assert float(execution_time(GARNET, 1, 1, 1)) == pytest.approx(0.90035004)


@pytest.mark.parametrize("depth", [1, 20, 100, 240])
def test_a_garnet_shot_costs_about_four_hundred_microseconds_at_most(depth: int) -> None:
    # IT4I: "at most 50 us circuit + about 350 us fixed per shot, so about 400 us per shot"
    assert 350e-6 <= float(shot_duration(GARNET, depth)) <= 400e-6


def test_garnet_clops_figure_lies_between_unbatched_and_batched_jobs() -> None:
    # CLOPS = M x K x S x D / T with M = 100 templates, K = 10 updates, S = 100 shots, D = log2(QV 32) = 5 layers.
    # one shot of 5 layers: 5 x 40 ns + 2 us + 348 us = 350.2 us
    # a job per circuit: 1,000 jobs x (0.9 s + 100 x 350.2 us) = 935.02 s -> 500,000 / 935.02 = 535 CLOPS
    # a job per update: 10 jobs x (0.9 s + 100 circuits x 100 x 350.2 us) = 44.02 s -> 11,358 CLOPS
    layers = 100 * 10 * 100 * 5
    unbatched = 1000 * float(execution_time(GARNET, 1, 100, 5))
    batched = 10 * float(execution_time(GARNET, 100, 100, 5))
    assert unbatched == pytest.approx(935.02)
    assert batched == pytest.approx(44.02)
    assert layers / unbatched < 2600 < layers / batched  # "about 2,600 CLOPS"


@pytest.mark.parametrize("device", PRESETS.values(), ids=PRESETS.keys())
def test_without_overheads_the_model_is_iqms_estimate(device: DeviceProfile) -> None:
    bare = dataclasses.replace(device, job_overhead=0.0, circuit_overhead=0.0, transfer_per_shot=0.0)
    rng = np.random.default_rng(7)
    circuits, shots, depth, points = (rng.integers(1, high, 200) for high in (50, 20_000, 300, 30))
    assert np.allclose(execution_time(bare, circuits, shots, depth, points),
                       iqm_qpu_runtime(device, circuits, shots, depth, points), rtol=1e-12, atol=0)


def test_the_overheads_are_what_the_model_adds_to_iqms_estimate() -> None:
    device = dataclasses.replace(GARNET, circuit_overhead=0.01, transfer_per_shot=5e-6)
    # 4 circuits x 500 shots x 2 points at depth 30:
    # added = 0.9 s arming + 2 points x 4 circuits x (10 ms upload + 500 shots x 5 us transfer) = 0.9 + 8 x 0.0125
    added = float(execution_time(device, 4, 500, 30, 2) - iqm_qpu_runtime(device, 4, 500, 30, 2))
    assert added == pytest.approx(1.0)


def test_vectorised_times_equal_one_job_at_a_time() -> None:
    circuits, shots, depth, points = [1, 10, 64], [100, 1000, 16_384], [5, 20, 60], [1, 3, 1]
    together = execution_time(GARNET, circuits, shots, depth, points)
    one_by_one = [float(execution_time(GARNET, *job)) for job in zip(circuits, shots, depth, points, strict=True)]
    assert together.tolist() == one_by_one


def test_every_device_field_declares_how_a_scenario_reads_it() -> None:
    for f in dataclasses.fields(DeviceProfile):
        unit = f.metadata.get("unit")
        assert unit in UNITS or (unit is None and f.type in ("float", float)), f.name
    shot_batch = next(f for f in dataclasses.fields(DeviceProfile) if f.name == "shot_batch")
    assert shot_batch.metadata["unit"] == "count"
