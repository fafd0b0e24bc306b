"""Hypothesis strategies of valid scenarios, workloads and scheduler tables, for property tests.

Scenarios are generated in their TOML form (nested dicts, as ``sim.Scenario.from_dict`` takes them) and kept
small (a few dozen jobs, second-scale service times), so that a property test can run many of them quickly::

    from hypothesis import given
    from sim import Scenario, simulate
    from sim.testing import assert_invariants
    from sim.testing.strategies import scenario_dicts

    @given(scenario_dicts(with_faults=True))
    def test_any_scenario_keeps_the_invariants(data):
        assert_invariants(simulate(Scenario.from_dict(data)))

``schedulers(users, projects)`` draws a ``[scheduler]`` table: any built-in policy with valid options, and for
the timeslot policy reserved windows owned by the given users and projects. This module needs ``hypothesis``.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

STAGE_NAMES = ("validation", "calibration", "compilation", "save_metadata", "post_processing")
DEVICE_PRESETS = ("garnet", "emerald", "heron")

# --- quantities -------------------------------------------------------------------------------------------------

_SCALES = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}


@st.composite
def durations(draw: st.DrawFn, max_seconds: float = 30.0) -> object:
    """A duration as a scenario writes it: a bare number of seconds or a string with a unit."""
    seconds = draw(st.floats(0, max_seconds, allow_nan=False, allow_infinity=False))
    form = draw(st.sampled_from(("number", "int", *_SCALES)))
    if form == "number":
        return seconds
    if form == "int":
        return int(seconds)
    return f"{seconds / _SCALES[form]:.6g}{form}"


def positive_durations(max_seconds: float = 30.0) -> st.SearchStrategy[object]:
    return st.floats(1e-3, max_seconds).map(lambda s: f"{s:.4g}s")


def distributions(quantity: st.SearchStrategy[object], positive: st.SearchStrategy[object]) -> st.SearchStrategy[Any]:
    """Every distribution family, as the scenario writes it; ``quantity`` draws values, ``positive`` means."""
    cvs = st.one_of(st.just(0.0), st.floats(1e-6, 2))
    return st.one_of(
        quantity,
        st.fixed_dictionaries({"dist": st.just("constant"), "value": quantity}),
        st.fixed_dictionaries({"dist": st.just("exponential"), "mean": positive}),
        st.tuples(st.floats(0, 10), st.floats(0, 10)).map(
            lambda lh: {"dist": "uniform", "low": min(lh), "high": max(lh)}),
        st.fixed_dictionaries({"dist": st.just("lognormal"), "mean": positive, "cv": cvs}),
        st.fixed_dictionaries({"dist": st.just("gamma"), "mean": positive, "cv": cvs}),
        st.lists(quantity, min_size=1, max_size=4).flatmap(lambda values: st.one_of(
            st.just({"dist": "empirical", "values": values}),
            st.lists(st.integers(1, 5), min_size=len(values), max_size=len(values)).map(
                lambda weights: {"dist": "empirical", "values": values, "weights": weights}),
        )),
    )


def duration_distributions(max_seconds: float = 30.0) -> st.SearchStrategy[Any]:
    return distributions(durations(max_seconds), positive_durations(max_seconds))


def count_distributions(high: int) -> st.SearchStrategy[Any]:
    """Job sizes (circuits, shots, depth, sweep points): counts from 1 to ``high``."""
    counts = st.integers(1, high)
    return st.one_of(
        counts,
        st.tuples(counts, counts).map(lambda lh: {"dist": "uniform", "low": min(lh), "high": max(lh)}),
        st.lists(counts, min_size=1, max_size=4).map(lambda values: {"dist": "empirical", "values": values}),
        st.fixed_dictionaries({"dist": st.just("lognormal"), "mean": st.integers(1, high),
                               "cv": st.one_of(st.just(0.0), st.floats(1e-6, 1))}),
    )


# --- sections ---------------------------------------------------------------------------------------------------


@st.composite
def arrivals(draw: st.DrawFn) -> dict[str, Any]:
    """Poisson arrivals (a rate in one of its written forms) or an explicit sorted list of submission times."""
    if draw(st.booleans()):
        per_minute = draw(st.floats(0.5, 60))
        rate = draw(st.sampled_from((f"{per_minute:.4g}/min", f"{per_minute * 60:.4g}/h", per_minute / 60)))
        return {"rate": rate}
    times = draw(st.lists(st.floats(0, 600), min_size=1, max_size=30))
    return {"times": sorted(times)}


@st.composite
def workloads(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 3))
    classes = []
    for i in range(n):
        job_class: dict[str, Any] = {"name": f"class-{i}", "weight": draw(st.floats(0.1, 5))}
        optional = {
            "kind": st.sampled_from(("circuit", "pulse")),
            "circuits": count_distributions(5),
            "shots": count_distributions(2000),
            "depth": count_distributions(50),
            "sweep_points": count_distributions(3),
            "users": st.lists(st.sampled_from(("alice", "bob", "carol")), min_size=1, max_size=3, unique=True),
            "priority": st.integers(0, 3),
            "project": st.sampled_from(("qec", "chemistry")),
            "use_timeslot": st.booleans(),
        }
        for key, strategy in optional.items():
            if draw(st.booleans()):
                job_class[key] = draw(strategy)
        classes.append(job_class)
    return classes


@st.composite
def stages(draw: st.DrawFn) -> dict[str, Any]:
    """Some of the five stages, each with some of its keys (absent ones take their defaults)."""
    result: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(STAGE_NAMES), unique=True)):
        stage: dict[str, Any] = {}
        if draw(st.booleans()):
            stage["workers"] = draw(st.one_of(st.integers(1, 3), st.just(math.inf)))
        if draw(st.booleans()):
            stage["duration"] = draw(duration_distributions(20.0))
        if draw(st.booleans()):
            stage["per_layer"] = draw(st.sampled_from((0, "1us", "1ms")))
        if draw(st.booleans()):
            stage["per_shot"] = draw(st.sampled_from((0, "1us", "10us")))
        result[name] = stage
    return result


@st.composite
def hardware(draw: st.DrawFn) -> dict[str, Any]:
    form = draw(st.sampled_from(("default", "device", "devices", "execution_time")))
    if form == "default":
        return {}
    if form == "device":
        return {"instruments": draw(st.integers(1, 3)), "device": draw(st.sampled_from(DEVICE_PRESETS))}
    if form == "devices":
        return {"devices": draw(st.lists(st.sampled_from(DEVICE_PRESETS), min_size=1, max_size=3))}
    return {"instruments": draw(st.integers(1, 2)), "execution_time": draw(duration_distributions(60.0))}


@st.composite
def faults(draw: st.DrawFn) -> dict[str, Any]:
    """Some of ``[aborts]``, ``[failures.STAGE]`` and ``[restarts]`` (explicit aborts are left out: they must name
    jobs that the run submits)."""
    result: dict[str, Any] = {}
    if draw(st.booleans()):
        delay = duration_distributions(120.0)  # zero included: an abort in the instant of submission
        result["aborts"] = {"probability": draw(st.floats(0, 0.5)), "delay": draw(delay)}
    if draw(st.booleans()):
        failing = draw(st.lists(st.sampled_from(STAGE_NAMES), min_size=1, unique=True))
        result["failures"] = {name: {"probability": draw(st.floats(0, 0.5))} for name in failing}
    if draw(st.booleans()):
        restarts: dict[str, Any] = {"policy": draw(st.sampled_from(("fail", "requeue"))),
                                    "downtime": draw(positive_durations(120.0)),
                                    "retry_delay": draw(st.sampled_from(("1s", "5s", "30s")))}
        if draw(st.booleans()):
            restarts["times"] = sorted(draw(st.lists(st.floats(1, 900), min_size=1, max_size=3)))
        else:
            restarts["mean_time_between"] = draw(st.sampled_from(("2min", "10min", "1h")))
        result["restarts"] = restarts
    return result


@st.composite
def scenario_dicts(draw: st.DrawFn, horizon: bool = True, with_faults: bool = False) -> dict[str, Any]:
    """A small valid scenario in its TOML form; with ``horizon``, sometimes a horizon that stops it early; with
    ``with_faults``, sometimes aborts, stage failures and restarts. Its scheduler, when it has one, is any
    built-in policy (``schedulers``)."""
    data: dict[str, Any] = {
        "run": {"jobs": draw(st.integers(1, 40)), "seed": draw(st.integers(0, 2**32))},
        "arrivals": draw(arrivals()),
    }
    if horizon and draw(st.booleans()):
        data["run"]["horizon"] = draw(st.sampled_from(("30s", "2min", "10min", 120.5)))
    if draw(st.booleans()):
        data["workload"] = draw(workloads())
    if draw(st.booleans()):
        data["stages"] = draw(stages())
    if draw(st.booleans()):
        data["scheduler"] = draw(schedulers(*_owners(data.get("workload"))))
    if draw(st.booleans()):
        data["hardware"] = draw(hardware())
    if with_faults:
        data.update(draw(faults()))
    return data


# --- scheduling -------------------------------------------------------------------------------------------------

POLICY_OPTIONS: dict[str, Any] = {
    "fifo": st.just({}),
    "priority": st.just({}),
    "shortest_first": st.just({}),
    "calibration_aware": st.just({}),
    "timeslot": st.fixed_dictionaries({}, optional={"shared_jobs_in_window": st.booleans()}),
    "aging": st.fixed_dictionaries({}, optional={"step": st.sampled_from(("30s", "5min", 600, "1h"))}),
    "fair_share": st.fixed_dictionaries({}, optional={
        "by": st.sampled_from(("user", "project")),
        "half_life": st.sampled_from(("1min", "30min", "1h", 7200)),
        "default_weight": st.floats(0.1, 5),
    }),
}
"""Valid ``[scheduler.options]`` of each built-in policy."""


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@st.composite
def windows(draw: st.DrawFn, users: tuple[str, ...], projects: tuple[str, ...]) -> list[dict[str, Any]]:
    """``[[scheduler.windows]]`` entries owned by some of ``users`` and ``projects``: daily clock times (possibly
    over midnight) or absolute durations from the start of the run."""
    entries = []
    for _ in range(draw(st.integers(0, 3))):
        by = draw(st.sampled_from(("user", "project")))
        owner = draw(st.sampled_from(users if by == "user" else projects))
        if draw(st.booleans()):
            start, length = draw(st.integers(0, 1439)), draw(st.integers(1, 1439))
            end = (start + length) % 1440
            entry = {by: owner, "start": _clock(start), "end": _clock(end)}
        else:
            start_s, length_s = draw(st.integers(0, 600)), draw(st.integers(1, 600))
            entry = {by: owner, "start": f"{start_s}s", "end": f"{start_s + length_s}s"}
        entries.append(entry)
    return entries


@st.composite
def schedulers(draw: st.DrawFn, users: tuple[str, ...] = ("user",),
               projects: tuple[str, ...] = ("default",)) -> dict[str, Any]:
    """A ``[scheduler]`` table: a built-in policy with valid options (fair-share weights for some of ``users``),
    and reserved windows for the timeslot policy."""
    policy = draw(st.sampled_from(tuple(POLICY_OPTIONS)))
    table: dict[str, Any] = {"policy": policy}
    options = dict(draw(POLICY_OPTIONS[policy]))
    if policy == "fair_share" and options.get("by", "user") == "user" and draw(st.booleans()):
        options["weights"] = {u: draw(st.floats(0.1, 5)) for u in draw(st.lists(st.sampled_from(users), unique=True))}
    if options:
        table["options"] = options
    if policy == "timeslot":
        table["windows"] = draw(windows(users, projects))
        if draw(st.booleans()):
            table["start_time_of_day"] = draw(st.sampled_from(("00:00", "08:00", "23:30")))
    return table


def _owners(workload: list[dict[str, Any]] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The users and projects a workload's job classes name (the defaults when it names none)."""
    classes = workload or [{}]
    users = tuple(dict.fromkeys(u for c in classes for u in c.get("users", ["user"])))
    projects = tuple(dict.fromkeys(c.get("project", "default") for c in classes))
    return users, projects


