"""A broken invariant, as the checkers report it (``sim.results.invariants``, ``sim.results.accounting``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One broken invariant: its kind, the job it concerns (None for the run), and how."""

    kind: str
    job_id: int | None
    detail: str

    def __str__(self) -> str:
        where = "run" if self.job_id is None else f"job {self.job_id}"
        return f"{where}: {self.kind}: {self.detail}"
