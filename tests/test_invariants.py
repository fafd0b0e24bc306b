"""The invariant checker passes real runs and catches hand-made violations of each kind, in memory and in SQLite."""

from __future__ import annotations

import copy
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.model.records import JobRecords
from sim.model.status import ABORTED, FAILED, NOT_RECEIVED, READY, JobStatus
from sim.results import store
from sim.results.invariants import KINDS, History, Violation, assert_invariants, check

S = JobStatus
J = 100
"""The job most cases corrupt (every job of the baseline run ends READY)."""


@pytest.fixture(scope="module")
def result() -> sim.RunResult:
    return sim.simulate("scenarios/baseline.toml", seed=3, jobs=2000)


@pytest.fixture
def db(tmp_path: Path, result: sim.RunResult) -> Iterator[tuple[sqlite3.Connection, int]]:
    connection = store.connect(tmp_path / "r.sqlite")
    run_id = store.write_run(connection, result)
    yield connection, run_id
    connection.close()


def corrupt(result: sim.RunResult, edit: Callable[[JobRecords], None]) -> sim.RunResult:
    """A copy of ``result`` whose records ``edit`` changed (the shared fixture stays intact)."""
    records = copy.deepcopy(result.records)
    edit(records)
    return dataclasses.replace(result, records=records)


def found(violations: list[Violation]) -> set[tuple[str, int | None]]:
    return {(v.kind, v.job_id) for v in violations}


def by_execution(result: sim.RunResult) -> list[int]:
    """Job ids in the order they started executing."""
    order: list[int] = np.argsort(result.times[:, S.EXECUTION_STARTED.code], kind="stable").tolist()
    return order


def overlap_shift(result: sim.RunResult) -> tuple[int, int, float]:
    """A job, the job after it on the instrument, and how far to delay the first one's end so that it ends in
    the middle of the second one's execution."""
    first, second = by_execution(result)[J:J + 2]
    times = result.times
    middle = (times[second, S.EXECUTION_STARTED.code] + times[second, S.EXECUTION_ENDED.code]) / 2
    return first, second, float(middle - times[first, S.EXECUTION_ENDED.code])


# --- real runs --------------------------------------------------------------------------------------------------

def test_a_real_run_passes_in_memory_and_in_its_database(
        result: sim.RunResult, db: tuple[sqlite3.Connection, int], tmp_path: Path) -> None:
    connection, run_id = db
    assert check(result) == []
    assert check(connection, run_id) == []
    assert check(connection) == []  # the only run
    assert check(tmp_path / "r.sqlite") == []
    assert check(str(tmp_path / "r.sqlite"), run_id) == []
    assert_invariants(result)
    assert_invariants(connection, run_id)


def test_the_database_is_read_into_the_same_history(result: sim.RunResult, db: tuple[sqlite3.Connection, int]) -> None:
    memory, stored = History.from_result(result), History.from_database(*db)
    for field in ("job_ids", "final_status", "instrument", "job", "status", "t"):
        np.testing.assert_array_equal(getattr(memory, field), getattr(stored, field), err_msg=field)


def _abort_while_executing(r: JobRecords) -> None:
    ended = r.times[J, S.EXECUTION_ENDED.code]
    r.times[J, S.EXECUTION_ENDED.code:] = np.nan
    r.times[J, ABORTED] = ended  # the instrument is freed when the abort stops it
    r.status[J] = ABORTED


def _fail_in_validation(r: JobRecords) -> None:
    r.times[J, S.VALIDATION_ENDED.code:] = np.nan
    r.times[J, FAILED] = r.times[J, S.VALIDATION_STARTED.code] + 0.1
    r.status[J] = FAILED
    r.instrument[J] = -1


def _abort_on_receipt(r: JobRecords) -> None:
    r.times[J, S.VALIDATION_STARTED.code:] = np.nan
    r.times[J, ABORTED] = r.times[J, S.RECEIVED.code]
    r.status[J] = ABORTED
    r.instrument[J] = -1


def _never_received(r: JobRecords) -> None:
    r.times[J] = np.nan
    r.status[J] = NOT_RECEIVED
    r.instrument[J] = -1


