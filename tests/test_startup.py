"""Start-up: a single run imports nothing heavy. pandas, matplotlib, scipy, Dask and tqdm are imported by the
commands and functions that use them (tables, figures, confidence intervals, executors, progress bars), and
``import sim`` does not import the experiment layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "matplotlib", "scipy", "dask", "distributed", "tqdm", "sim.experiments.replications",
         "sim.experiments.sweeps", "sim.experiments.capacity", "sim.plots.run")
"""Modules a run must not import."""


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
