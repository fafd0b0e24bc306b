"""The status model: ``sim.JobStatus`` behaves exactly like IQM's ``JobExecutorStatus``, and the lifecycle's legal
transitions (one step along the happy path, or any non-terminal status to FAILED or ABORTED) are enforced."""

# ruff: noqa: SIM300  (comparisons with the string on the left are what is under test)

from __future__ import annotations

import enum
import itertools
from collections.abc import Generator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim import JobStatus
from sim.model.status import NOT_RECEIVED, check_transition, is_legal, legal_successors

IQM_MEMBERS = (
    "RECEIVED", "VALIDATION_STARTED", "VALIDATION_ENDED", "FETCH_CALIBRATION_STARTED", "FETCH_CALIBRATION_ENDED",
    "COMPILATION_STARTED", "COMPILATION_ENDED", "SAVE_SWEEP_METADATA_STARTED", "SAVE_SWEEP_METADATA_ENDED",
    "PENDING_EXECUTION", "EXECUTION_STARTED", "EXECUTION_ENDED", "POST_PROCESSING_PENDING",
    "POST_PROCESSING_STARTED", "POST_PROCESSING_ENDED", "READY", "FAILED", "ABORTED",
)
"""IQM's members in definition order (``iqm.station_control.interface.models.jobs``)."""
MEMBERS = [JobStatus[name] for name in IQM_MEMBERS]
HAPPY_PATH = MEMBERS[:16]
TERMINAL = {JobStatus.READY, JobStatus.FAILED, JobStatus.ABORTED}


# --- the enum ---------------------------------------------------------------------------------------------------


def test_members_in_definition_order_with_lower_case_values() -> None:
    assert [m.name for m in JobStatus] == list(IQM_MEMBERS)
    assert [m.value for m in JobStatus] == [name.lower() for name in IQM_MEMBERS]
    assert len(JobStatus) == 18


def test_plain_enum_not_a_str_subclass() -> None:
    assert issubclass(JobStatus, enum.Enum)
    assert not issubclass(JobStatus, str)
    assert not isinstance(JobStatus.READY, str)
    assert JobStatus("ready") is JobStatus.READY


def test_ordering_is_definition_order() -> None:
    for (i, a), (j, b) in itertools.product(enumerate(MEMBERS), repeat=2):
        assert (a < b) == (i < j), (a, b)
        assert (a <= b) == (i <= j), (a, b)
        assert (a > b) == (i > j), (a, b)
        assert (a >= b) == (i >= j), (a, b)
    assert sorted(MEMBERS[1::2] + MEMBERS[::2]) == MEMBERS
    assert max(MEMBERS) is JobStatus.ABORTED
    assert min(MEMBERS) is JobStatus.RECEIVED


def test_comparison_with_strings_from_either_side() -> None:
    assert "received" < JobStatus.COMPILATION_STARTED
    assert JobStatus.READY > "received"
    assert JobStatus.RECEIVED < "compilation_started"
    assert "ready" > JobStatus.RECEIVED
    assert "ready" >= JobStatus.READY
    assert JobStatus.READY <= "ready"
    assert not JobStatus.READY < "ready"
    assert not "aborted" < JobStatus.FAILED


def test_string_comparison_is_case_insensitive() -> None:
    assert "RECEIVED" < JobStatus.READY
    assert JobStatus.READY > "Received"
    assert JobStatus.PENDING_EXECUTION < "EXECUTION_STARTED"
    assert JobStatus.READY == "Ready"


@pytest.mark.parametrize("text", ["nonsense", "", "ready ", "readyy", "5"])
def test_unknown_string_is_not_comparable(text: str) -> None:
    assert JobStatus.READY.__lt__(text) is NotImplemented
    with pytest.raises(TypeError):
        _ = JobStatus.READY < text
    with pytest.raises(TypeError):
        _ = text < JobStatus.READY
    with pytest.raises(TypeError):
        _ = JobStatus.READY >= text


def test_not_comparable_with_other_types() -> None:
    with pytest.raises(TypeError):
        _ = JobStatus.READY < 3
    with pytest.raises(TypeError):
        _ = JobStatus.READY > None


def test_equality_with_strings() -> None:
    assert JobStatus.READY == "READY"
    assert JobStatus.READY == "ready"
    assert "ready" == JobStatus.READY
    assert JobStatus.READY != "failed"
    assert JobStatus.READY != "nonsense"  # an unknown string is simply not equal, not an error
    assert not JobStatus.READY == "nonsense"  # noqa: SIM201  (== itself is under test)
    assert JobStatus.READY != 15
    assert JobStatus.READY != JobStatus.FAILED
    assert JobStatus.READY == JobStatus.READY
    for member in MEMBERS:
        assert member == member.value
        assert member == member.name