@pytest.mark.parametrize("edit", [_abort_while_executing, _fail_in_validation, _abort_on_receipt, _never_received])
def test_legal_failure_abort_and_late_paths_pass(result: sim.RunResult, edit: Callable[[JobRecords], None]) -> None:
    assert check(corrupt(result, edit)) == []


def test_a_job_still_executing_at_the_end_holds_its_instrument(result: sim.RunResult) -> None:
    def stop_at_execution(job: int) -> Callable[[JobRecords], None]:
        def edit(r: JobRecords) -> None:
            r.times[job, S.EXECUTION_ENDED.code:] = np.nan
            r.status[job] = S.EXECUTION_STARTED.code
        return edit

    order = by_execution(result)
    assert check(corrupt(result, stop_at_execution(order[-1]))) == []
    # Every job that started after it would have shared the instrument with it.
    violations = check(corrupt(result, stop_at_execution(order[-4])))
    assert found(violations) == {("overlap", job) for job in order[-3:]}


# --- hand-made violations in memory ---------------------------------------------------------------------------

def _time_order(r: JobRecords) -> None:
    r.times[J, S.VALIDATION_ENDED.code] = r.times[J, S.VALIDATION_STARTED.code] - 1.0


def _after_terminal(r: JobRecords) -> None:
    r.times[J, FAILED] = r.times[J, READY] + 1.0
    r.status[J] = FAILED


def _skipped(r: JobRecords) -> None:
    r.times[J, S.COMPILATION_STARTED.code] = np.nan


def _terminal_alone(r: JobRecords) -> None:
    t = r.times[J, S.RECEIVED.code]
    r.times[J] = np.nan
    r.times[J, FAILED] = t
    r.status[J] = FAILED
    r.instrument[J] = -1


def _aborted_ready(r: JobRecords) -> None:
    r.times[J, ABORTED] = r.times[J, READY] + 1.0
    r.status[J] = ABORTED


def _final_status(r: JobRecords) -> None:
    r.status[J] = FAILED


def _lost(r: JobRecords) -> None:
    r.status[J] = NOT_RECEIVED


def _empty(r: JobRecords) -> None:
    r.times[J] = np.nan


def _no_instrument(r: JobRecords) -> None:
    r.instrument[J] = -1


MEMORY_CASES: dict[str, tuple[Callable[[JobRecords], None], set[tuple[str, int | None]]]] = {
    "time_order": (_time_order, {("time_order", J)}),
    "after_terminal": (_after_terminal, {("after_terminal", J)}),
    "skipped_status": (_skipped, {("skipped_status", J)}),
    "terminal_without_receipt": (_terminal_alone, {("skipped_status", J), ("count", None)}),
    "aborted_ready": (_aborted_ready, {("after_terminal", J), ("aborted_ready", J)}),
    "final_status": (_final_status, {("final_status", J)}),
    "received_but_no_final_status": (_lost, {("unaccounted", J), ("count", None)}),
    "final_status_but_no_timeline": (_empty, {("unaccounted", J), ("count", None)}),
    "no_instrument": (_no_instrument, {("no_instrument", J)}),
}


@pytest.mark.parametrize("case", MEMORY_CASES)
def test_catches_each_kind_in_memory(result: sim.RunResult, tmp_path: Path, case: str) -> None:
    edit, expected = MEMORY_CASES[case]
    bad = corrupt(result, edit)
    violations = check(bad)
    assert found(violations) == expected
    # The database written from the same records tells the same story, word for word.
    connection = store.connect(tmp_path / "bad.sqlite")
    assert check(connection, store.write_run(connection, bad)) == violations
    connection.close()
    assert check(result) == []  # the shared fixture is untouched


def test_an_inverted_pair_in_memory_is_a_time_order_violation(result: sim.RunResult) -> None:
    """In memory statuses are taken in status order, so a status stamped before a lower one breaks time order."""
    def swap(r: JobRecords) -> None:
        received, started = S.RECEIVED.code, S.VALIDATION_STARTED.code
        r.times[J, [received, started]] = r.times[J, [started, received]] + [1.0, 0.0]

    violations = check(corrupt(result, swap))
    assert found(violations) == {("time_order", J)}
    assert violations[0].detail.startswith("validation_started at t=")