# --- everything at once -----------------------------------------------------------------------------------------

CHAOS_POLICIES = tuple(POLICY_OPTIONS)


@st.composite
def chaos_faults(draw: st.DrawFn, jobs: int) -> dict[str, Any]:
    """Every kind of fault at once, each at a drawn intensity (zero included): aborts (drawn and explicit, for
    jobs below ``jobs``), failures in every stage with ``after_end``, instrument errors, hangs (with a timeout,
    or sometimes without one: a scenario the station must refuse), outages (an instrument's own rates too),
    recalibrations (of one or several instruments, staggered or not, of drawn lengths, either ``on_expired``),
    maintenance windows, and frequent, overlapping restarts under either policy."""
    data: dict[str, Any] = {}
    explicit = draw(st.lists(st.tuples(st.integers(0, jobs - 1), st.floats(0, 600)), max_size=4))
    data["aborts"] = {"probability": draw(st.floats(0, 0.4)), "delay": draw(duration_distributions(300.0)),
                      "jobs": [{"job": job, "at": at} for job, at in explicit]}
    data["failures"] = {name: {"probability": draw(st.floats(0, 0.3)), "after_end": draw(st.floats(0, 1))}
                        for name in (*STAGE_NAMES, "execution") if draw(st.booleans())}
    hang = draw(st.sampled_from((0.0, 0.0, 0.05, 0.3)))
    hardware_faults: dict[str, Any] = {
        "error_probability": draw(st.floats(0, 0.3)), "hang_probability": hang,
        "reset_after_hang": draw(st.sampled_from((0, "10s", "2min"))),
    }
    if draw(st.booleans()):
        hardware_faults |= {"mean_time_between_outages": draw(st.sampled_from(("2min", "15min", "1h"))),
                            "mean_repair_time": draw(st.sampled_from(("10s", "3min", "20min"))),
                            "repair_time_cv": draw(st.sampled_from((0.0, 0.5, 1.5)))}
    data["hardware"] = {"faults": hardware_faults,
                        "devices": draw(st.lists(st.sampled_from(DEVICE_PRESETS), min_size=1, max_size=3))}
    if hang == 0 or draw(st.integers(0, 9)) > 0:  # now and then a hang with no timeout, which must be refused
        data["hardware"]["execution_timeout"] = draw(st.sampled_from(("1ms", "5s", "2min", "15min")))
    if draw(st.booleans()):
        data["calibration"] = {
            "times_of_day": [_clock(m) for m in sorted(draw(st.lists(st.integers(0, 1439), min_size=1, max_size=3,
                                                                     unique=True)))],
            "duration": draw(st.sampled_from(("1s", "2min", "30min"))),
            "valid_for": draw(st.sampled_from(("30s", "5min", "1h", "24h"))),
            "fetch_cached": draw(st.sampled_from((0, "50ms"))), "fetch_uncached": draw(st.sampled_from((0, "2s"))),
            "on_expired": draw(st.sampled_from(("recompile", "run_anyway"))),
            "start_time_of_day": _clock(draw(st.integers(0, 1439))),
        }
        if draw(st.booleans()):  # each instrument on its own, staggered schedule, for a drawn length
            data["calibration"] |= {"stagger": draw(st.sampled_from(("1min", "20min", "3h"))),
                                    "duration": draw(st.sampled_from((
                                        "2min", {"dist": "uniform", "low": "30s", "high": "20min"},
                                        {"dist": "exponential", "mean": "5min"})))}
    instruments = len(data["hardware"]["devices"])
    if draw(st.booleans()):  # maintenance windows, one-off or repeating, some overlapping the run's start
        data["maintenance"] = [{"instrument": draw(st.integers(0, instruments - 1)),
                                "at": draw(st.sampled_from((0, "30s", "5min", "40min"))),
                                "duration": draw(st.sampled_from(("10s", "3min", "30min"))),
                                **({"every": "1h"} if draw(st.booleans()) else {})}
                               for _ in range(draw(st.integers(1, 3)))]
    if instruments > 1 and draw(st.booleans()):  # one instrument with outage rates of its own
        data["hardware"]["outages"] = {f"qpu-{draw(st.integers(0, instruments - 1))}": {
            "mean_time_between_outages": draw(st.sampled_from(("1min", "10min"))), "mean_repair_time": "2min"}}
    restarts: dict[str, Any] = {"policy": draw(st.sampled_from(("fail", "requeue"))),
                                "downtime": draw(positive_durations(600.0)),
                                "retry_delay": draw(st.sampled_from(("1s", "5s", "30s")))}
    if draw(st.booleans()):  # close together: some fall in the downtime of the one before
        restarts["times"] = sorted(draw(st.lists(st.floats(1, 1800), min_size=1, max_size=6)))
    if draw(st.booleans()):
        restarts["mean_time_between"] = draw(st.sampled_from(("1s", "30s", "5min", "1h")))
    if "times" in restarts or "mean_time_between" in restarts:
        data["restarts"] = restarts
    return data


