"""``simulate`` hands back its run's records compacted (``sim.model.compaction``), and they read the same as the
records the run wrote, with the store and without."""

from __future__ import annotations

from pathlib import Path

from test_compaction import JOBS, RUNS, assert_same_readings, readings, uncompacted

import sim
from sim.model.compaction import CompactHoldings


def test_simulate_returns_the_compacted_records_of_the_same_run(tmp_path: Path) -> None:
    before = readings(uncompacted(RUNS["trouble_requeue"]))
    for store in (None, tmp_path / "r.sqlite"):
        result = sim.simulate(RUNS["trouble_requeue"], jobs=JOBS, store=store)
        assert all(isinstance(h, CompactHoldings) for h in result.records.holdings.values())
        assert_same_readings(before, readings(result))