def test_hash_is_hash_of_the_name() -> None:
    for member in MEMBERS:
        assert hash(member) == hash(member.name)
    statuses = set(MEMBERS)
    assert len(statuses) == 18
    assert JobStatus.READY in statuses
    assert "READY" in statuses  # hashed by name and equal to it
    counts = {JobStatus.READY: 1}
    counts[JobStatus.READY] += 1
    assert counts == {JobStatus.READY: 2}
    assert counts["READY"] == 2


def test_str_is_the_lower_case_name() -> None:
    for member in MEMBERS:
        assert str(member) == member.name.lower() == member.value
    assert f"{JobStatus.PENDING_EXECUTION}" == "pending_execution"


def test_terminal_and_in_progress_statuses() -> None:
    assert JobStatus.terminal_statuses() == {JobStatus.ABORTED, JobStatus.FAILED, JobStatus.READY}
    in_progress = JobStatus.in_progress_statuses()
    assert in_progress == set(MEMBERS) - TERMINAL
    assert len(in_progress) == 15
    assert in_progress.isdisjoint(JobStatus.terminal_statuses())
    # calling them from a member works too, as with IQM's classmethods
    assert JobStatus.READY.terminal_statuses() == JobStatus.terminal_statuses()


# --- legal transitions ------------------------------------------------------------------------------------------


def rule(old: JobStatus | None, new: JobStatus) -> bool:
    """The lifecycle, stated independently of ``sim.model.status``: ``old`` None is a job not yet received."""
    if old is None:
        return new is JobStatus.RECEIVED
    if old in TERMINAL:
        return False
    if new in (JobStatus.FAILED, JobStatus.ABORTED):
        return True
    return new in HAPPY_PATH and HAPPY_PATH.index(new) == HAPPY_PATH.index(old) + 1


def code(status: JobStatus | None) -> int:
    return NOT_RECEIVED if status is None else MEMBERS.index(status)


def test_happy_path_one_step_at_a_time() -> None:
    assert is_legal(NOT_RECEIVED, code(JobStatus.RECEIVED))
    check_transition(0, NOT_RECEIVED, code(JobStatus.RECEIVED))
    for old, new in itertools.pairwise(HAPPY_PATH):
        assert is_legal(code(old), code(new)), (old, new)
        check_transition(0, code(old), code(new))


def test_skipping_or_going_back_is_illegal() -> None:
    for i, j in itertools.product(range(16), repeat=2):
        if j != i + 1:
            assert not is_legal(i, j), (HAPPY_PATH[i], HAPPY_PATH[j])
    assert not is_legal(NOT_RECEIVED, code(JobStatus.VALIDATION_STARTED))
    assert not is_legal(NOT_RECEIVED, code(JobStatus.FAILED))  # a job not received cannot fail or be aborted
    assert not is_legal(NOT_RECEIVED, code(JobStatus.ABORTED))


@pytest.mark.parametrize("old", sorted(set(MEMBERS) - TERMINAL), ids=str)
def test_any_non_terminal_status_may_fail_or_abort(old: JobStatus) -> None:
    assert is_legal(code(old), code(JobStatus.FAILED))
    assert is_legal(code(old), code(JobStatus.ABORTED))
    assert {JobStatus.FAILED, JobStatus.ABORTED} <= legal_successors(old)


@pytest.mark.parametrize("old", sorted(TERMINAL), ids=str)
def test_nothing_leaves_a_terminal_status(old: JobStatus) -> None:
    assert legal_successors(old) == set()
    for new in MEMBERS:
        assert not is_legal(code(old), code(new))
        with pytest.raises(sim.IllegalTransition):
            check_transition(1, code(old), code(new))


def test_legal_successors_match_the_rule() -> None:
    for old in MEMBERS:
        assert legal_successors(old) == {new for new in MEMBERS if rule(old, new)}, old
    assert legal_successors(JobStatus.RECEIVED) == {JobStatus.VALIDATION_STARTED, JobStatus.FAILED,
                                                    JobStatus.ABORTED}
    assert legal_successors(JobStatus.POST_PROCESSING_ENDED) == {JobStatus.READY, JobStatus.FAILED,
                                                                 JobStatus.ABORTED}


