"""One job's run: its steps add up to the timing model, progress as IQM reports it, interrupts at batch ends.

The worked job: Garnet, 10 circuits x 1,000 shots at depth 20, 3 sweep points, batches of 100 shots.
- arming 0.9 s; no upload (circuit_overhead 0);
- one repetition of the playlist: 10 circuits x 350.8 us = 3.508 ms; one sweep point: 1,000 x 3.508 ms = 3.508 s;
- the run: 0.9 s + 3 x 3.508 s = 11.424 s;
- a batch: 100 shots x 3.508 ms = 0.3508 s.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware_mock import GARNET, HERON
from hardware_mock.execution import SHOTS_LABEL, SWEEP_POINTS_LABEL, ExecutionPlan
from hardware_mock.timing import execution_time

PLAN = ExecutionPlan(GARNET, circuits=10, shots=1000, depth=20, sweep_points=3)


def progress(points: int, shots: int, of_points: int = 3, of_shots: int = 1000) -> list[tuple[str, int, int]]:
    return [(SWEEP_POINTS_LABEL, points, of_points), (SHOTS_LABEL, shots, of_shots)]


def test_the_steps_add_up_to_the_timing_model() -> None:
    assert PLAN.arming == 0.9
    assert PLAN.upload == 0.0
    assert PLAN.repetition == pytest.approx(3.508e-3)
    assert PLAN.point_duration == pytest.approx(3.508)
    assert PLAN.duration == pytest.approx(11.424)
    assert PLAN.duration == float(execution_time(GARNET, 10, 1000, 20, 3))


def test_progress_counts_finished_points_and_shots() -> None:
    assert PLAN.progress(0.0) == progress(0, 0)
    assert PLAN.progress(0.5) == progress(0, 0)  # arming
    # 2.0 s: 1.1 s into point 0, 1.1 / 3.508 ms = 313.6 -> 313 shots
    assert PLAN.progress(2.0) == progress(0, 313)
    # 5.0 s: 4.1 s into the points, 0.592 s into point 1: 168.8 -> 168 shots
    assert PLAN.progress(5.0) == progress(1, 168)
    assert PLAN.progress(0.9 + 3.508) == progress(1, 0)
    assert PLAN.progress(PLAN.duration) == progress(3, 1000)
    assert PLAN.progress(100.0) == progress(3, 1000)


def test_an_interrupt_stops_at_the_end_of_the_batch_in_progress() -> None:
    # at 2.0 s, 313.6 shots into point 0: the 4th batch ends at 0.9 + 400 x 3.508 ms = 2.3032 s
    stop = PLAN.interrupt(2.0)
    assert stop.stops_at == pytest.approx(2.3032)
    assert stop.overrun == pytest.approx(0.3032)
    assert stop.progress == progress(0, 400)
    assert not stop.completed
    # at 5.0 s, 168.8 shots into point 1: the 2nd batch ends at 0.9 + 3.508 + 200 x 3.508 ms = 5.1096 s
    assert PLAN.interrupt(5.0).stops_at == pytest.approx(5.1096)
    assert PLAN.interrupt(5.0).progress == progress(1, 200)


def test_an_interrupt_while_arming_lets_the_arming_finish() -> None:
    stop = PLAN.interrupt(0.5)
    assert (stop.stops_at, stop.progress, stop.completed) == (0.9, progress(0, 0), False)
    assert PLAN.interrupt(0.0).stops_at == 0.0


def test_an_interrupt_between_points_stops_at_once() -> None:
    between = 0.9 + 3.508
    stop = PLAN.interrupt(between)
    assert stop.stops_at == pytest.approx(between)
    assert stop.progress == progress(1, 0)


def test_an_interrupt_in_the_last_batch_or_after_the_end_completes_the_run() -> None:
    for elapsed in (PLAN.duration - 0.1, PLAN.duration, PLAN.duration + 5):
        stop = PLAN.interrupt(elapsed)
        assert stop.completed
        assert stop.stops_at == PLAN.duration
        assert stop.progress == progress(3, 1000)


def test_an_interrupt_during_an_upload_lets_the_upload_finish() -> None:
    # 10 ms per circuit: a 0.1 s upload at the start of each point; the point takes 0.1 + 3.508 = 3.608 s
    plan = ExecutionPlan(dataclasses.replace(GARNET, circuit_overhead=0.01), 10, 1000, 20, 3)
    stop = plan.interrupt(0.9 + 3.608 + 0.05)
    assert stop.stops_at == pytest.approx(0.9 + 3.608 + 0.1)
    assert stop.progress == progress(1, 0)
    assert plan.progress(0.9 + 0.1 + 0.3508 + 1e-6) == progress(0, 100)


def test_a_device_without_shot_batches_stops_only_between_points() -> None:
    plan = ExecutionPlan(dataclasses.replace(GARNET, shot_batch=0), 10, 1000, 20, 3)
    assert plan.batch == 1000
    stop = plan.interrupt(2.0)
    assert stop.stops_at == pytest.approx(0.9 + 3.508)
    assert stop.progress == progress(1, 0)


def test_a_batch_larger_than_the_shots_is_the_whole_point() -> None:
    plan = ExecutionPlan(HERON, circuits=2, shots=50, depth=10)
    assert plan.batch == 50
    assert plan.interrupt(plan.arming + 1e-4).completed


def test_a_job_needs_circuits_shots_and_sweep_points() -> None:
    with pytest.raises(ValueError, match="shots"):
        ExecutionPlan(GARNET, circuits=1, shots=0, depth=5)


@settings(max_examples=300, deadline=None)
@given(
    circuits=st.integers(1, 20), shots=st.integers(1, 3000), depth=st.integers(0, 200),
    points=st.integers(1, 5), batch=st.integers(0, 500), upload=st.sampled_from([0.0, 1e-3, 0.05]),
    fraction=st.floats(0, 1.2),
)
def test_interrupts_never_stop_early_or_late_and_keep_the_progress_shown(
    circuits: int, shots: int, depth: int, points: int, batch: int, upload: float, fraction: float
) -> None:
    device = dataclasses.replace(GARNET, shot_batch=batch, circuit_overhead=upload)
    plan = ExecutionPlan(device, circuits, shots, depth, points)
    elapsed = fraction * plan.duration
    stop = plan.interrupt(elapsed)
    assert stop.stops_at <= plan.duration
    if elapsed < plan.duration:
        assert stop.stops_at >= elapsed
    longest_step = max(plan.arming, plan.upload, plan.batch * plan.repetition)
    assert stop.overrun <= longest_step * (1 + 1e-9)
    assert plan.progress(stop.stops_at) == stop.progress
    assert stop.completed == (stop.progress == progress(points, shots, points, shots))
    shown = plan.progress(elapsed)
    assert (shown[0][1], shown[1][1]) <= (stop.progress[0][1], stop.progress[1][1])
