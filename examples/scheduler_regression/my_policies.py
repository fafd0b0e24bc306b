"""A scheduler developer's own policy: an express lane for short jobs, within strict priority classes.

Higher priority first, as under the built-in ``priority`` policy. Within a class, a job expected to run at most
``express`` seconds is treated as if it had entered the queue ``head_start`` earlier than it did: short jobs
overtake long ones, but never a long job that has been waiting longer than ``head_start`` already, so no job
starves. Named in a scenario as ``policy = "my_policies:ExpressLane"``, with
``[scheduler.options] express = 10, head_start = "5min"``.

``BrokenExpressLane`` is the same policy with a bug (it sorts the priorities the wrong way round): the
regression tests in ``test_my_policy.py`` catch it.
"""

from __future__ import annotations

from sim.policies import KeyPolicy, QueueContext
from sim.scenario.units import parse_duration


class ExpressLane(KeyPolicy):
    """Priority classes; within a class, short jobs get a head start of ``head_start`` seconds."""

    def __init__(self, context: QueueContext, express: float = 10.0, head_start: object = "5min") -> None:
        super().__init__(context)
        self.express = float(express)
        self.head_start = parse_duration(head_start)

    def key(self, job: int) -> tuple[float, ...]:
        short = self.context.expected[job] <= self.express
        return (-self.context.priority[job], self.context.entered(job) - (self.head_start if short else 0.0))


class BrokenExpressLane(ExpressLane):
    """The bug: lower priority first."""

    def key(self, job: int) -> tuple[float, ...]:
        priority, entered = super().key(job)
        return (-priority, entered)
