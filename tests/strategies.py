"""Test data for the whole suite, in one place: the hypothesis strategies of valid scenarios (which live in
``sim.testing.strategies``, for users' suites too, and are re-exported here), and a table of invalid scenario
files with the error each must produce.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.testing.strategies import (
    DEVICE_PRESETS,
    POLICY_OPTIONS,
    STAGE_NAMES,
    arrivals,
    count_distributions,
    distributions,
    duration_distributions,
    durations,
    faults,
    hardware,
    positive_durations,
    scenario_dicts,
    schedulers,
    stages,
    windows,
    workloads,
)

__all__ = [
    "BAD_SCENARIOS",
    "DEVICE_PRESETS",
    "POLICY_OPTIONS",
    "STAGE_NAMES",
    "VALID_TOML",
    "BadScenario",
    "arrivals",
    "count_distributions",
    "distributions",
    "duration_distributions",
    "durations",
    "faults",
    "hardware",
    "positive_durations",
    "scenario_dicts",
    "schedulers",
    "stages",
    "windows",
    "workloads",
]

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
