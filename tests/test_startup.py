"""Start-up: a single run imports nothing heavy. pandas, matplotlib, scipy, Dask and tqdm are imported by the
commands and functions that use them (tables, figures, confidence intervals, executors, progress bars), and
``import sim`` does not import the experiment layer. Nor does a run without ``--out`` load the results database,
its writer process or sqlite3, the serve, fitting and testing layers, the stored-results reader of ``report``,
the policies it does not use, the synthetic measurements, the trace reader, the arrival profiles, or
``numpy.ma`` (which ``np.percentile`` imports; the summary computes the same figures without it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.results.metrics import QUANTILES, percentiles

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "matplotlib", "scipy", "dask", "distributed", "tqdm", "starlette", "uvicorn", "numpy.ma",
         "sqlite3", "multiprocessing", "concurrent.futures", "sim.experiments.replications", "sim.experiments.sweeps",
         "sim.experiments.capacity", "sim.plots.run", "sim.serve", "sim.fitting.records", "sim.testing",
         "sim.cli.stored", "sim.results.store", "sim.results.writer", "sim.results.reading",
         "hardware_mock.measurement", "sim.policies.fair_share", "sim.policies.timeslot",
         "sim.policies.calibration_aware", "sim.scenario.trace", "sim.scenario.profile")
"""Modules a run must not import (the baseline scenario's run: FIFO, no measurements, no ``--out``)."""


def imported_by(code: str) -> set[str]:
    """The modules of ``HEAVY`` that a fresh interpreter has imported after running ``code``."""
    script = f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                             check=True)
    return set(json.loads(process.stdout.splitlines()[-1]))


def test_import_sim_imports_nothing_heavy() -> None:
    assert imported_by("import sim") == set()


def test_a_run_from_the_command_line_imports_nothing_heavy() -> None:
    code = ("from sim.cli.main import main\n"
            "assert main(['run', 'scenarios/baseline.toml', '--jobs', '10']) == 0")
    assert imported_by(code) == set()


def test_the_package_names_are_there_when_asked_for() -> None:
    code = "import sim\nnames = [getattr(sim, name) for name in sim.__all__]"
    assert imported_by(code) >= {"sim.experiments.sweeps", "sim.experiments.capacity"}


def test_a_policy_is_imported_when_a_scenario_names_it() -> None:
    code = ("from sim.cli.main import main\n"
            "assert main(['run', 'scenarios/baseline.toml', '--jobs', '10', '--set', 'scheduler.policy=fair_share']) "
            "== 0")
    assert "sim.policies.fair_share" in imported_by(code)


@given(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=60),
       st.lists(st.integers(0, 100), min_size=1, max_size=5))
def test_the_summary_percentiles_are_numpys_to_the_last_bit(values: list[float], percents: list[int]) -> None:
    array = np.array(values)
    assert np.array_equal(percentiles(array, percents), np.percentile(array, percents))
    assert np.array_equal(percentiles(array, list(QUANTILES.values())), np.percentile(array, list(QUANTILES.values())))
