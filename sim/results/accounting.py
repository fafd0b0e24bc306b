"""Accounting invariants: what must hold of the holdings, the downtimes and the figures derived from them.

Where ``sim.results.invariants`` checks each job's timeline, these check the books of the servers: who held
which server of which pool, and when (``sim.model.records``, holdings). Faults, aborts, restarts, outages and
recalibrations meeting in one run must leave them balanced. The checks, by violation ``kind``:

``not_finite``
    a status time, holding time, event time or the run's end that is not finite (a run at t = infinity).
``progress``
    an execution progress outside [0, 1].
``holding_overlap``
    two holdings of one server at once (in the instrument pool this is also a user job on an instrument while
    it calibrates, is in an outage or resets: those are holdings of the same server).
``over_capacity``
    a pool whose held time exceeds its capacity x the run's length.
``holding_in_downtime``
    a holding that spans part of a downtime of the service (a restart ends every holding when it happens).
``downtime_overlap``
    two downtimes of the service at once.
``lost_work``
    lost work below zero or above the job service time every pool gave (work lost is work that was done).
``utilisation``
    a stage's or the instruments' utilisation, or an instrument-time share, outside [0, 1], or instrument-time
    shares that do not add up to 1.

Each violation names the pool and server (or the run); ``check_accounting`` returns them as
``sim.results.invariants.Violation`` with ``job_id`` the holder when it is a job.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from sim.model.records import HoldingsTable
from sim.results.metrics import downtimes, instrument_time, stage_capacity, summarize
from sim.results.run import RunResult
from sim.results.violation import Violation

TOLERANCE = 1e-6
"""Seconds (or shares) by which a figure may miss its bound through floating-point rounding."""

ACCOUNTING_KINDS: tuple[str, ...] = ("not_finite", "progress", "holding_overlap", "over_capacity",
                                     "holding_in_downtime", "downtime_overlap", "lost_work", "utilisation")


def check_accounting(result: RunResult) -> list[Violation]:
    """Every accounting violation of a run (see the module docstring)."""
    out = _finite(result)
    progress = result.records.execution_progress
    bad = np.flatnonzero(np.isfinite(progress) & ((progress < 0) | (progress > 1)))
    out += [Violation("progress", int(j), f"execution progress {progress[j]:.9g} outside [0, 1]")
            for j in bad.tolist()]
    spans = downtimes(result)
    for pool, table in result.holdings.items():
        out += _overlaps(pool, table)
        out += _capacity(result, pool, table)
        out += _in_downtime(pool, table, spans)
    out += [Violation("downtime_overlap", None, f"downtime {a} overlaps downtime {b}")
            for a, b in itertools.pairwise(spans) if b[0] < a[1] - TOLERANCE]
    out += _lost_work(result)
    out += _utilisation(result)
    return out


def _finite(result: RunResult) -> list[Violation]:
    out = []
    times = result.times
    for j in np.flatnonzero(np.isinf(times).any(axis=1)).tolist():
        out.append(Violation("not_finite", j, "a status time is infinite"))
    if not math.isfinite(result.sim_time):
        out.append(Violation("not_finite", None, f"the run ended at t = {result.sim_time}"))
    for pool, table in result.holdings.items():
        for i in np.flatnonzero(~np.isfinite(table.start) | ~np.isfinite(table.end)).tolist():
            out.append(Violation("not_finite", _job(table, i), f"{pool} server {table.server[i]}: a holding "
                                 f"from {table.start[i]} to {table.end[i]}"))
    out += [Violation("not_finite", e.job_id, f"event {e.kind} at t = {e.t}") for e in result.records.events
            if not math.isfinite(e.t)]
    return out


def _job(table: HoldingsTable, i: int) -> int | None:
    holder = int(table.holder[i])
    return holder if holder >= 0 else None


def _overlaps(pool: str, table: HoldingsTable) -> list[Violation]:
    order = np.lexsort((table.start, table.server))
    server, start, end = table.server[order], table.start[order], table.end[order]
    same = server[1:] == server[:-1]
    # the latest end so far on each server, in start order: one running maximum over all servers, each server's
    # ends lifted above every earlier server's so that the maximum restarts at each server (vectorised)
    lift = server * (np.max(np.abs(end), initial=0.0) * 2 + 1) if len(end) else end
    running_end = np.maximum.accumulate(end + lift) - lift
    clash = np.flatnonzero(same & (start[1:] < running_end[:-1] - TOLERANCE)) + 1
    return [Violation("holding_overlap", _job(table, int(order[i])),
                      f"{pool} server {server[i]}: a holding from {start[i]:.9g} s starts before the one before it "
                      f"ends at {running_end[i - 1]:.9g} s") for i in clash.tolist()]


def _capacity(result: RunResult, pool: str, table: HoldingsTable) -> list[Violation]:
    capacity = stage_capacity(result, pool)
    busy = table.busy(0.0, result.sim_time)
    if math.isfinite(capacity) and busy > capacity * result.sim_time + TOLERANCE * max(1.0, len(table)):
        return [Violation("over_capacity", None, f"{pool}: {busy:.9g} server-seconds held, more than "
                          f"{capacity:g} servers x {result.sim_time:.9g} s")]
    return []


def _in_downtime(pool: str, table: HoldingsTable, spans: list[tuple[float, float]]) -> list[Violation]:
    out = []
    for down, up in spans:
        inside = np.flatnonzero((np.minimum(table.end, up) - np.maximum(table.start, down)) > TOLERANCE)
        out += [Violation("holding_in_downtime", _job(table, i), f"{pool} server {table.server[i]}: held from "
                          f"{table.start[i]:.9g} to {table.end[i]:.9g} s, across the downtime from {down:.9g} to "
                          f"{up:.9g} s") for i in inside.tolist()]
    return out


def _lost_work(result: RunResult) -> list[Violation]:
    lost = result.records.lost_work
    done = sum(float(table.of_jobs().seconds.sum()) for table in result.holdings.values())
    if lost < -TOLERANCE or lost > done + TOLERANCE * max(1.0, done):
        return [Violation("lost_work", None, f"{lost:.9g} s of work lost, against {done:.9g} s of job service "
                          "done in all")]
    return []


def _utilisation(result: RunResult) -> list[Violation]:
    out = []
    summary = summarize(result)
    for stage, row in summary["stages"].items():
        share = row["utilisation"]
        if math.isfinite(share) and not -TOLERANCE <= share <= 1 + TOLERANCE:
            out.append(Violation("utilisation", None, f"{stage}: utilisation {share:.9g} outside [0, 1]"))
    shares = instrument_time(result)
    for kind, share in shares.items():
        if not -TOLERANCE <= share <= 1 + TOLERANCE:
            out.append(Violation("utilisation", None, f"instrument time {kind}: {share:.9g} outside [0, 1]"))
    if shares and abs(sum(shares.values()) - 1) > TOLERANCE:
        out.append(Violation("utilisation", None, f"instrument time shares add up to {sum(shares.values()):.9g}"))
    return out