def test_catches_overlapping_executions_in_memory(result: sim.RunResult) -> None:
    first, second, delay = overlap_shift(result)

    def late_end(r: JobRecords) -> None:
        r.times[first, S.EXECUTION_ENDED.code:READY + 1] += delay

    violations = check(corrupt(result, late_end))
    assert found(violations) == {("overlap", second)}
    assert f"while job {first} held it" in violations[0].detail


def test_every_violation_of_many_jobs_is_reported(result: sim.RunResult) -> None:
    jobs = list(range(0, 2000, 7))

    def edit(r: JobRecords) -> None:
        for job in jobs:
            r.times[job, S.COMPILATION_STARTED.code] = np.nan
            r.instrument[job] = -1

    violations = check(corrupt(result, edit))
    assert [v.job_id for v in violations if v.kind == "skipped_status"] == jobs
    assert [v.job_id for v in violations if v.kind == "no_instrument"] == jobs
    assert len(violations) == 2 * len(jobs)
    assert [v.kind for v in violations] == sorted((v.kind for v in violations), key=KINDS.index)


# --- hand-made violations in the database ---------------------------------------------------------------------

LATER = ("t_execution_ended", "t_post_processing_pending", "t_post_processing_started", "t_post_processing_ended",
         "t_ready")
# The database keeps one time per status in each job's row (the ``transitions`` view reads them in lifecycle
# order), so a repeated or unknown status cannot be written there; every other kind can.
DB_CASES: dict[str, tuple[list[str], set[tuple[str, int | None]]]] = {
    "time_order": (
        [f"UPDATE jobs SET t_compilation_ended = t_compilation_ended - 100 WHERE job_id = {J}"],
        {("time_order", J)}),
    "after_terminal_then_failed": (
        [f"UPDATE jobs SET t_failed = t_ready + 1, final_status = 'failed' WHERE job_id = {J}"],
        {("after_terminal", J)}),
    "skipped_status": (
        [f"UPDATE jobs SET t_fetch_calibration_started = NULL WHERE job_id = {J}"],
        {("skipped_status", J)}),
    "skipped_received": (
        [f"UPDATE jobs SET t_received = NULL WHERE job_id = {J}"],
        {("skipped_status", J), ("count", None)}),
    "aborted_ready": (
        [f"UPDATE jobs SET t_aborted = t_ready, final_status = 'aborted' WHERE job_id = {J}"],
        {("after_terminal", J), ("aborted_ready", J)}),
    "final_status_other": (
        [f"UPDATE jobs SET final_status = 'aborted' WHERE job_id = {J}"],
        {("final_status", J)}),
    "final_status_unknown": (
        [f"UPDATE jobs SET final_status = 'finished' WHERE job_id = {J}"],
        {("final_status", J), ("count", None)}),
    "unaccounted_null_final_status": (
        [f"UPDATE jobs SET final_status = NULL WHERE job_id = {J}"],
        {("unaccounted", J), ("count", None)}),
    "unaccounted_no_transitions": (
        [f"UPDATE jobs SET {', '.join(f't_{s.value} = NULL' for s in S)} WHERE job_id = {J}"],
        {("unaccounted", J), ("count", None)}),
    "unaccounted_no_jobs_row": (
        [f"DELETE FROM jobs WHERE job_id = {J}"],
        set()),  # the job's row holds its timeline too: the job is simply not in the database
    "no_instrument": (
        [f"UPDATE jobs SET instrument = NULL WHERE job_id = {J}"],
        {("no_instrument", J)}),
}


@pytest.mark.parametrize("case", DB_CASES)
def test_catches_each_kind_in_the_database(db: tuple[sqlite3.Connection, int], case: str) -> None:
    connection, run_id = db
    statements, expected = DB_CASES[case]
    with connection:
        for statement in statements:
            assert connection.execute(statement).rowcount >= 1, statement
    assert found(check(connection, run_id)) == expected


