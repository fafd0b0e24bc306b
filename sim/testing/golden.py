"""Golden summaries: record a run's key figures once, then check that later runs stay within tolerances.

A scheduler developer pins the behaviour of a policy on a scenario: ``assert_matches_golden(result, path)``
writes the run's figures (``golden_figures``: job counts, execution-queue waits, turnaround, utilisation,
throughput) to ``path`` as JSON the first time, and fails, asking to review and commit the file; afterwards it
compares every recorded figure with the new run's, each within its relative tolerance (``rtol``, or a
per-figure ``tolerances`` entry) and an absolute floor ``atol``, and lists every figure out of bounds. Instead of a
run, any flat dict of named numbers can be pinned (a user's own metrics: ``{"deadline misses": 0.03}``): every
entry is a figure. Runs are
deterministic, so an unchanged model reproduces the figures exactly; the tolerances decide how much a change to
the model or the policy may move them. ``update=True`` (the pytest option ``--stationsim-update-golden``)
records the current figures instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.results.run import RunResult

FIGURES = ("jobs.submitted", "jobs.ready", "jobs.failed", "jobs.aborted", "stages.execution.wait.mean",
           "stages.execution.wait.p95", "stages.execution.wait.max", "stages.execution.utilisation",
           "turnaround.mean", "turnaround.p95", "throughput_per_hour")
"""The figures recorded by default, as dotted paths into ``RunResult.summary()``."""


def _is_flat(source: object) -> bool:
    return isinstance(source, Mapping) and bool(source) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in source.values())


def golden_figures(source: RunResult | Mapping[str, Any], figures: tuple[str, ...] | None = None) -> dict[str, float]:
    """The named figures of a run (or of its summary: ``figures``, default ``FIGURES``), or of a flat dict of
    named numbers (all of them, or ``figures``)."""
    if _is_flat(source):
        assert isinstance(source, Mapping)
        return {name: float(source[name]) for name in (figures if figures is not None else sorted(source))}
    figures = FIGURES if figures is None else figures
    summary = source.summary() if isinstance(source, RunResult) else source
    flat: dict[str, float] = {}
    for path in figures:
        value: Any = summary
        for part in path.split("."):
            value = value[part]
        flat[path] = float(value)
    return flat


def _differs(recorded: float, now: float, rtol: float, atol: float) -> bool:
    if math.isnan(recorded) or math.isnan(now):
        return math.isnan(recorded) != math.isnan(now)
    return abs(now - recorded) > max(atol, rtol * abs(recorded))


def assert_matches_golden(source: RunResult | Mapping[str, Any], path: str | Path, *, rtol: float = 0.05,
                          atol: float = 1e-9, tolerances: Mapping[str, float] | None = None,
                          figures: tuple[str, ...] | None = None, update: bool = False) -> None:
    """Compare a run's figures with the golden file at ``path`` (see the module docstring)."""
    __tracebackhide__ = True  # pytest: show the message, not the kit's frames
    path = Path(path)
    now = golden_figures(source, figures)
    if update or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"figures": now}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if not update:
            raise AssertionError(f"no golden summary at {path}: recorded this run's figures there; review the file, "
                                 "commit it and run again")
        return
    recorded: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))["figures"]
    tolerances = dict(tolerances or {})
    wrong = []
    for name, value in recorded.items():
        if name not in now:
            if _is_flat(source) and name not in source:  # type: ignore[operator]
                wrong.append(f"  {name}: missing now, {value:.6g} recorded")
                continue
            now.update(golden_figures(source, (name,)))
        tolerance = tolerances.get(name, rtol)
        if _differs(value, now[name], tolerance, atol):
            change = f"{(now[name] - value) / abs(value):+.1%}" if value else f"{now[name] - value:+.4g}"
            wrong.append(f"  {name}: {now[name]:.6g} now, {value:.6g} recorded ({change}; tolerance "
                         f"{tolerance:.0%})")
    if wrong:
        raise AssertionError(f"{len(wrong)} figure(s) moved away from the golden summary {path} (rerun with "
                             "--stationsim-update-golden to accept them):\n" + "\n".join(wrong))
