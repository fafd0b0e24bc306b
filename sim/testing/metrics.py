"""Named metrics for comparisons, beyond the summary's: deadline misses with a slack per job class, one class's
queue wait.

A metric is a function of a run and its summary giving one number (``sim.testing.comparison.Metric``), with
whether higher is better. The ``compare`` command line names extra metrics as ``--metric NAME`` or
``--metric NAME='{ TOML inline table of its options }'``; ``NAMED_METRICS`` are the names it knows, and a user's
``module:function`` (a function taking the options as keyword arguments and returning a dict of name ->
(metric, higher is better)) is found like a user's policy:

- ``deadline_misses``: options ``slack`` (a table of job class -> duration) and ``default_slack`` (for the
  classes it leaves out; default ``"1h"``): the share of jobs that reached READY after ``submitted_at + slack``
  of their class, among the jobs that reached READY;
- ``class_wait``: options ``job_class`` (a class name) and ``statistic`` (``mean``, default, or ``p95``): that
  class's execution-queue wait.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from sim.model.status import EXECUTION_STARTED, PENDING_EXECUTION, READY
from sim.results.run import RunResult
from sim.scenario.units import parse_duration

Metric = Callable[[RunResult, Mapping[str, Any]], float]
Metrics = dict[str, tuple[Metric, bool]]


class MetricError(ValueError):
    """A metric whose options do not fit the run (a job class it does not have)."""


def _seconds(name: str, value: object) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
    if not seconds >= 0 or math.isinf(seconds):
        raise ValueError(f"{name}: expected a finite duration of zero or more, got {value!r}")
    return seconds


def deadline_misses(slack: Mapping[str, object] | None = None, default_slack: object = "1h") -> Metrics:
    """The share of READY jobs that were ready after their deadline, ``submitted_at + slack[job class]``."""
    slack = {} if slack is None else slack
    if not isinstance(slack, Mapping):
        raise ValueError(f"slack: expected a table of job class names and durations, got {slack!r}")
    default = _seconds("default_slack", default_slack)
    by_class = {str(name): _seconds(f"slack.{name}", value) for name, value in slack.items()}

    def misses(result: RunResult, summary: Mapping[str, Any]) -> float:
        w = result.workload
        unknown = sorted(set(by_class) - set(w.class_names))
        if unknown:
            raise MetricError(f"deadline_misses: slack.{unknown[0]}: no job class {unknown[0]!r}; the workload's "
                             f"classes are {', '.join(w.class_names)}")
        per_class = np.array([by_class.get(name, default) for name in w.class_names])
        ready = result.times[:, READY]
        done = ~np.isnan(ready)
        if not done.any():
            return math.nan
        late = ready[done] > w.submitted_at[done] + per_class[w.job_class[done]]
        return float(np.mean(late))

    return {"deadline misses (share)": (misses, False)}


def class_wait(job_class: str, statistic: str = "mean") -> Metrics:
    """One job class's execution-queue wait (``mean`` or ``p95``)."""
    if statistic not in ("mean", "p95"):
        raise ValueError(f"statistic: expected mean or p95, got {statistic!r}")

    def wait(result: RunResult, summary: Mapping[str, Any]) -> float:
        w = result.workload
        if job_class not in w.class_names:
            raise MetricError(f"class_wait: job_class: no job class {job_class!r}; the workload's classes are "
                             f"{', '.join(w.class_names)}")
        mine = w.job_class == w.class_names.index(job_class)
        waits = (result.times[:, EXECUTION_STARTED] - result.times[:, PENDING_EXECUTION])[mine]
        waits = waits[~np.isnan(waits)]
        if not len(waits):
            return math.nan
        return float(np.mean(waits) if statistic == "mean" else np.percentile(waits, 95))

    return {f"{job_class} queue wait {statistic} (s)": (wait, False)}


NAMED_METRICS: dict[str, Callable[..., Metrics]] = {"deadline_misses": deadline_misses, "class_wait": class_wait}
"""Extra metrics by the name the command line gives them."""


def named_metrics(name: str, options: Mapping[str, Any]) -> Metrics:
    """The metrics ``name`` (a ``NAMED_METRICS`` name or a user's ``module:function``) makes with ``options``;
    ``ValueError`` names what is wrong."""
    if name in NAMED_METRICS:
        factory = NAMED_METRICS[name]
    else:
        module, colon, attribute = name.partition(":")
        if not colon:
            raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(NAMED_METRICS)}, or a user's "
                             "\"module:function\"")
        try:
            factory = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise ValueError(f"metric {name!r}: {error}") from None
    try:
        made = factory(**options)
    except TypeError as error:
        raise ValueError(f"metric {name!r}: {error}") from None
    return dict(made)