def test_catches_overlapping_executions_in_the_database(
        result: sim.RunResult, db: tuple[sqlite3.Connection, int]) -> None:
    connection, run_id = db
    first, second, delay = overlap_shift(result)
    with connection:
        connection.execute(f"UPDATE jobs SET {', '.join(f'{c} = {c} + ?' for c in LATER)} WHERE job_id = ?",
                           (*[delay] * len(LATER), first))
    violations = check(connection, run_id)
    assert found(violations) == {("overlap", second)}
    assert f"while job {first} held it" in violations[0].detail


def test_an_incomplete_run_is_checked_on_the_jobs_it_committed(db: tuple[sqlite3.Connection, int]) -> None:
    """A run that died has committed whole jobs (jobs row and transitions together), and those must hold."""
    connection, run_id = db
    with connection:
        connection.execute("UPDATE runs SET complete = 0 WHERE run_id = ?", (run_id,))
        connection.execute("DELETE FROM jobs WHERE job_id >= 1500")
    assert check(connection, run_id) == []
    with connection:  # a job whose timeline is missing from its row is unaccounted for, complete run or not
        connection.execute(f"UPDATE jobs SET {', '.join(f't_{s.value} = NULL' for s in S)} WHERE job_id = 1400")
    assert found(check(connection, run_id)) == {("unaccounted", 1400), ("count", None)}
    with connection:
        connection.execute("DELETE FROM jobs WHERE job_id = 1400")
    with connection:
        connection.execute(f"UPDATE jobs SET t_ready = t_ready - 100 WHERE job_id = {J}")
        connection.execute("UPDATE jobs SET final_status = 'failed' WHERE job_id = 1000")
    assert found(check(connection, run_id)) == {("time_order", J), ("final_status", 1000)}


def test_runs_are_checked_separately(result: sim.RunResult, db: tuple[sqlite3.Connection, int]) -> None:
    connection, first = db
    second = store.write_run(connection, result)
    with connection:
        connection.execute("UPDATE jobs SET instrument = NULL WHERE run_id = ? AND job_id = ?", (second, J))
    assert check(connection, first) == []
    assert found(check(connection, second)) == {("no_instrument", J)}
    with pytest.raises(ValueError, match="holds 2 runs"):
        check(connection)
    with pytest.raises(ValueError, match="no run with run_id 99"):
        check(connection, 99)


def test_bad_sources_are_refused(result: sim.RunResult, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no results database at .*missing\.sqlite"):
        check(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()
    with pytest.raises(ValueError, match="run_id applies only"):
        check(result, 1)


# --- the report ---------------------------------------------------------------------------------------------------

def test_assert_invariants_lists_the_first_violations_and_counts_the_rest(result: sim.RunResult) -> None:
    def edit(r: JobRecords) -> None:
        for job in range(30):
            r.instrument[job] = -1
        r.status[40] = FAILED

    with pytest.raises(AssertionError) as raised:
        assert_invariants(corrupt(result, edit), show=5)
    message = str(raised.value)
    assert message.splitlines()[0] == "31 invariant violation(s) (final_status: 1, no_instrument: 30):"
    assert "job 40: final_status: final status is failed but the last transition is ready" in message
    assert "job 0: no_instrument: started executing at t=" in message
    assert "job 4: no_instrument" not in message
    assert message.splitlines()[-1] == "  ... and 26 more"


def test_a_hand_built_timeline_that_steps_back_or_names_no_status_is_caught() -> None:
    """The records and the database keep one time per status, so only a timeline built by other means (a user's
    own) can repeat a status or step back; the checker catches that too."""
    from sim.results.invariants import UNKNOWN, History, check_history

    received, started, ended = S.RECEIVED.code, S.VALIDATION_STARTED.code, S.VALIDATION_ENDED.code
    history = History(job_ids=np.array([0, 1]), final_status=np.array([ended, received]),
                      instrument=np.array([-1, -1]), job=np.array([0, 0, 0, 0, 1, 1]),
                      status=np.array([received, started, ended, started, received, UNKNOWN]),
                      t=np.array([0.0, 1.0, 2.0, 3.0, 0.0, 1.0]))
    assert found(check_history(history)) >= {("status_order", 0), ("unknown_status", 1)}
