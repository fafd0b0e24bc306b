"""Holdings in the results database: who held each server of each pool, from when to when, and how it ended.

Table (one row per holding; times in simulated seconds)::

    holdings(run_id, pool, server, holder, job_id, start, end, outcome)

- ``pool``: a stage (``validation``, ``calibration``, ``compilation``, ``save_metadata``, ``post_processing``)
  or ``execution`` (the instruments; ``server`` is then the instrument's index);
- ``holder``: ``job`` (then ``job_id`` says which), ``calibration``, ``outage`` or ``reset``;
- ``outcome``: ``done``, ``failed``, ``aborted``, ``restart`` (the service went down), ``outage`` (the
  instrument went down under the job), ``timeout`` (the execution timeout stopped the run), ``returned`` (given
  back unused: the job's calibration set had expired), or ``open`` (still held when the run ended; ``end`` is
  then the end of the run).

A writer takes the rows in slices (``HoldingsSlice``): the holdings closed since its last slice, as numpy
columns that cost the simulation almost nothing to copy, turned into rows in the writer's process.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from sim.model.records import Holder, HoldingsTable, JobRecords, Outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS holdings (
    run_id INTEGER NOT NULL, pool TEXT NOT NULL, server INTEGER NOT NULL, holder TEXT NOT NULL, job_id INTEGER,
    start REAL NOT NULL, end REAL NOT NULL, outcome TEXT NOT NULL
);
"""
HOLDER_NAMES = {int(h): h.name.lower() for h in Holder}
HOLDER_CODES = {name: code for code, name in HOLDER_NAMES.items()}
OUTCOME_NAMES = [o.name.lower() for o in Outcome]


@dataclass(frozen=True)
class HoldingsSlice:
    """Some holdings of every pool, by pool name, as tables."""

    tables: dict[str, HoldingsTable]


class HoldingsCursor:
    """Where a writer is in each pool's holdings: ``take()`` gives the holdings closed since the last take."""

    def __init__(self, records: JobRecords) -> None:
        self.records = records
        self.taken: dict[str, int] = {}

    def take(self) -> HoldingsSlice:
        tables = {}
        for name, holdings in self.records.holdings.items():
            start, end = self.taken.get(name, 0), len(holdings)
            tables[name] = holdings.closed(start, end)
            self.taken[name] = end
        return HoldingsSlice(tables)

    def take_open(self, now: float) -> HoldingsSlice:
        """The holdings still open at ``now`` (at the end of the run), as held until then."""
        tables = {}
        for name, holdings in self.records.holdings.items():
            table = holdings.table(now)
            tables[name] = table.where(table.outcome == Outcome.OPEN)
        return HoldingsSlice(tables)


def insert_holdings(connection: sqlite3.Connection, run_id: int, part: HoldingsSlice) -> None:
    """The rows of ``part`` (the caller commits)."""
    for pool, table in part.tables.items():
        if not len(table):
            continue
        holder = table.holder.tolist()
        rows = ((run_id, pool, server, "job" if h >= 0 else HOLDER_NAMES[h], h if h >= 0 else None, start, end,
                 OUTCOME_NAMES[outcome])
                for server, h, start, end, outcome in zip(table.server.tolist(), holder, table.start.tolist(),
                                                          table.end.tolist(), table.outcome.tolist(), strict=True))
        connection.executemany("INSERT INTO holdings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def read_holdings(connection: sqlite3.Connection, run_id: int, records: JobRecords) -> None:
    """Put a stored run's holdings back into ``records`` (the open ones as closed at the end of the run, with
    outcome ``open``)."""
    rows = connection.execute("SELECT pool, server, holder, job_id, start, end, outcome FROM holdings "
                              "WHERE run_id = ? ORDER BY rowid", (run_id,)).fetchall()
    outcome_codes = {name: code for code, name in enumerate(OUTCOME_NAMES)}
    for pool, server, holder, job_id, start, end, outcome in rows:
        records.holdings_of(pool).rows.extend((server, job_id if holder == "job" else HOLDER_CODES[holder], start, end,
                                               outcome_codes[outcome]))
