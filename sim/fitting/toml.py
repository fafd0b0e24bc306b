"""The fitted scenario as a commented TOML file that ``stationsim validate`` accepts.

Every fitted number is written with what it rests on in a comment beside it: how many jobs, the estimate's
standard error, the families that lost and by how much (BIC), where a number of workers came from. Durations
carry units (``"212.4ms"``), rates are per hour.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sim.fitting.families import Choice
from sim.fitting.stages import StageFit
from sim.scenario.faults import FAILING_STAGES

if TYPE_CHECKING:
    from sim.fitting.demand import AbortFit, ArrivalFit, ClassFit
    from sim.fitting.station import StationFit

DURATION_PARAMETERS = frozenset({"mean", "low", "high", "value"})
UNITS = (("ns", 1e-9, 1e-6), ("us", 1e-6, 1e-3), ("ms", 1e-3, 1.0), ("s", 1.0, 600.0), ("min", 60.0, 7200.0))


def duration(seconds: float) -> str:
    """A duration with a unit, to five significant figures: ``"212.4ms"``."""
    if seconds == 0:
        return '"0s"'
    for unit, scale, limit in UNITS:
        if abs(seconds) < limit:
            return f'"{seconds / scale:.5g}{unit}"'
    return f'"{seconds / 3600:.5g}h"'


def plain(seconds: float) -> str:
    """A duration for a comment (no quotes)."""
    return duration(seconds).strip('"')


def value(item: Any) -> str:
    """A TOML value: numbers, strings, booleans, lists and inline tables."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return "inf" if math.isinf(item) else f"{item:.6g}"
    if isinstance(item, str):
        return json.dumps(item)
    if isinstance(item, list):
        return "[" + ", ".join(value(v) for v in item) + "]"
    if isinstance(item, dict):
        return "{ " + ", ".join(f"{k} = {v if isinstance(v, Raw) else value(v)}" for k, v in item.items()) + " }"
    raise TypeError(f"no TOML form for {item!r}")


class Raw(str):
    """Text already in TOML form (a duration with its quotes)."""


def distribution(choice: Choice) -> str:
    best = choice.best
    if best.family == "constant":
        return duration(best.params["value"])
    return value({"dist": best.family, **{k: Raw(duration(v)) if k in DURATION_PARAMETERS else v
                                          for k, v in best.params.items()}})


def describe(choice: Choice, n: int) -> list[str]:
    """Comment lines: the chosen family with standard errors, and how far behind the others were."""
    best = choice.best
    if best.family == "constant":
        return [f"{n:,} services, all {plain(best.params['value'])}"]
    params = ", ".join(f"{k} {plain(v) if k in DURATION_PARAMETERS else f'{v:.4g}'} +- "
                       f"{plain(best.errors[k]) if k in DURATION_PARAMETERS else f'{best.errors[k]:.2g}'}"
                       for k, v in best.params.items())
    others = ", ".join(f"{f.family} +{f.bic - best.bic:.1f}" for f in choice.fits[1:])
    lines = [f"{n:,} services: {best.family}, {params}",
             f"by maximum likelihood; BIC {best.bic:.1f} (AIC {best.aic:.1f}); the others' BIC: {others}"]
    return lines + list(choice.notes)


def comment(lines: Iterable[str]) -> list[str]:
    return [f"# {line}" for line in lines]


def _servers(fit: StationFit, stage: str, what: str) -> str:
    servers = fit.servers[stage]
    if stage in fit.given:
        return f"{what}: given"
    if math.isinf(servers):
        return f"{what}: unlimited (an instantaneous step)"
    return f"{what}: the most jobs seen in {stage} at once (a lower bound: it may never have been saturated)"


def _stage(fit: StationFit, stage: StageFit) -> list[str]:
    lines = ["", f"[stages.{stage.name}]", *comment(describe(stage.choice, stage.n))]
    lines += comment([_servers(fit, stage.name, "workers")])
    lines.append(f"workers = {value(fit.servers[stage.name])}")
    lines.append(f"duration = {distribution(stage.choice)}")
    for key, slope in stage.slopes.items():
        lines.append(f"{key} = {duration(slope.value)}  # +- {plain(slope.error)}, t = "
                     f"{slope.value / slope.error if slope.error else math.inf:.3g}")
    lines += comment(n for n in stage.notes if "job sizes" in n)
    if stage.name == "compilation":
        lines += comment(["fitted on circuit jobs only: the model compiles pulse-level jobs in no time"])
    return lines


def _hardware(fit: StationFit, qubits: int, max_shots: int) -> list[str]:
    execution = fit.stages["execution"]
    lines = ["", "[hardware]", *comment([_servers(fit, "execution", "instruments")]),
             f"instruments = {int(fit.servers['execution'])}"]
    device: dict[str, Any] = {"preset": "garnet", "qubits": qubits, "max_shots": max_shots,
                              "max_circuit_duration_over_t2": 0}
    limits = ("device limits opened up (qubits, shots, T2 check off): the records' validation failures are "
              "fitted as [failures.validation]")
    lines += comment(execution.notes)
    if execution.uses_timing_model:
        s = execution.slopes
        layer = s["layer_duration"].value
        device.update({"job_overhead": Raw(duration(s["job_overhead"].value)),
                       "circuit_overhead": Raw(duration(s["circuit_overhead"].value)),
                       "end_delay": Raw(duration(s["end_delay"].value)), "readout": Raw('"0s"'),
                       "transfer_per_shot": Raw('"0s"'), "single_qubit_gate": Raw(duration(layer)),
                       "two_qubit_gate": Raw(duration(layer))})
        lines += comment([f"{execution.n:,} executions fit IQM's timing model, by non-negative least squares:",
                          "job_overhead + sweep points x circuits x (shots x (depth x layer + end_delay) + "
                          "circuit_overhead)",
                          ", ".join(f"{k} {plain(v.value)} +- {plain(v.error)}" for k, v in s.items()), limits])
        lines.append(f"device = {value(device)}")
        return lines
    lines += comment(["execution times: " + describe(execution.choice, execution.n)[0],
                      *describe(execution.choice, execution.n)[1:], limits])
    lines += [f"device = {value(device)}", f"execution_time = {distribution(execution.choice)}"]
    return lines


