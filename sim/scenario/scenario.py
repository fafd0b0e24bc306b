"""Scenarios: the validated, frozen configuration of one simulated station.

A scenario is a TOML file with one table per concept (``extends = "baseline.toml"`` starts from another file
and overrides its keys)::

    [run]             how many jobs, which seed, an optional horizon, where the run starts on the UTC calendar
    [arrivals]        a Poisson rate ("300/h"), shaped by [arrivals.profile] (``sim.scenario.profile``) or not,
                      or an explicit list of submission times, or a trace
    [[workload]]      job classes with weights: circuits, shots, depth, users, priority, project, use_timeslot
    [stages.NAME]     workers and service-time distribution of validation, calibration, compilation,
                      save_metadata and post_processing
    [scheduler]       the policy of the execution queue, its options and reserved windows (``sim.policies``)
    [hardware]        instruments, their names and device profiles, execution timeout, [hardware.faults],
                      an instrument's own outage rates [hardware.outages.NAME]
    [calibration]     each instrument's recalibration schedule and length, calibration-set validity, fetch times
    [[maintenance]]   scheduled maintenance windows of named instruments (``sim.scenario.maintenance``)
    [aborts], [failures.STAGE], [restarts]   what goes wrong (see ``sim.scenario.faults``)

Every default lives in one place: the field defaults of the dataclasses below. The file is validated once, at
load; anything wrong raises ``ScenarioError`` naming the file, the key path, what is wrong and what was
expected. ``Scenario.raw`` keeps the parsed TOML so that sweeps can change one key and validate again.
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware_mock.calibration import CalibrationPlan
from hardware_mock.device import PRESETS, DeviceProfile
from hardware_mock.faults import FaultModel
from sim.policies.protocol import PolicyFactory
from sim.policies.registry import BUILTIN
from sim.scenario.clock import Clock, parse_datetime
from sim.scenario.config import (
    Parser,
    ScenarioError,
    Table,
    boolean,
    choice,
    distribution,
    integer,
    names,
    positive_number,
    seconds_or_inf,
    text,
    times_list,
    times_of_day,
    workers,
)
from sim.scenario.distributions import Constant, Distribution, count
from sim.scenario.faults import Faults, build_faults
from sim.scenario.maintenance import MaintenanceWindow, parse_maintenance
from sim.scenario.scheduler import check_window_owners, merge_scheduler, parse_scheduler
from sim.scenario.units import parse_duration, parse_rate

if TYPE_CHECKING:
    from sim.policies.windows import Window
    from sim.scenario.profile import ArrivalProfile
    from sim.scenario.trace import Trace

STAGE_NAMES = ("validation", "calibration", "compilation", "save_metadata", "post_processing")
POLICIES = tuple(BUILTIN)
"""The built-in scheduling policies (a user's policy is named as ``"module:Class"``)."""
JOB_KINDS = ("circuit", "pulse")


@dataclass(frozen=True)
class RunSettings:
    jobs: int = 10_000
    """Jobs submitted in the run (the first ``jobs`` of an explicit submission list)."""
    seed: int = 0
    horizon: float | None = None
    """Simulated seconds after which the run stops, with jobs still in flight; None runs until all end."""
    start: datetime | None = None
    """When the run starts on the UTC calendar (``sim.scenario.clock``); None: a day with no date."""


@dataclass(frozen=True)
class Arrivals:
    rate: float | None = None
    """Poisson arrivals per second."""
    times: tuple[float, ...] | None = None
    """Explicit submission times (seconds from the start, non-decreasing)."""
    trace: Trace | None = field(default=None, compare=False)
    """A recorded workload replayed exactly (``sim.scenario.trace``): submission times, job sizes, users, aborts."""
    profile: ArrivalProfile | None = None
    """The shape of the Poisson rate over the day, the week and dated changes (``sim.scenario.profile``)."""

    @property
    def mean_rate(self) -> float:
        if self.rate is not None:
            return self.rate
        times = self.trace.time.tolist() if self.trace is not None else list(self.times or ())
        span = times[-1] - times[0]
        return (len(times) - 1) / span if span > 0 else math.inf


@dataclass(frozen=True)
class JobClass:
    """One kind of job in the workload mix."""

    name: str = "circuits"
    weight: float = 1.0
    kind: str = "circuit"
    """``circuit`` (compiled on the server) or ``pulse`` (a sweep that carries its own schedules)."""
    circuits: Distribution = Constant(1)
    shots: Distribution = Constant(1000)
    depth: Distribution = Constant(20)
    sweep_points: Distribution = Constant(1)
    qubits: Distribution = Constant(5)
    """Qubits each circuit uses (checked against the device in validation)."""
    max_circuit_duration_over_t2: float | None = None
    """The job's limit on circuit duration, as a share of T2 (IQM's request field): None takes the device's
    default, 0 disables the check."""
    users: tuple[str, ...] = ("user",)
    priority: int = 0
    project: str = "default"
    """The project the jobs are charged to (fair share and reserved windows can go by project)."""
    use_timeslot: bool = False
    """Submitted to the timeslot queue (IQM's ``submit_job(..., use_timeslot=True)``) instead of the shared one."""


@dataclass(frozen=True)
class Stage:
    """A pool of workers and the time one job takes in it.

    Service time = ``duration`` + ``per_layer`` x circuits x depth x sweep points + ``per_shot`` x circuits x
    shots x sweep points. Infinite workers with zero duration make a stage that never queues and costs no events.
    """

    workers: float = math.inf
    duration: Distribution = Constant(0.0)
    per_layer: float = 0.0
    per_shot: float = 0.0

    @property
    def is_instant(self) -> bool:
        return (math.isinf(self.workers) and isinstance(self.duration, Constant) and self.duration.value == 0
                and self.per_layer == 0 and self.per_shot == 0)


@dataclass(frozen=True)
class Stages:
    validation: Stage = Stage()
    calibration: Stage = Stage()
    compilation: Stage = Stage()
    save_metadata: Stage = Stage()
    post_processing: Stage = Stage()


@dataclass(frozen=True)
class Scheduler:
    """The execution queue's scheduling policy (``sim.policies``; the table is read by ``sim.scenario.scheduler``)."""

    policy: str = "fifo"
    """A built-in policy's name, or a user's policy as ``"module:Class"`` or ``"file.py:Class"``."""
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Keyword arguments of the policy (``[scheduler.options]``)."""
    windows: tuple[Window, ...] = ()
    """Reserved windows (``[[scheduler.windows]]``)."""
    start_time_of_day: float | None = None
    """The clock of daily windows (seconds after midnight at the start); None: the calibration plan's, else 0."""
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    """Named alternative policies with their options (``[scheduler.variants.NAME]``), for comparisons."""
    factory: PolicyFactory | None = field(default=None, compare=False, repr=False)
    """The policy itself when it was given as an object through the API (else found again by its name)."""
    folder: str = field(default="", compare=False, repr=False)
    """Where a ``"file.py:Class"`` policy is looked for: the scenario file's folder."""


@dataclass(frozen=True)
class Hardware:
    devices: tuple[DeviceProfile, ...] = (PRESETS["garnet"],)
    """One profile per instrument."""
    execution_time: Distribution | None = None
    """Replaces the timing model by a plain distribution (queueing-theory checks, what-if studies)."""
    execution_timeout: float = math.inf
    """The station stops a run that lasts longer (a hang, or a job too long), fails it and resets the instrument."""
    faults: FaultModel = FaultModel()
    measurements: bool = False
    """Draw synthetic measurement counts for every executed job (off by default: it costs time)."""
    names: tuple[str, ...] = ()
    """Each instrument's name (``[hardware] names``; default ``qpu-0``, ``qpu-1``, ...)."""
    outages: Mapping[int, FaultModel] = field(default_factory=dict, hash=False)
    """Instruments whose outages follow their own rates (``[hardware.outages.NAME]``), by index."""

    def __post_init__(self) -> None:
        if not self.names:
            object.__setattr__(self, "names", tuple(f"qpu-{i}" for i in range(len(self.devices))))

    def outage_model(self, instrument: int) -> FaultModel:
        """The fault model whose outage rates ``instrument`` follows."""
        return self.outages.get(instrument, self.faults)


@dataclass(frozen=True)
class Scenario:
    name: str = "scenario"
    run: RunSettings = RunSettings()
    arrivals: Arrivals = Arrivals(rate=1.0)
    workload: tuple[JobClass, ...] = (JobClass(),)
    stages: Stages = Stages()
    scheduler: Scheduler = Scheduler()
    hardware: Hardware = Hardware()
    faults: Faults = Faults()
    calibration: CalibrationPlan | None = None
    """Recalibrations and calibration sets; None: one set that never expires, no recalibrations."""
    maintenance: tuple[MaintenanceWindow, ...] = ()
    """Scheduled maintenance of named instruments (``sim.scenario.maintenance``)."""
    source: str = "<scenario>"
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def clock(self) -> Clock:
        """Where the run's time 0 falls on the UTC clock (``[run] start``, else a time of day only)."""
        if self.run.start is not None:
            return Clock(self.run.start, dated=True)
        time_of_day = self.scheduler.start_time_of_day
        if time_of_day is None and self.calibration is not None:
            time_of_day = self.calibration.start_time_of_day
        return Clock.at_time_of_day(time_of_day or 0.0)

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Load and validate a scenario file (and the file it ``extends``, if any)."""
        return cls.from_dict(_read_toml(Path(path)), source=str(path), name=Path(path).stem)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>", name: str | None = None) -> Scenario:
        """Validate a scenario given as nested dictionaries (the TOML structure)."""
        return _build_scenario(Table(source, "", data), data, name)

    def with_values(self, changes: Mapping[str, Any]) -> Scenario:
        """A new scenario with dotted keys changed, validated again: ``{"stages.compilation.workers": 8}``;
        an entry of an array of tables by its index: ``{"workload[1].weight": 0.3}``."""
        data = copy.deepcopy(dict(self.raw))
        for dotted, value in changes.items():
            *parents, leaf = dotted.split(".")
            table = data
            for part in parents:
                name, _, index = part.partition("[")
                if index:
                    entries = table.get(name)
                    position = int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1
                    if not isinstance(entries, list) or not 0 <= position < len(entries):
                        raise ScenarioError(self.source, dotted, f"there is no entry {part!r} to change")
                    table = entries[position]
                else:
                    table = table.setdefault(name, {})
                if not isinstance(table, dict):
                    raise ScenarioError(self.source, dotted, f"{part!r} is not a table")
            table[leaf] = value
        return Scenario.from_dict(data, source=self.source, name=self.name)

    def to_json(self) -> str:
        """The scenario as JSON (its TOML data), for the results database."""
        return json.dumps({"name": self.name, "source": self.source, **self.raw}, sort_keys=True, default=str)


# --- validation ---------------------------------------------------------------------------------------------

def _read_toml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The TOML data of ``path``; ``extends = "other.toml"`` (relative to the file) starts from that file's data,
    whose tables this file's keys override one by one."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(source, "", "no such file") from None
    except OSError as error:
        raise ScenarioError(source, "", f"cannot read the file ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ScenarioError(source, "", "not a text file in UTF-8 (TOML files are UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(source, "", f"not valid TOML ({error})") from None
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise ScenarioError(source, "extends", f"expected the path of a scenario file, got {base_name!r}")
    base_path = path.parent / base_name
    if base_path.resolve() in seen:
        raise ScenarioError(source, "extends", f"{base_name!r} extends this file again (a cycle)")
    return _merge(_read_toml(base_path, (*seen, path.resolve())), data)


ALTERNATIVES = {"arrivals": ("rate", "times", "trace")}
"""Keys of which a table takes one: an extending file that gives one replaces the base file's."""
SHAPES = {"arrivals": ("profile",)}
"""Keys that go with the first alternative only (a profile shapes a rate, not a list of times or a trace)."""


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for table, keys in ALTERNATIVES.items():
        given = override.get(table)
        if isinstance(given, Mapping) and isinstance(merged.get(table), dict) and any(k in given for k in keys):
            replaced = keys if "rate" in given else (*keys, *SHAPES.get(table, ()))  # a new rate keeps its shape
            merged[table] = {k: v for k, v in merged[table].items() if k not in replaced}
    for key, value in override.items():
        if key == "scheduler" and isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = merge_scheduler(merged[key], value, _merge)  # its options belong to its policy
        elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _device(source: str, path: str) -> Parser:
    def parse(value: object) -> DeviceProfile:
        if isinstance(value, str):
            if value not in PRESETS:
                raise ValueError(f"unknown device preset {value!r}; expected one of {', '.join(PRESETS)}")
            return PRESETS[value]
        table = Table(source, path, value)
        base = PRESETS[table.parse("preset", choice(tuple(PRESETS)))] if "preset" in table.data else None
        device: DeviceProfile = table.build_by_units(DeviceProfile, base, extra={"preset": text})
        return device
    return parse


def _build_hardware(table: Table) -> Hardware:
    allowed = ("instruments", "device", "devices", "names", "execution_time", "execution_timeout", "measurements",
               "faults", "outages")
    for name in table.data:
        if name not in allowed:
            raise table.error(name, f"unknown key; expected one of {', '.join(allowed)}")
    if "device" in table.data and "devices" in table.data:
        raise table.error("devices", "give either device (one profile for every instrument) or devices")
    if "devices" in table.data:
        raw = table.data["devices"]
        if not isinstance(raw, list) or not raw:
            raise table.error("devices", f"expected a non-empty list of device presets or tables, got {raw!r}")
        devices = tuple(_device(table.source, table.key(f"devices[{i}]"))(d) if not isinstance(d, str)
                        else Table(table.source, table.key(f"devices[{i}]"), {"preset": d}).parse(
                            "preset", _device(table.source, table.key(f"devices[{i}]"))) for i, d in enumerate(raw))
        if "instruments" in table.data and table.parse("instruments", integer(1)) != len(devices):
            raise table.error("instruments", "must equal the number of entries in devices")
    else:
        device = table.parse("device", _device(table.source, table.key("device"))) \
            if "device" in table.data else Hardware().devices[0]
        devices = (device,) * (table.parse("instruments", integer(1)) if "instruments" in table.data else 1)
    optional = {"execution_time": distribution(parse_duration), "execution_timeout": seconds_or_inf,
                "measurements": boolean, "names": names}
    values = {name: table.parse(name, parser) for name, parser in optional.items() if name in table.data}
    if "names" in values and (len(values["names"]) != len(devices) or len(set(values["names"])) != len(devices)):
        raise table.error("names", f"expected {len(devices)} different names, one per instrument, got "
                          f"{list(values['names'])}")
    faults = table.table("faults").build_by_units(FaultModel)
    values["outages"] = _outages(table.table("outages"), faults,
                                 values.get("names") or Hardware(devices=devices).names)
    if faults.hang_probability > 0 and math.isinf(values.get("execution_timeout", math.inf)):
        raise table.table("faults").error(
            "hang_probability", "a hung run never ends by itself; set hardware.execution_timeout (the station "
            "stops longer runs, fails the job and resets the instrument), or set hang_probability = 0")
    return Hardware(devices=devices, faults=faults, **values)


OUTAGE_KEYS = ("mean_time_between_outages", "mean_repair_time", "repair_time_cv")


def _outages(table: Table, faults: FaultModel, instrument_names: tuple[str, ...]) -> dict[int, FaultModel]:
    """``[hardware.outages.NAME]``: an instrument's own outage rates (the other fault settings are shared)."""
    models = {}
    for name in table.data:
        if name not in instrument_names:
            raise table.error(name, f"unknown instrument; expected one of {', '.join(instrument_names)}")
        own = table.table(name)
        for key in own.data:
            if key not in OUTAGE_KEYS:
                raise own.error(key, f"unknown key; expected one of {', '.join(OUTAGE_KEYS)}")
        models[instrument_names.index(name)] = own.build_by_units(FaultModel, base=faults)
    return models


def _calibration(root: Table, hardware: Hardware) -> CalibrationPlan | None:
    """``[calibration]``, with ``[calibration.instruments]``: an instrument's own times of day, by name."""
    if "calibration" not in root.data:
        return None
    table = root.table("calibration")
    own = table.table("instruments")
    schedules: list[tuple[float, ...] | None] = [None] * len(hardware.devices)
    for name in own.data:
        if name not in hardware.names:
            raise own.error(name, f"unknown instrument; expected one of {', '.join(hardware.names)}")
        schedules[hardware.names.index(name)] = own.parse(name, times_of_day)
    plan: CalibrationPlan = table.build_by_units(CalibrationPlan, extra={"instruments": lambda value: value},
                                                 internal={"schedules": tuple(schedules)})
    return plan


def _build_workload(source: str, data: object) -> tuple[JobClass, ...]:
    if data is None:
        return Scenario().workload
    if not isinstance(data, list) or not data:
        raise ScenarioError(source, "workload", "expected one or more [[workload]] tables")
    counts = distribution(count)
    parsers: dict[str, Parser] = {
        "name": text, "weight": positive_number, "kind": choice(JOB_KINDS), "circuits": counts,
        "shots": counts, "depth": counts, "sweep_points": counts, "qubits": counts, "users": names,
        "priority": integer(0), "max_circuit_duration_over_t2": count, "project": text, "use_timeslot": boolean,
    }
    classes = tuple(Table(source, f"workload[{i}]", entry).build(JobClass, parsers) for i, entry in enumerate(data))
    class_names = [c.name for c in classes]
    if len(set(class_names)) != len(class_names):
        raise ScenarioError(source, "workload", f"job class names must differ, got {class_names}")
    return classes


def _trace(path: Path) -> Trace:
    from sim.scenario.trace import read_trace  # a file of submissions: only the scenarios that replay one

    return read_trace(path)


def _build_scenario(root: Table, data: Mapping[str, Any], name: str | None) -> Scenario:
    sections = ("name", "run", "arrivals", "workload", "stages", "scheduler", "hardware", "calibration",
                "maintenance", "aborts", "failures", "restarts")
    for key in data:
        if key not in sections:
            raise root.error(key, f"unknown section; expected one of {', '.join(sections)}")
    run = root.table("run").build(RunSettings, {"jobs": integer(1), "seed": integer(0), "horizon": parse_duration,
                                                "start": parse_datetime})
    arrivals_table = root.table("arrivals")
    folder = Path(root.source).parent if Path(root.source).is_file() else Path.cwd()
    arrivals = arrivals_table.build(Arrivals, {"rate": parse_rate, "times": times_list,
                                               "trace": lambda value: _trace(folder / text(value)),
                                               "profile": lambda value: _profile(arrivals_table.table("profile"))})
    if sum(x is not None for x in (arrivals.rate, arrivals.times, arrivals.trace)) != 1:
        raise arrivals_table.error("rate", "give exactly one of rate (Poisson, such as \"300/h\"), times (a list "
                                   "of submission times) or trace (a file of submissions)")
    if arrivals.profile is not None and arrivals.rate is None:
        raise arrivals_table.error("profile", "a profile shapes a Poisson rate: give rate with it (times and "
                                   "traces are replayed as they are)")
    stages_table = root.table("stages")
    for key in stages_table.data:
        if key not in STAGE_NAMES:
            raise stages_table.error(key, f"unknown stage; expected one of {', '.join(STAGE_NAMES)}")
    stage_parsers: dict[str, Parser] = {"workers": workers, "duration": distribution(parse_duration),
                                        "per_layer": parse_duration, "per_shot": parse_duration}
    stages = Stages(**{s: stages_table.table(s).build(Stage, stage_parsers) for s in STAGE_NAMES})
    scheduler = Scheduler(**parse_scheduler(root.table("scheduler"), folder))
    hardware = _build_hardware(root.table("hardware"))
    title = root.parse("name", text) if "name" in data else (name or "scenario")
    workload = _build_workload(root.source, data.get("workload"))
    if arrivals.trace is None:
        check_window_owners(root.source, scheduler.windows, {u for c in workload for u in c.users},
                            {c.project for c in workload})
    calibration = _calibration(root, hardware)
    scheduler, calibration = _on_one_clock(root, run, scheduler, calibration)
    clock = Clock(run.start, dated=True) if run.start is not None else Clock()
    maintenance = parse_maintenance(root.source, data.get("maintenance"), hardware.names, clock)
    if arrivals.profile is not None:
        arrivals = replace(arrivals, profile=_dated(root, run, arrivals.profile))
    return Scenario(name=title, run=run, arrivals=arrivals, workload=workload,
                    stages=stages, scheduler=scheduler, hardware=hardware, faults=build_faults(root),
                    calibration=calibration, maintenance=maintenance, source=root.source,
                    raw=copy.deepcopy(dict(data)))


def _profile(table: Table) -> ArrivalProfile:
    from sim.scenario.profile import ArrivalProfile, day_of_week, hour_of_day, rate_changes  # only a shaped rate

    profile: ArrivalProfile = table.build(ArrivalProfile, {"hour_of_day": hour_of_day, "day_of_week": day_of_week,
                                                           "changes": rate_changes})
    return profile


def _dated(root: Table, run: RunSettings, profile: ArrivalProfile) -> ArrivalProfile:
    """The profile on the run's clock; weekdays and dates need ``[run] start``."""
    if run.start is None:
        needs = "day_of_week" if profile.day_of_week else "changes" if any(c.dated for c in profile.changes) else ""
        if needs:
            raise root.table("arrivals").table("profile").error(
                needs, "weekdays and dates need the run's date: set [run] start, such as \"2026-12-07T08:00:00Z\"")
        return profile
    return profile.resolved(Clock(run.start, dated=True))


def _on_one_clock(root: Table, run: RunSettings, scheduler: Scheduler,
                  calibration: CalibrationPlan | None) -> tuple[Scheduler, CalibrationPlan | None]:
    """With ``[run] start``, the scheduler's and the calibration plan's time of day are the run's (an explicit
    ``start_time_of_day`` that disagrees with it is refused)."""
    if run.start is None:
        return scheduler, calibration
    time_of_day = Clock(run.start, dated=True).time_of_day
    given = {"scheduler": scheduler.start_time_of_day,
             "calibration": calibration.start_time_of_day if calibration is not None else None}
    for name, value in given.items():
        table = root.data.get(name)
        if isinstance(table, Mapping) and "start_time_of_day" in table and value != time_of_day:
            raise root.table(name).error("start_time_of_day", f"disagrees with [run] start ({run.start:%H:%M:%S} "
                                         "UTC); give one or the other")
    scheduler = replace(scheduler, start_time_of_day=time_of_day)
    if calibration is not None:
        calibration = replace(calibration, start_time_of_day=time_of_day)
    return scheduler, calibration
