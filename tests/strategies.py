"""Test data for the whole suite, in one place: hypothesis strategies for valid scenarios, and a table of
invalid scenario files with the error each must produce.

Valid scenarios are generated in their TOML form (nested dicts, as ``sim.Scenario.from_dict`` takes them), kept
small (a few dozen jobs, second-scale service times) so that a property test can run many of them quickly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
                                    "retry_delay": draw(positive_durations(60.0))}
        if draw(st.booleans()):
            restarts["times"] = sorted(draw(st.lists(st.floats(1, 900), min_size=1, max_size=3)))
        else:
            restarts["mean_time_between"] = draw(st.sampled_from(("2min", "10min", "1h")))
        result["restarts"] = restarts
    return result


@st.composite
def scenario_dicts(draw: st.DrawFn, horizon: bool = True, with_faults: bool = False) -> dict[str, Any]:
    """A small valid scenario in its TOML form; with ``horizon``, sometimes a horizon that stops it early; with
    ``with_faults``, sometimes aborts, stage failures and restarts."""
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
        data["scheduler"] = {"policy": draw(st.sampled_from(("fifo", "priority")))}
    if draw(st.booleans()):
        data["hardware"] = draw(hardware())
    if with_faults:
        data.update(draw(faults()))
    return data


# --- invalid scenarios ------------------------------------------------------------------------------------------

VALID_TOML = '[arrivals]\nrate = "300/h"\n'
"""The smallest valid scenario: everything but the arrival process has a default."""


@dataclass(frozen=True)
class BadScenario:
    """An invalid scenario file and what its error must say."""

    toml: str
    key: str | None
    """The key path the message must name (None: a problem with the whole file)."""
    expected: str
    """A fragment of the message saying what is wrong or what was expected."""


BAD_SCENARIOS: dict[str, BadScenario] = {
    "bad-toml": BadScenario('[arrivals\nrate = "300/h"\n', None, "not valid TOML"),
    "unknown-top-level-key": BadScenario('colour = "red"\n' + VALID_TOML, "colour", "unknown section"),
    "unknown-key-in-arrivals": BadScenario(VALID_TOML + 'burst = 3\n', "arrivals.burst", "unknown key"),
    "unknown-stage": BadScenario(VALID_TOML + "[stages.linking]\nworkers = 1\n", "stages.linking", "unknown stage"),
    "unknown-key-in-stage": BadScenario(VALID_TOML + "[stages.compilation]\nwrokers = 4\n",
                                        "stages.compilation.wrokers", "unknown key"),
    "unknown-key-in-distribution": BadScenario(
        VALID_TOML + '[stages.compilation]\nduration = { dist = "lognormal", mean = "1s", cv = 0.5, sigma = 2 }\n',
        "stages.compilation.duration.sigma", "unknown key"),
    "wrong-type": BadScenario(VALID_TOML + '[stages.compilation]\nworkers = "four"\n', "stages.compilation.workers",
                              "expected a whole number"),
    "wrong-type-table": BadScenario("run = 5\n" + VALID_TOML, "run", "expected a table"),
    "wrong-type-jobs": BadScenario(VALID_TOML + '[run]\njobs = "many"\n', "run.jobs", "expected a whole number"),
    "negative-rate": BadScenario('[arrivals]\nrate = "-300/h"\n', "arrivals.rate", "positive"),
    "zero-rate": BadScenario("[arrivals]\nrate = 0\n", "arrivals.rate", "positive"),
    "unknown-distribution": BadScenario(
        VALID_TOML + '[stages.compilation]\nduration = { dist = "weibull", mean = "1s" }\n',
        "stages.compilation.duration.dist", "expected one of constant, exponential, uniform, lognormal, gamma"),
    "negative-duration": BadScenario(VALID_TOML + '[stages.validation]\nduration = "-2s"\n',
                                     "stages.validation.duration", "zero or more"),
    "unknown-unit": BadScenario(VALID_TOML + '[stages.validation]\nduration = "2 parsecs"\n',
                                "stages.validation.duration", "unit"),
    "zero-workers": BadScenario(VALID_TOML + "[stages.compilation]\nworkers = 0\n", "stages.compilation.workers",
                                "at least 1"),
    "rate-and-times": BadScenario('[arrivals]\nrate = "300/h"\ntimes = [0, 1, 2]\n', "arrivals", "exactly one"),
    "neither-rate-nor-times": BadScenario("[run]\njobs = 10\n", "arrivals", "exactly one"),
    "times-not-sorted": BadScenario("[arrivals]\ntimes = [0, 5, 3]\n", "arrivals.times", "non-decreasing"),
    "unknown-device-preset": BadScenario(VALID_TOML + '[hardware]\ndevice = "falcon"\n', "hardware.device",
                                         "expected one of garnet, emerald, heron"),
    "unknown-policy": BadScenario(VALID_TOML + '[scheduler]\npolicy = "lifo"\n', "scheduler.policy",
                                  "expected one of fifo, priority"),
    "zero-instruments": BadScenario(VALID_TOML + "[hardware]\ninstruments = 0\n", "hardware.instruments",
                                    "at least 1"),
    "uniform-high-below-low": BadScenario(
        VALID_TOML + '[stages.validation]\nduration = { dist = "uniform", low = "2s", high = "1s" }\n',
        "stages.validation.duration.high", "high >= low"),
    "empirical-weights-mismatch": BadScenario(
        VALID_TOML + "[[workload]]\nshots = { dist = \"empirical\", values = [1, 2], weights = [1] }\n",
        "workload[0].shots.weights", "one non-negative weight per value"),
    "unknown-job-kind": BadScenario(VALID_TOML + '[[workload]]\nkind = "annealing"\n', "workload[0].kind",
                                    "expected one of circuit, pulse"),
    "distribution-name-not-a-string": BadScenario(
        VALID_TOML + '[stages.compilation]\nduration = { dist = ["weibull"] }\n', "stages.compilation.duration.dist",
        "unknown distribution"),
    "name-not-a-string": BadScenario("name = 5\n" + VALID_TOML, "name", "expected a non-empty string"),
    "cv-out-of-range": BadScenario(
        VALID_TOML + '[stages.validation]\nduration = { dist = "gamma", mean = "1s", cv = 1e-200 }\n',
        "stages.validation.duration.cv", "coefficient of variation"),
}
"""Each invalid input and the error it must raise. Every message names the file first."""