def _arrivals(arrivals: ArrivalFit) -> list[str]:
    hours = ", ".join(f"{h:02d}h {n}" for h, n in enumerate(arrivals.hourly) if n) + (
        "; none in the other hours" if not all(arrivals.hourly) else "")
    return ["", "[arrivals]", *comment([
        f"{arrivals.n:,} jobs received over {plain(arrivals.span)}: Poisson at {arrivals.rate * 3600:.4g}/h +- "
        f"{arrivals.rate_error * 3600:.2g}, one constant rate",
        "(the scenario format has no daily profile; the jobs received in each hour of the day say how far off it is)",
        f"jobs received per hour of the day (UTC): {hours}"]),
        f'rate = "{arrivals.rate * 3600:.6g}/h"']


def _job_class(job_class: ClassFit) -> list[str]:
    users = ", ".join(f"{u} {n:,}" for u, n in job_class.users[:12])
    lines = ["", "[[workload]]", *comment([
        f"{job_class.n:,} {job_class.kind} jobs ({job_class.weight:.1%}); sizes as recorded (empirical)",
        f"jobs per user: {users}{', ...' if len(job_class.users) > 12 else ''} (the model picks users uniformly)"]),
        f"name = {value(job_class.name)}", f"weight = {job_class.weight:.6g}", f"kind = {value(job_class.kind)}"]
    lines += [f"{name} = {value(spec)}" for name, spec in job_class.sizes.items()]
    lines += [f"users = {value([u for u, _ in job_class.users])}", f"priority = {job_class.priority}",
              f"project = {value(job_class.project)}", f"use_timeslot = {value(job_class.use_timeslot)}"]
    return lines


def _failures(fit: StationFit) -> list[str]:
    lines: list[str] = []
    for name in FAILING_STAGES:
        stage = fit.stages[name]
        if not stage.failed:
            continue
        lines += ["", f"[failures.{name}]", *comment([
            f"{stage.failed:,} of {stage.started:,} jobs that started {name} failed in it "
            f"({stage.failure_probability:.3%}), {stage.after_end:,} of them after its work"]),
            f"probability = {stage.failure_probability:.6g}",
            f"after_end = {stage.after_end / stage.failed:.6g}"]
        if stage.errors:
            lines.append("errors = " + value([{"user_message": m, "full_log": log} for m, log in stage.errors]))
    if fit.failed_between_stages:
        lines += ["", *comment(["failures outside any stage's work, not modelled (a restart's clean-up?): "
                                + ", ".join(f"{w} {n:,}" for w, n in fit.failed_between_stages)])]
    return lines


def _aborts(aborts: AbortFit) -> list[str]:
    if not aborts.aborted:
        return []
    where = ", ".join(f"{w} {n:,}" for w, n in aborts.by_stage)
    return ["", "[aborts]", *comment([
        f"{aborts.aborted:,} of {aborts.received:,} jobs were cancelled; where they were: {where}",
        "fitted by maximum likelihood with the cancels that came after a job ended unseen (censored); the records "
        f"fix the cancel rate probability / mean delay = {aborts.probability / aborts.mean_delay * 3600:.4g}/h best"]),
        f"probability = {aborts.probability:.6g}",
        f"delay = {value({'dist': 'exponential', 'mean': Raw(duration(aborts.mean_delay))})}"]


def scenario_toml(fit: StationFit) -> str:
    """The fitted scenario as TOML text with comments."""
    qubits = [c.sizes.get("qubits") for c in fit.workload]
    max_qubits = max([_largest(q) for q in qubits] + [20])
    max_shots = max([_largest(c.sizes.get("shots")) for c in fit.workload] + [100_000])
    lines = comment([
        f"Fitted by stationsim fit from {fit.source}: {fit.jobs:,} jobs received from "
        f"{fit.origin.isoformat().replace('+00:00', 'Z')}.",
        "Service times run from a stage's STARTED to its ENDED status; each stage's distribution is the family",
        "with the lowest BIC among exponential, gamma, lognormal and uniform, fitted by maximum likelihood.",
        "Waits are not fitted: they are what the model must reproduce (stationsim fit FILE --validate)."])
    lines += [f"name = {value(fit.name)}", "", "[run]", f"jobs = {fit.jobs}", "seed = 1"]
    lines += _arrivals(fit.arrivals)
    for job_class in fit.workload:
        lines += _job_class(job_class)
    for name in fit.stages:
        if name != "execution":
            lines += _stage(fit, fit.stages[name])
    lines += ["", "[scheduler]", 'policy = "fifo"  # the records do not say how the queue was ordered; '
              "IQM's shared queue"]
    lines += _hardware(fit, max_qubits, max_shots)
    lines += _failures(fit)
    lines += _aborts(fit.aborts)
    return "\n".join(lines) + "\n"


def _largest(spec: Any) -> int:
    if spec is None:
        return 0
    if isinstance(spec, int):
        return spec
    return max(int(v) for v in spec["values"])
