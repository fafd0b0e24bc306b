"""The ``[scheduler]`` table of a scenario: which policy orders the execution queue, with what options.

    [scheduler]
    policy = "fair_share"            # a built-in policy, or "module:Class" / "file.py:Class"
    start_time_of_day = "08:00"      # the clock of daily windows (default: [calibration]'s, else 00:00)

    [scheduler.options]              # keyword arguments of the policy
    by = "user"
    weights = { alice = 2, bob = 1 }

    [[scheduler.windows]]            # reserved windows (the timeslot policy honours them)
    user = "alice"
    start = "09:00"
    end = "11:00"

    [scheduler.variants.weighted]    # named alternatives, for `stationsim compare SCENARIO --policy weighted`
    policy = "fair_share"
    options = { weights = { alice = 3 } }

Everything is checked at load (see ``sim.policies.registry``); an error names the file and the key, such as
``scheduler.options.half_life`` or ``scheduler.windows[1].start``. The options belong to the policy: a change of
``scheduler.policy`` to another policy (``--set scheduler.policy=fifo``) starts from no options unless the same
change gives them (``with_policy_reset``); in a file that ``extends`` another, ``options`` replace the base
file's whole (``options = {}`` clears them) and another ``policy`` without ``options`` starts from none
(``merge_scheduler``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware_mock.calibration import parse_time_of_day
from sim.policies.registry import check_options, resolve
from sim.scenario.config import ScenarioError, Table, time_of_day
from sim.scenario.distributions import FieldError
from sim.scenario.units import parse_duration

if TYPE_CHECKING:
    from sim.policies.windows import Window

KEYS = ("policy", "options", "windows", "start_time_of_day", "variants")


def _policy(table: Table, policy: object, options: object, folder: Path) -> tuple[str, Any, dict[str, Any]]:
    """The policy's name, its factory (kept only when given as an object) and its options, all checked."""
    try:
        name, factory = resolve(policy, folder)
    except ValueError as error:
        raise table.error("policy", str(error)) from None
    if not isinstance(options, Mapping):
        raise table.error("options", f"expected a table of options, got {options!r}")
    try:
        check_options(factory, options)
    except FieldError as error:
        raise table.error(f"options.{error.field}" if error.field else "options", error.message) from None
    except (ValueError, TypeError) as error:
        raise table.error("options", str(error)) from None
    return name, factory if callable(policy) else None, dict(options)


def _window(table: Table) -> Window:
    from sim.policies.windows import Window  # only a scenario with reserved windows has any

    for name in table.data:
        if name not in ("user", "project", "start", "end"):
            raise table.error(name, "unknown key; expected one of user, project, start, end")
    owners = [name for name in ("user", "project") if name in table.data]
    if len(owners) != 1:
        raise table.error("", "give exactly one of user or project (the window's owner)")
    owner = table.data[owners[0]]
    if not isinstance(owner, str) or not owner:
        raise table.error(owners[0], f"expected a non-empty name, got {owner!r}")
    for name in ("start", "end"):
        if name not in table.data:
            raise table.error(name, "missing; a window needs a start and an end")
    clock = [isinstance(table.data[name], str) and ":" in table.data[name] for name in ("start", "end")]
    if clock[0] != clock[1]:
        raise table.error("end", "start and end must both be clock times (\"09:00\", a daily window) or both "
                          "durations from the start of the run (\"2h\")")
    parse = parse_time_of_day if clock[0] else parse_duration
    start, end = table.parse("start", parse), table.parse("end", parse)
    try:
        return Window(by=owners[0], owner=owner, start=start, end=end, daily=clock[0])
    except ValueError as error:
        raise table.error("", str(error)) from None


def _windows(table: Table) -> tuple[Window, ...]:
    entries = table.data.get("windows", [])
    if not isinstance(entries, list):
        raise table.error("windows", "expected [[scheduler.windows]] tables (user or project, start, end)")
    return tuple(_window(Table(table.source, table.key(f"windows[{i}]"), entry)) for i, entry in enumerate(entries))


def _variants(table: Table, folder: Path) -> dict[str, dict[str, Any]]:
    variants = table.table("variants")
    checked: dict[str, dict[str, Any]] = {}
    for name in variants.data:
        variant = variants.table(name)
        for key in variant.data:
            if key not in ("policy", "options"):
                raise variant.error(key, "unknown key; expected policy or options")
        if "policy" not in variant.data:
            raise variant.error("policy", "missing; a variant names its policy")
        policy, _, options = _policy(variant, variant.data["policy"], variant.data.get("options", {}), folder)
        checked[name] = {"policy": policy, "options": options}
    return checked


def parse_scheduler(table: Table, folder: Path) -> dict[str, Any]:
    """The fields of ``Scheduler`` from the ``[scheduler]`` table (``folder``: where policy files are found)."""
    for name in table.data:
        if name not in KEYS:
            raise table.error(name, f"unknown key; expected one of {', '.join(KEYS)}")
    policy, factory, options = _policy(table, table.data.get("policy", "fifo"), table.data.get("options", {}),
                                       folder)
    start = table.parse("start_time_of_day", time_of_day) if "start_time_of_day" in table.data else None
    return {"policy": policy, "options": options, "windows": _windows(table), "start_time_of_day": start,
            "variants": _variants(table, folder), "factory": factory, "folder": str(folder)}


def check_window_owners(source: str, windows: tuple[Window, ...], users: set[str], projects: set[str]) -> None:
    """Every window's owner must be a user or project of the workload (a misspelt name would reserve time for
    nobody)."""
    for i, window in enumerate(windows):
        known = users if window.by == "user" else projects
        if window.owner not in known:
            raise ScenarioError(source, f"scheduler.windows[{i}].{window.by}",
                                f"no job class has {window.by} {window.owner!r}; the workload's {window.by}s are "
                                f"{', '.join(sorted(known))}")


def with_policy_reset(current_policy: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` (dotted keys, as ``Scenario.with_values`` takes them) with ``scheduler.options`` emptied when
    they change ``scheduler.policy`` to another policy and give no options of their own (the old policy's options
    would not fit the new one)."""
    changed = dict(changes)
    policy = changed.get("scheduler.policy")
    gives_options = any(key == "scheduler.options" or key.startswith("scheduler.options.") for key in changed)
    if "scheduler.policy" in changed and policy != current_policy and not gives_options:
        changed["scheduler.options"] = {}
    return changed


def merge_scheduler(base: Mapping[str, Any], override: Mapping[str, Any],
                    merge: Callable[[dict[str, Any], Mapping[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """An extending file's ``[scheduler]`` over its base file's: key by key (``merge``), except the options,
    which belong to the policy: given, they replace the base's whole; not given with another policy, none are
    inherited."""
    merged = merge(dict(base), {key: value for key, value in override.items() if key != "options"})
    if "options" in override:
        merged["options"] = override["options"]
    elif "policy" in override and override["policy"] != base.get("policy", "fifo"):
        merged.pop("options", None)
    return merged
