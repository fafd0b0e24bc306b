"""Calibration sets and the recalibration plan: VTT Q50's twice-a-day schedule, expiry, and fetch times."""

from __future__ import annotations

import math

import pytest

from hardware_mock.calibration import (
    CalibrationPlan,
    CalibrationSet,
    fetch_time,
    initial_set,
    next_recalibration,
    next_scheduled,
    parse_time_of_day,
)

HOUR = 3600.0
DAY = 24 * HOUR
PLAN = CalibrationPlan()


def recalibrations(plan: CalibrationPlan, horizon: float) -> list[tuple[float, str, CalibrationSet]]:
    """(start, reason, set made) of each recalibration before ``horizon`` when each starts as soon as it is
    requested: ``next_recalibration`` asked after each one, as the simulator does."""
    current, now, schedule = initial_set(plan), 0.0, []
    while True:
        starts_at, reason = next_recalibration(plan, current, now)
        if starts_at >= horizon:
            return schedule
        now = starts_at + plan.duration
        current = CalibrationSet(current.id + 1, now, plan.valid_for)
        schedule.append((starts_at, reason, current))


def recalibration_times(plan: CalibrationPlan, horizon: float) -> list[float]:
    return [start for start, _, _ in recalibrations(plan, horizon)]


def test_clock_times_read_as_seconds_after_midnight() -> None:
    assert parse_time_of_day("00:45") == 45 * 60
    assert parse_time_of_day("14:15") == 14 * HOUR + 15 * 60
    assert parse_time_of_day(" 23:59:59 ") == DAY - 1
    for bad in ("24:00", "7", "12:60", "noon", "-1:00"):
        with pytest.raises(ValueError, match="time of day"):
            parse_time_of_day(bad)


def test_the_default_plan_recalibrates_at_0045_and_1415_utc_for_thirty_minutes() -> None:
    # days start at midnight: 00:45 = 2,700 s, 14:15 = 51,300 s, then the same plus 86,400 s per day
    assert recalibration_times(PLAN, 3 * DAY) == [2700, 51300, 89100, 137700, 175500, 224100]
    starts_at, reason, made = recalibrations(PLAN, DAY)[0]
    assert (starts_at, reason) == (2700, "scheduled")
    assert made == CalibrationSet(1, 2700 + 1800, DAY)


def test_the_run_starts_with_the_set_of_the_last_scheduled_recalibration() -> None:
    # run starting at midnight: the previous day's 14:15 run ended at 14:45, 9 h 15 min before the start
    assert initial_set(PLAN) == CalibrationSet(0, -(9 * HOUR + 15 * 60), DAY)
    # run starting at 01:00: the 00:45 run ends at 01:15, after the start, so the set is yesterday's 14:45 one
    at_one = CalibrationPlan(start_time_of_day=HOUR)
    assert initial_set(at_one).created_at == -(10 * HOUR + 15 * 60)
    assert recalibration_times(at_one, DAY) == [13 * HOUR + 15 * 60, 23 * HOUR + 45 * 60]


def test_a_set_that_expires_before_the_next_scheduled_time_triggers_a_recalibration() -> None:
    # valid 12 h, run starts at 12:00: set 0 was made at 01:15 and expires at 13:15 (4,500 s), before 14:15
    plan = CalibrationPlan(valid_for=12 * HOUR, start_time_of_day=12 * HOUR)
    schedule = recalibrations(plan, DAY)
    assert [(start, reason) for start, reason, _ in schedule] == [
        (4500, "expiry"),  # 13:15
        (8100, "scheduled"),  # 14:15
        (45_900, "scheduled"),  # 00:45 the next day
    ]
    assert initial_set(plan).is_valid_at(4000.0)
    assert not initial_set(plan).is_valid_at(5000.0)  # expired, and the recalibration still running


def test_an_expiry_only_plan_recalibrates_every_validity_period_plus_duration() -> None:
    plan = CalibrationPlan(times_of_day=(), valid_for=6 * HOUR)
    # set 0 made at the start; expires at 6 h; each new set is made 30 min later and lasts 6 h
    assert recalibration_times(plan, DAY) == [6 * HOUR, 12.5 * HOUR, 19 * HOUR]


def test_a_plan_without_schedule_or_expiry_never_recalibrates() -> None:
    plan = CalibrationPlan(times_of_day=(), valid_for=math.inf)
    assert recalibrations(plan, 30 * DAY) == []
    assert next_scheduled(plan, 0.0) == math.inf


def test_scheduled_times_passed_while_waiting_for_the_instrument_are_skipped() -> None:
    # the 00:45 recalibration waited in the queue until 14:20 and ended at 14:50: the next one is 00:45 tomorrow
    ended = 14 * HOUR + 50 * 60
    made = CalibrationSet(1, ended, DAY)
    assert next_recalibration(PLAN, made, ended) == (DAY + 45 * 60, "scheduled")
    assert next_scheduled(PLAN, 2700.0) == 2700.0


def test_fetching_a_cached_set_is_fast() -> None:
    assert fetch_time(PLAN, 3, cached_set_id=3) == 0.05
    assert fetch_time(PLAN, 3, cached_set_id=2) == 2.0
    assert fetch_time(PLAN, 3, cached_set_id=None) == 2.0


@pytest.mark.parametrize(("changes", "message"), [
    ({"times_of_day": (DAY,)}, "within one day"),
    ({"times_of_day": (HOUR, HOUR)}, "increasing"),
    ({"duration": 0.0}, "some time"),
    ({"valid_for": 0.0}, "valid_for"),
    ({"on_expired": "ignore"}, "on_expired"),
    ({"start_time_of_day": -1.0}, "start_time_of_day"),
])
def test_impossible_plans_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalibrationPlan(**changes)  # type: ignore[arg-type]
