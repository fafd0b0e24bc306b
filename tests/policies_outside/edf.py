"""Earliest deadline first: every job is due a fixed slack after its submission, by job class.

A job of class C submitted at time s is due at ``s + slack[C]``; the instrument takes the waiting job due
first (then the one that entered the queue first, then the lowest id). Named in a scenario as
``policy = "edf:EarliestDeadlineFirst"`` with ``[scheduler.options] slack = { interactive = "30s" }``;
classes the table leaves out are due ``default_slack`` after submission.
"""

from __future__ import annotations

from collections.abc import Mapping

from sim.policies import KeyPolicy, OptionError, QueueContext
from sim.policies.options import duration


class EarliestDeadlineFirst(KeyPolicy):
    """Least ``submitted_at + slack of the job's class`` first."""

    def __init__(self, context: QueueContext, slack: Mapping[str, object] | None = None,
                 default_slack: object = "1h") -> None:
        super().__init__(context)
        slack = {} if slack is None else slack
        if not isinstance(slack, Mapping):
            raise OptionError("slack", f"expected a table of job class names and durations, got {slack!r}")
        for name in slack:  # (a context with no jobs, on which validation checks the values, has no classes)
            if context.jobs and name not in context.job_classes:
                raise OptionError(f"slack.{name}", f"no job class {name!r}; the workload's classes are "
                                  f"{', '.join(context.job_classes)}")
        default = duration("default_slack", default_slack, positive=False)
        by_class = {name: duration(f"slack.{name}", value, positive=False) for name, value in slack.items()}
        self.slack = [by_class.get(name, default) for name in context.job_classes]
        """Each job class's slack in seconds, by class index."""
        self._submitted = context.submitted_at
        self._class = context.job_class

    def deadline(self, job: int) -> float:
        """When ``job`` is due (seconds from the start of the run)."""
        return self._submitted[job] + self.slack[self._class[job]]

    def key(self, job: int) -> tuple[float]:
        return (self.deadline(job),)