@pytest.mark.parametrize(("old", "new"), [
    (JobStatus.READY, JobStatus.FAILED),
    (JobStatus.RECEIVED, JobStatus.COMPILATION_STARTED),
    (JobStatus.EXECUTION_STARTED, JobStatus.PENDING_EXECUTION),
    (JobStatus.ABORTED, JobStatus.READY),
    (JobStatus.FAILED, JobStatus.ABORTED),
    (None, JobStatus.EXECUTION_STARTED),
], ids=str)
def test_illegal_transition_names_both_statuses(old: JobStatus | None, new: JobStatus) -> None:
    with pytest.raises(sim.IllegalTransition) as caught:
        check_transition(42, code(old), code(new))
    message = str(caught.value).lower()
    assert new.name.lower() in message
    if old is not None:
        assert old.name.lower() in message
        assert message.index(old.name.lower()) < message.index(new.name.lower())  # "old -> new"
    assert "42" in message  # and the job
    assert caught.value.old == old
    assert caught.value.new == new


def test_illegal_transition_is_an_exception_exported_by_sim() -> None:
    assert issubclass(sim.IllegalTransition, Exception)
    assert sim.model.status.IllegalTransition is sim.IllegalTransition


statuses_or_none = st.one_of(st.none(), st.sampled_from(MEMBERS))


@settings(max_examples=300, deadline=None)
@given(old=statuses_or_none, new=st.sampled_from(MEMBERS))
def test_is_legal_agrees_with_the_rule(old: JobStatus | None, new: JobStatus) -> None:
    assert is_legal(code(old), code(new)) == rule(old, new)
    if rule(old, new):
        check_transition(0, code(old), code(new))
    else:
        with pytest.raises(sim.IllegalTransition):
            check_transition(0, code(old), code(new))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.one_of(
    st.just("next"), st.sampled_from(MEMBERS)), min_size=1, max_size=25))
def test_walks_are_accepted_exactly_up_to_the_first_illegal_step(steps: list[object]) -> None:
    """A walk of statuses (mostly forward steps, with random jumps): ``check_transition`` accepts each step the
    rule allows and raises at the first one it does not."""
    current: JobStatus | None = None
    for step in steps:
        if step == "next":
            if current in TERMINAL:
                continue
            new = JobStatus.RECEIVED if current is None else MEMBERS[code(current) + 1]
        else:
            assert isinstance(step, JobStatus)
            new = step
        if rule(current, new):
            check_transition(7, code(current), code(new))
            current = new
        else:
            with pytest.raises(sim.IllegalTransition):
                check_transition(7, code(current), code(new))
            return



def _run_tampered(job: int, at: float) -> None:
    """Two jobs submitted at t = 0 to a station of one worker a stage and one instrument, every service 1 s (job 0
    is served in stage k over [k, k + 1], job 1 waits behind it); at ``at`` job ``job``'s persisted status is
    overwritten with READY."""
    import simpy

    from sim.model.station import Station
    from sim.model.workload import sample_workload
    from sim.scenario.scenario import STAGE_NAMES
    from sim.scenario.streams import RandomStreams

    stages = {name: {"workers": 1, "duration": 1.0} for name in STAGE_NAMES}
    scenario = sim.Scenario.from_dict({"name": "tamper", "arrivals": {"times": [0.0, 0.0]}, "stages": stages,
                                       "hardware": {"instruments": 1, "execution_time": 1.0}}, source="tamper.toml")
    streams = RandomStreams(1)
    station = Station(scenario, sample_workload(scenario, 2, streams), streams)

    def tamper() -> Generator[simpy.Event, object, None]:
        yield station.env.timeout(at)
        station.records.status[job] = JobStatus.READY.code

    station.start()
    station.env.process(tamper())
    station.run()


@pytest.mark.parametrize(("job", "at", "moving_to"), [
    (0, 0.5, JobStatus.VALIDATION_ENDED),
    (1, 0.5, JobStatus.VALIDATION_STARTED),  # job 1 waits for validation's one worker over [0, 1]
    (0, 2.5, JobStatus.COMPILATION_ENDED),
    (0, 4.5, JobStatus.EXECUTION_ENDED),
    (0, 5.5, JobStatus.POST_PROCESSING_ENDED),
], ids=lambda value: value.name.lower() if isinstance(value, JobStatus) else str(value))
def test_the_job_process_checks_every_move_it_writes(job: int, at: float, moving_to: JobStatus) -> None:
    """The job process writes its stages' STARTED and ENDED straight into the records (its hot path); a job whose
    persisted status is not the one before still raises ``IllegalTransition`` at once, naming both."""
    with pytest.raises(sim.IllegalTransition) as caught:
        _run_tampered(job, at)
    assert (caught.value.job_id, caught.value.old, caught.value.new) == (job, JobStatus.READY, moving_to)
