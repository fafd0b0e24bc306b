"""What goes wrong: user aborts, stage failures and service restarts, as configured and as drawn for a run.

Scenario tables::

    [aborts]                  users cancel jobs (IQM: POST jobs/{id}/abort)
    probability = 0.05        share of jobs whose user cancels them
    delay = { dist = "exponential", mean = "5min" }   when, after submission
    jobs = [ { job = 12, at = "40s" } ]               explicit aborts: job id and time from the start

    [failures.STAGE]          a stage's own errors (validation, calibration, compilation, save_metadata,
    probability = 0.01        execution, post_processing): the job fails at a uniformly drawn point inside
    after_end = 0.1           its service, or (this share of the failures) after its work, while its result
                              is stored: then it fails from the stage's ENDED status
    errors = [ { user_message = "...", full_log = "..." } ]  the catalogue to draw from (a default per stage)

    [restarts]                the service restarts: volatile state is lost, persisted job records survive
    times = ["6h", "30h"]     scheduled restarts, and/or
    mean_time_between = "3d"  random ones (exponential gaps)
    downtime = "5min"         how long the service is down
    policy = "fail"           clean-up of in-progress jobs: "fail" (IQM) or "requeue"
    retry_delay = "30s"       clients retry submissions refused while the service is down

The draws for one run from this configuration are in ``sim.model.faults``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hardware_mock.errors import ErrorRecord
from sim.scenario.config import (
    Parser,
    ScenarioError,
    Table,
    choice,
    distribution,
    integer,
    probability,
    text,
    times_list,
)
from sim.scenario.distributions import Constant, Distribution, Exponential
from sim.scenario.units import parse_duration

FAILING_STAGES = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")
RESTART_POLICIES = ("fail", "requeue")


DEFAULT_ERRORS: dict[str, tuple[ErrorRecord, ...]] = {
    "validation": (ErrorRecord("Job validation failed", "ValidationError: the job's sweep definition is invalid"),),
    "calibration": (ErrorRecord("Could not fetch calibration data",
                             "CalibrationError: calibration service did not answer in time"),),
    "compilation": (ErrorRecord("Circuit compilation failed",
                             "CompilationError: no pulse schedule for a gate on the requested qubits"),),
    "save_metadata": (ErrorRecord("Internal error while saving the job",
                               "DatabaseError: could not store sweep metadata (connection reset)"),),
    "execution": (ErrorRecord("Instrument error during execution",
                           "InstrumentError: a controller reported an error during the sweep"),),
    "post_processing": (ErrorRecord("Internal error while processing results",
                                 "PostProcessingError: failed to persist execution artifacts"),),
}


@dataclass(frozen=True)
class ExplicitAbort:
    job: int
    at: float


@dataclass(frozen=True)
class Aborts:
    probability: float = 0.0
    delay: Distribution = Exponential(300.0)
    jobs: tuple[ExplicitAbort, ...] = ()


@dataclass(frozen=True)
class StageFailures:
    probability: float = 0.0
    after_end: float = 0.0
    """Share of the failures that strike after the stage's work, while its result is stored."""
    errors: tuple[ErrorRecord, ...] = ()
    """Empty: the stage's default catalogue."""


@dataclass(frozen=True)
class Restarts:
    times: tuple[float, ...] = ()
    mean_time_between: float | None = None
    downtime: Distribution = Constant(300.0)
    policy: str = "fail"
    retry_delay: float = 30.0


@dataclass(frozen=True)
class Faults:
    aborts: Aborts = Aborts()
    failures: tuple[tuple[str, StageFailures], ...] = ()
    """(stage, failures) for the stages that can fail."""
    restarts: Restarts = Restarts()

    def failures_of(self, stage: str) -> StageFailures:
        return dict(self.failures).get(stage, StageFailures())


# --- validation ---------------------------------------------------------------------------------------------

def _errors(source: str, path: str) -> Parser:
    def parse(value: object) -> tuple[ErrorRecord, ...]:
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list of {{ user_message = ..., full_log = ... }}, got {value!r}")
        return tuple(Table(source, f"{path}[{i}]", v).build(ErrorRecord, {"user_message": text, "full_log": text})
                     for i, v in enumerate(value))
    return parse


def _explicit_aborts(source: str, path: str) -> Parser:
    def parse(value: object) -> tuple[ExplicitAbort, ...]:
        if not isinstance(value, list):
            raise ValueError(f"expected a list of {{ job = ..., at = ... }}, got {value!r}")
        return tuple(Table(source, f"{path}[{i}]", v).build(ExplicitAbort, {"job": integer(0), "at": parse_duration})
                     for i, v in enumerate(value))
    return parse


def build_faults(root: Table) -> Faults:
    """The ``[aborts]``, ``[failures.*]`` and ``[restarts]`` tables of a scenario."""
    aborts_table = root.table("aborts")
    aborts = aborts_table.build(Aborts, {"probability": probability, "delay": distribution(parse_duration),
                                         "jobs": _explicit_aborts(root.source, aborts_table.key("jobs"))})
    failures_table = root.table("failures")
    for name in failures_table.data:
        if name not in FAILING_STAGES:
            raise failures_table.error(name, f"unknown stage; expected one of {', '.join(FAILING_STAGES)}")
    failures = tuple(
        (name, failures_table.table(name).build(StageFailures, {
            "probability": probability, "after_end": probability,
            "errors": _errors(root.source, failures_table.key(f"{name}.errors"))}))
        for name in FAILING_STAGES if name in failures_table.data)
    restarts = root.table("restarts").build(Restarts, {
        "times": times_list, "mean_time_between": parse_duration, "downtime": distribution(parse_duration),
        "policy": choice(RESTART_POLICIES), "retry_delay": parse_duration})
    if restarts.mean_time_between is not None and restarts.mean_time_between <= 0:
        raise root.table("restarts").error("mean_time_between", "expected a duration above zero")
    return Faults(aborts=aborts, failures=failures, restarts=restarts)


def check_explicit_aborts(source: str, aborts: Aborts, submitted_at: np.ndarray) -> None:
    """Explicit aborts must name a submitted job and come no earlier than its submission."""
    for i, abort in enumerate(aborts.jobs):
        key = f"aborts.jobs[{i}]"
        if abort.job >= len(submitted_at):
            raise ScenarioError(source, f"{key}.job", f"job {abort.job} is never submitted "
                                f"(the run submits jobs 0 to {len(submitted_at) - 1})")
        if abort.at < submitted_at[abort.job]:
            raise ScenarioError(source, f"{key}.at", f"abort at {abort.at:g} s comes before job {abort.job} is "
                                f"submitted at {submitted_at[abort.job]:g} s")
