"""The outcome of one run: the scenario and seed, the workload, the job records, and how long it all took.

Results are flat columns from which every table is a filter or a group-by: ``jobs`` (one row per job with its
workload fields, final status and error) and ``transitions`` (one row per status each job reached, IQM's
timeline entries), as numpy arrays or pandas DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sim.model.records import HoldingsTable, JobRecords
from sim.model.status import ABORTED, NOT_RECEIVED, STATUSES
from sim.model.workload import Workload
from sim.scenario.scenario import JOB_KINDS, Scenario

if TYPE_CHECKING:
    import pandas as pd

STATUS_VALUES = tuple(s.value for s in STATUSES)


@dataclass(frozen=True)
class RunResult:
    scenario: Scenario
    seed: int
    workload: Workload
    records: JobRecords
    sim_time: float
    """Simulated seconds from the start of the run to its end."""
    wall_seconds: float
    run_id: int | None = None
    """The run's id in the results database it was written to, if any."""
    complete: bool = True
    """False for a run read back from a database that it did not finish writing (``runs.complete = 0``)."""
    written: npt.NDArray[np.bool_] | None = None
    """Of an incomplete run, the jobs whose rows were written; the others are unknown (None: every job)."""

    @property
    def jobs_written(self) -> int:
        """Jobs whose records this result holds: every job, unless the run is incomplete."""
        return len(self.workload) if self.written is None else int(self.written.sum())

    def describe_jobs(self) -> str:
        """The jobs of the run in words: "2,000 jobs", or "20,000 of 2,000,000 jobs, incomplete"."""
        jobs = len(self.workload)
        if self.complete:
            return f"{jobs:,} job{'s' if jobs != 1 else ''}"
        return f"{self.jobs_written:,} of {jobs:,} jobs, incomplete"

    @cached_property
    def holdings(self) -> dict[str, HoldingsTable]:
        """Every pool's holdings, by pool name (the five stages, then ``execution``): who held which server, from
        when to when, and how it ended (``sim.model.records``); holdings still open at the end of the run as held
        until then. Utilisation, service times and instrument time come from these."""
        return self.records.holdings_tables(self.sim_time)

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Time each job reached each status: shape (jobs, statuses), NaN where it never did."""
        return self.records.times

    @cached_property
    def final_status(self) -> npt.NDArray[np.int64]:
        return self.records.final_status()

    def status_counts(self) -> dict[str, int]:
        """Jobs per current status value, plus ``not_received`` for jobs submitted after the run ended and, of an
        incomplete run, ``not_written`` for the jobs whose rows it never wrote."""
        final = self.final_status if self.written is None else self.final_status[self.written]
        codes, counts = np.unique(final, return_counts=True)
        result = {("not_received" if c == NOT_RECEIVED else STATUS_VALUES[c]): int(n)
                  for c, n in zip(codes, counts, strict=True)}
        if self.written is not None:
            result["not_written"] = len(self.workload) - self.jobs_written
        return result

    def job_columns(self) -> dict[str, npt.NDArray[Any]]:
        """The ``jobs`` table as columns (statuses as their lower-case values, None before receipt)."""
        return job_columns(self.workload, self.records, np.arange(len(self.workload)))

    def transition_columns(self) -> dict[str, npt.NDArray[Any]]:
        """The ``transitions`` table as columns, ordered by job and then status."""
        return transition_columns(self.records, np.arange(len(self.workload)))

    def jobs_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.job_columns()).set_index("job_id")

    def transitions_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.transition_columns())

    def times_frame(self) -> pd.DataFrame:
        """One row per job, one column per status value: the time it was reached (NaN if never)."""
        import pandas as pd

        return pd.DataFrame(self.times, columns=list(STATUS_VALUES)).rename_axis("job_id")

    def events_frame(self) -> pd.DataFrame:
        import pandas as pd

        rows = [(e.t, e.kind, e.job_id, e.detail) for e in self.records.events]
        return pd.DataFrame(rows, columns=["t", "kind", "job_id", "detail"])

    def measurements_frame(self) -> pd.DataFrame:
        """Synthetic measurement counts (``[hardware] measurements = true``): job, circuit, bitstring, count."""
        import pandas as pd

        rows = [(job, circuit, bits, n) for job, circuits in sorted(self.records.measurements.items())
                for circuit, counts in enumerate(circuits) for bits, n in counts.items()]
        return pd.DataFrame(rows, columns=["job_id", "circuit", "bitstring", "count"])

    def summary(self, *, by_user: bool = False) -> dict[str, Any]:
        """The per-stage summary (``sim.results.metrics.summarize``; with ``by_user``, each user's figures too).
        Of an incomplete run, the figures are of the jobs written; ``jobs`` counts them (``written``,
        ``not_written``) and ``complete`` is false."""
        from sim.results.metrics import summarize

        summary = summarize(self, by_user=by_user)
        if self.written is not None:
            unwritten = len(self.workload) - self.jobs_written  # summarize counts them as submitted, not received
            jobs = summary["jobs"]
            jobs["not_received"] -= unwritten
            jobs.update(written=self.jobs_written, not_written=unwritten)
            summary["complete"] = False
        return summary


def _optional(values: dict[int, str], jobs: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    return np.array([values.get(j) for j in jobs.tolist()], dtype=object)


def job_columns(workload: Workload, records: JobRecords, jobs: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
    """The ``jobs`` table's columns for the jobs ``jobs`` (statuses as their lower-case values; None for a job
    the station never received)."""
    w = workload
    status = records.status  # only the batch's jobs: a run writes its jobs in many batches
    final = np.fromiter((status[j] for j in jobs.tolist()), dtype=np.int64, count=len(jobs))
    status_names = np.array([*STATUS_VALUES, None], dtype=object)  # index -1: not received
    return {
        "job_id": jobs,
        "job_class": np.array(w.class_names, dtype=object)[w.job_class[jobs]],
        "job_type": np.array(JOB_KINDS, dtype=object)[w.kind[jobs]],
        "circuits": w.circuits[jobs],
        "shots": w.shots[jobs],
        "depth": w.depth[jobs],
        "sweep_points": w.sweep_points[jobs],
        "qubits": w.qubits[jobs],
        "user": np.array(w.users, dtype=object)[w.user[jobs]],
        "project": np.array(w.projects, dtype=object)[w.project[jobs]],
        "use_timeslot": w.use_timeslot[jobs].astype(np.int64),
        "priority": w.priority[jobs],
        "submitted_at": w.submitted_at[jobs],
        "final_status": status_names[final],
        "instrument": np.asarray(records.instrument[jobs], dtype=np.int64),  # compacted records keep it narrower
        "failed_stage": _optional(records.failed_stage, jobs),
        "user_error_message": _optional(records.user_error_message, jobs),
        "full_error_log": _optional(records.full_error_log, jobs),
        "interrupted": (final == ABORTED).astype(np.int64),
        "execution_progress": records.execution_progress[jobs],
        "calibration_set_id": np.asarray(records.calibration_set[jobs], dtype=np.int64),
    }


def transition_columns(records: JobRecords, jobs: npt.NDArray[np.int64]) -> dict[str, npt.NDArray[Any]]:
    """The ``transitions`` table's columns for the jobs ``jobs``: every status each reached, in order."""
    rows, code = np.nonzero(~np.isnan(records.times[jobs]))
    job_id = jobs[rows]
    return {"job_id": job_id, "status": np.array(STATUS_VALUES, dtype=object)[code],
            "t": records.times[job_id, code]}
