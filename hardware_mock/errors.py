"""Error records: what a failed job tells its user and what it leaves in the logs.

IQM's ``JobError`` carries two texts: ``user_error_message``, one short line for the person who submitted the
job, and ``full_error_log``, the details an operator needs (device, numbers, where the run was). Every failure
the hardware mock produces (a job over a device limit, an instrument error, a hang caught by the timeout, an
outage) is an ``ErrorRecord`` of that shape.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorRecord:
    """A failure as IQM's ``JobError`` reports it."""

    user_message: str
    """Short, for the user (``user_error_message``)."""
    full_log: str
    """Several lines with the numbers, for the logs (``full_error_log``)."""


def log_lines(title: str, details: dict[str, object]) -> str:
    """A full error log: a title line, then one ``key: value`` line per detail, in the order given."""
    width = max((len(key) for key in details), default=0)
    return "\n".join([title, *(f"  {key.ljust(width)} : {value}" for key, value in details.items())])
