"""A scenario that ``extends`` another: its ``[scheduler] options`` replace the base's whole, ``options = {}``
clears them, and another policy starts from none (``sim.scenario.scheduler.merge_scheduler``)."""

from __future__ import annotations

from pathlib import Path

from test_policy_api import EDF, _edf_file

import sim


def test_an_extending_file_replaces_or_clears_the_options(tmp_path: Path) -> None:
    base = _edf_file(tmp_path, policy=EDF)
    (tmp_path / "cleared.toml").write_text('extends = "edf.toml"\n[scheduler]\noptions = {}\n', encoding="utf-8")
    assert sim.load_scenario(tmp_path / "cleared.toml").scheduler.options == {}
    (tmp_path / "fifo.toml").write_text('extends = "edf.toml"\n[scheduler]\npolicy = "fifo"\n', encoding="utf-8")
    assert sim.load_scenario(tmp_path / "fifo.toml").scheduler.options == {}
    (tmp_path / "own.toml").write_text('extends = "edf.toml"\n[scheduler.options]\nslack = { batch = "2h" }\n',
                                       encoding="utf-8")
    assert sim.load_scenario(tmp_path / "own.toml").scheduler.options == {"slack": {"batch": "2h"}}
    assert sim.load_scenario(base).scheduler.options == {"slack": {"interactive": "30s", "batch": "1h"}}
