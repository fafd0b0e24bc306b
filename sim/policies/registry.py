"""Finding a policy by the name a scenario gives it, checking its options, and building it for a run.

``[scheduler] policy`` names a built-in policy (``BUILTIN``) or a user's policy class:

- ``"mypackage.policies:Mine"``: a class (or any factory) in an importable module;
- ``"my_policies.py:Mine"``: a class in a Python file, relative to the scenario file's folder.

Through the API a policy may also be given as the class itself (``scenario.with_values({"scheduler.policy":
Mine})``). ``[scheduler.options]`` are passed to it as keyword arguments, after the run's ``QueueContext``.
Everything that can be checked before a run is checked when the scenario loads (the name resolves, the module
imports, the options fit the constructor, and their values: the policy is built on a context with no jobs, and
an ``OptionError`` (``FieldError``) it raises names the option's path, such as ``slack.batch``; a user's
policy sees no job class names there, so names are checked when the run builds it); errors raise
``ValueError``/``FieldError`` that the scenario reports with the file and key.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.policies.context import QueueContext
from sim.policies.protocol import (
    REQUIRED_METHODS,
    PolicyError,
    PolicyFactory,
    SchedulingPolicy,
    describe,
    missing_methods,
)
from sim.scenario.distributions import FieldError

if TYPE_CHECKING:
    from sim.scenario.scenario import Scheduler


class BuiltinPolicies(Mapping[str, PolicyFactory]):
    """The built-in policies by name, each imported from its module when first looked up, so that a run loads its
    own policy's module and not every policy's."""

    def __init__(self, homes: Mapping[str, tuple[str, str]]) -> None:
        self._homes = dict(homes)
        self._names = {home: name for name, home in self._homes.items()}
        self._loaded: dict[str, PolicyFactory] = {}

    def __getitem__(self, name: str) -> PolicyFactory:
        if name not in self._loaded:
            module, attribute = self._homes[name]
            self._loaded[name] = getattr(importlib.import_module(module), attribute)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._homes)

    def __len__(self) -> int:
        return len(self._homes)

    def __contains__(self, name: object) -> bool:
        return name in self._homes

    def __repr__(self) -> str:
        return f"BuiltinPolicies({', '.join(self._homes)})"

    def holds(self, factory: object) -> bool:
        """Whether ``factory`` is one of these policies (without importing the modules of the others)."""
        name = self._names.get((getattr(factory, "__module__", ""), getattr(factory, "__qualname__", "")))
        return name is not None and self[name] is factory


BUILTIN = BuiltinPolicies({
    "fifo": ("sim.policies.ordering", "Fifo"),
    "priority": ("sim.policies.ordering", "StrictPriority"),
    "timeslot": ("sim.policies.timeslot", "Timeslot"),
    "shortest_first": ("sim.policies.ordering", "ShortestFirst"),
    "fair_share": ("sim.policies.fair_share", "FairShare"),
    "aging": ("sim.policies.ordering", "Aging"),
    "calibration_aware": ("sim.policies.calibration_aware", "CalibrationAware"),
})
"""The built-in policies by name (see each class's module for its options and promise)."""

_files: dict[Path, Any] = {}
"""Policy files already loaded, by absolute path (a file is executed once per process)."""


def resolve(spec: object, folder: Path | None = None) -> tuple[str, PolicyFactory]:
    """The policy's name as a scenario writes it, and its factory. ``spec`` is a built-in name, a
    ``"module:Class"`` or ``"file.py:Class"`` path (a file relative to ``folder``), or a factory itself."""
    if callable(spec):
        return describe(spec), spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"expected a policy name or a \"module:Class\" path, got {spec!r}")
    if spec in BUILTIN:
        return spec, BUILTIN[spec]
    location, colon, attribute = spec.rpartition(":")
    if not colon or not location or not attribute:
        raise ValueError(f"unknown policy {spec!r}; expected one of {', '.join(BUILTIN)}, or a user's policy "
                         "as \"module:Class\" or \"file.py:Class\"")
    module = _load_file(location, folder) if location.endswith(".py") else _import(location, spec)
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(f"policy {spec!r}: {location} has no attribute {part!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"policy {spec!r}: {attribute} is not a class or a function that builds a policy")
    if inspect.isclass(target) and missing_methods(target):
        raise ValueError(f"policy {spec!r} is not a scheduling policy: it has no "
                         f"{', '.join(missing_methods(target))} (a policy needs {', '.join(REQUIRED_METHODS)})")
    return spec, target


def _import(module: str, spec: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise ValueError(f"policy {spec!r}: cannot import module {module!r} ({error}); is it installed or on "
                         "PYTHONPATH?") from None
    except Exception as error:  # the user's module raised while it was imported
        raise ValueError(f"policy {spec!r}: importing module {module!r} failed: {type(error).__name__}: "
                         f"{error}") from None


def _load_file(location: str, folder: Path | None) -> Any:
    path = Path(location)
    if not path.is_absolute():
        path = (folder or Path.cwd()) / path
    path = path.resolve()
    if path in _files:
        return _files[path]
    if not path.is_file():
        raise ValueError(f"no policy file {location!r} (looked for {path})")
    name = f"_stationsim_policy_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    assert module_spec is not None
    assert module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # classes defined in the file can then be found by their module's name
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ValueError(f"loading policy file {location!r} failed: {type(error).__name__}: {error}") from None
    _files[path] = module
    return module


def check_options(factory: PolicyFactory, options: Mapping[str, Any]) -> None:
    """Raise ``FieldError`` for an option the factory does not take, or a required one not given; a built-in
    policy is also built on an empty context, which checks the values."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable without a signature: nothing to check
        return
    parameters = list(signature.parameters.values())[1:]  # the first is the context
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        names = [p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                           inspect.Parameter.KEYWORD_ONLY)]
        for name in options:
            if name not in names:
                expected = f"expected one of {', '.join(names)}" if names else "this policy takes no options"
                raise FieldError(name, f"unknown option; {expected}")
    for p in parameters:
        if p.default is inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD \
                and p.kind is not inspect.Parameter.VAR_POSITIONAL and p.name not in options:
            raise FieldError(p.name, "missing; this option is required")
    if BUILTIN.holds(factory):
        factory(QueueContext.empty(), **options)
        return
    try:  # a user's policy checks its option values by raising OptionError (a FieldError) with the key's path
        factory(QueueContext.empty(job_classes=()), **options)
    except FieldError:
        raise
    except Exception:  # anything else may be the empty context's doing: the run will tell
        return


def build(factory: PolicyFactory, context: QueueContext, options: Mapping[str, Any]) -> SchedulingPolicy:
    """The run's policy (raises ``ValueError``/``FieldError`` for bad options, ``TypeError`` for an object that
    is not a policy)."""
    policy = factory(context, **options)
    missing = missing_methods(policy)
    if missing:
        raise TypeError(f"{describe(factory)} built a {type(policy).__name__}, which is not a scheduling policy: "
                        f"it has no {', '.join(missing)}")
    return policy


def policy_for_run(scheduler: Scheduler, context: QueueContext, source: str) -> SchedulingPolicy:
    """The scenario's policy built for one run; a bad option or a factory that builds no policy raises
    ``PolicyError`` naming the scenario file and the key."""
    factory = scheduler.factory or resolve(scheduler.policy, Path(scheduler.folder) if scheduler.folder else None)[1]
    try:
        return build(factory, context, scheduler.options)
    except FieldError as error:
        raise PolicyError(source, f"scheduler.options.{error.field}" if error.field else "scheduler.options",
                          error.message) from None
    except ValueError as error:
        raise PolicyError(source, "scheduler.options", str(error)) from error
    except TypeError as error:
        raise PolicyError(source, "scheduler.policy", str(error)) from error
