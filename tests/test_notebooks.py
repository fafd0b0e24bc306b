"""The notebooks are executable documentation: every notebook in ``notebooks/`` runs top to bottom without an
error, and is committed without outputs.

Each notebook runs in a fresh kernel of the interpreter running the tests (a kernel spec made for the session, so
that a ``python3`` kernel of some other Python on the machine cannot stand in), with the repository root as its
working directory, a time limit per cell, and ``STATIONSIM_NOTEBOOK_SMALL=1`` in its environment: a notebook
reads that variable to choose small runs. The executed copy stays in memory; nothing is written back.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  # installed with nbclient
from jupyter_client.manager import KernelManager  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300
"""Seconds one cell may take."""
KERNEL = "stationsim-tests"


@pytest.fixture(scope="session")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A kernel spec that starts ``ipykernel`` in this very interpreter."""
    folder = tmp_path_factory.mktemp("kernels") / KERNEL
    folder.mkdir()
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "stationsim tests", "language": "python"}
    (folder / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    return KernelSpecManager(kernel_dirs=[str(folder.parent)])


def test_there_are_notebooks() -> None:
    assert [p.name for p in NOTEBOOKS if p.name == "stage_timing.ipynb"] == ["stage_timing.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {index} has outputs: strip them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {index} has an execution count"


SLOW_NOTEBOOKS = {"capacity_planning.ipynb"}
"""Run with the slow tests (CI runs them too): replications and a sweep, the longest of the notebooks."""


@pytest.mark.parametrize("path", [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_NOTEBOOKS else p
                                  for p in NOTEBOOKS], ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_specs: KernelSpecManager) -> None:
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name=KERNEL, kernel_spec_manager=kernel_specs)
    client = nbclient.NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(ROOT)}})
    environment = {**os.environ, "STATIONSIM_NOTEBOOK_SMALL": "1"}
    environment.pop("MPLBACKEND", None)  # the kernel's own inline backend
    environment.pop("STATIONSIM_RESULTS", None)  # each notebook makes its own small database
    try:
        client.execute(env=environment)
    finally:  # a kernel manager given to the client is ours to shut down: the client leaves its kernel running
        if manager.has_kernel:
            manager.shutdown_kernel(now=True)
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert errors == []
    images = sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
                 for output in cell.outputs)
    assert images > 0, f"{path.name} showed no figure"