@st.composite
def chaos_scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
    """A small scenario with every fault on at once (``chaos_faults``), any built-in policy, and sometimes a
    trace: returns the scenario in its TOML form and, for a trace-driven one, the trace's rows (the caller
    writes them to a CSV file and names it as ``arrivals.trace``)."""
    jobs = draw(st.integers(1, 60))
    data = draw(scenario_dicts(horizon=False))
    data["run"]["jobs"] = jobs
    data.update(draw(chaos_faults(jobs)))
    data["scheduler"] = draw(schedulers(*_owners(data.get("workload"))))
    if "rate" in data.get("arrivals", {}) and draw(st.booleans()):  # a daily profile, some hours without load
        data["arrivals"]["profile"] = {"hour_of_day": draw(st.lists(st.sampled_from((0, 0.2, 1, 3)), min_size=24,
                                                                    max_size=24).filter(any))}
    trace = None
    if draw(st.booleans()):
        times = sorted(draw(st.lists(st.floats(0, 900), min_size=jobs, max_size=jobs)))
        trace = [{"time": t, "job_type": draw(st.sampled_from(("circuit", "pulse"))),
                  "shots": draw(st.integers(1, 2000)), "circuits": draw(st.integers(1, 4)),
                  "depth": draw(st.integers(0, 40)), "sweep_points": draw(st.integers(1, 3)),
                  "qubits": draw(st.integers(1, 20)), "user": draw(st.sampled_from(("alice", "bob"))),
                  "priority": draw(st.integers(0, 2)),
                  "abort_at": t + draw(st.floats(0, 300)) if draw(st.integers(0, 4)) == 0 else None}
                 for t in times]
        data.pop("workload", None)
        data["scheduler"] = draw(schedulers(("alice", "bob")))
    return data, trace
