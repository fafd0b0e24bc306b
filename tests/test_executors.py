"""Executors (``sim.experiments.executors``): the same sweep gives identical tables in this process, on a local process
pool and on a Dask distributed cluster; an unreachable Dask scheduler is bad input (exit 2, one line, quickly);
progress bars show only where someone can see them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from sim.cli.main import main
from sim.experiments.executors import (
    ExecutorError,
    InProcessExecutor,
    ProgressLines,
    open_executor,
    process_pool,
    run_tasks,
    show_progress,
)
from sim.experiments.sweeps import Sweep, SweepResult, run_sweep

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
SWEEP = f"""
scenario = "{BASELINE.as_posix()}"
replications = 3
seed = 9
jobs = 500
warmup_jobs = 50

[factors]
"hardware.instruments" = [1, 2]
"arrivals.rate" = ["300/h", "500/h"]
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    path = tmp_path_factory.mktemp("sweep") / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    return Sweep.from_toml(path)


@pytest.fixture(scope="module")
def serial(sweep: Sweep) -> SweepResult:
    return run_sweep(sweep, InProcessExecutor())


def assert_same(result: SweepResult, reference: SweepResult) -> None:
    assert result.runs == reference.runs
    pd.testing.assert_frame_equal(result.table(), reference.table(), check_exact=True)
    pd.testing.assert_frame_equal(result.values_table(), reference.values_table(), check_exact=True)


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three")
    return x


def test_run_tasks_keeps_the_order_of_the_tasks() -> None:
    with process_pool(2) as pool:
        assert run_tasks(square, list(range(20)), pool) == [x * x for x in range(20)]
    assert run_tasks(square, [3, 1, 2]) == [9, 1, 4]


@pytest.mark.parametrize("executor", [None, "pool"])
def test_the_first_failure_is_raised(executor: str | None) -> None:
    if executor is None:
        with pytest.raises(ValueError, match="three"):
            run_tasks(fail_on_three, [1, 2, 3, 4])
        return
    with process_pool(2) as pool, pytest.raises(ValueError, match="three"):
        run_tasks(fail_on_three, [1, 2, 3, 4], pool)


def die(x: int) -> int:
    os._exit(1)


def test_a_dead_worker_process_is_an_executor_error() -> None:
    with process_pool(2) as pool, pytest.raises(ExecutorError, match="lost the runs"):
        run_tasks(die, [1, 2], pool)


def test_progress_is_lines_when_the_output_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert not show_progress(quiet=True)
    assert show_progress()
    run_tasks(square, list(range(20)), progress=True, description="squares")  # pytest's stderr: not a terminal
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "squares: 20 runs to go"
    assert lines[-1].startswith("squares: 20/20 runs (100%), ")
    assert len(lines) == 11  # one a tenth of the runs, no bar redrawn
    assert all("\r" not in line for line in lines)
    run_tasks(square, [1, 2, 3], progress=False)
    assert capsys.readouterr().err == ""


def test_progress_lines_say_how_long_is_left() -> None:
    import io

    now = [0.0]
    out = io.StringIO()
    lines = ProgressLines(1000, "sweep", out, every=30.0, clock=lambda: now[0])
    for _ in range(50):
        now[0] += 1.0
        lines.update()  # 5% in 50 s: no tenth passed, but 30 s have
    assert out.getvalue().splitlines()[1:] == ["sweep: 30/1,000 runs (3%), 30 s elapsed, about 16.2 min left"]


def test_a_process_pool_gives_the_same_tables_as_this_process(sweep: Sweep, serial: SweepResult) -> None:
    with open_executor(processes=2) as executor:
        assert_same(run_sweep(sweep, executor), serial)


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    """A local Dask cluster of two worker processes, one thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_a_dask_cluster_gives_the_same_tables_as_this_process(sweep: Sweep, serial: SweepResult,
                                                              dask_address: str) -> None:
    with open_executor(dask_scheduler=dask_address) as executor:
        assert_same(run_sweep(sweep, executor), serial)


def test_the_command_line_writes_the_same_files_on_every_executor(sweep: Sweep, dask_address: str,
                                                                  tmp_path: Path) -> None:
    tables = {}
    for name, options in (("serial", ["--processes", "1"]), ("pool", ["--processes", "2"]),
                          ("dask", ["--dask-scheduler", dask_address])):
        assert main(["sweep", sweep.source, "--out", str(tmp_path / name), "--quiet", *options]) == 0
        tables[name] = (tmp_path / name / "sweep.csv").read_bytes()
    assert tables["serial"] == tables["pool"] == tables["dask"]


def test_an_unreachable_dask_scheduler_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    started = time.perf_counter()
    process = subprocess.run([sys.executable, "-m", "sim", "sweep", str(path), "--out", str(tmp_path / "out"),
                              "--dask-scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "COLUMNS": "200"})
    assert time.perf_counter() - started < 20
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    assert process.stdout == ""
    lines = process.stderr.splitlines()
    assert len(lines) == 1, process.stderr
    assert lines[0].startswith("stationsim: error: tcp://127.0.0.1:9: ")
    assert "Dask scheduler" in lines[0]
    assert not (tmp_path / "out" / "sweep.sqlite").exists()
    assert not (tmp_path / "out" / "sweep.csv").exists()


def test_without_the_dask_extra_a_dask_scheduler_is_bad_input_naming_the_extra(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # a lean install: importing it raises ImportError
    path = tmp_path / "sweep.toml"
    path.write_text(SWEEP, encoding="utf-8")
    assert main(["sweep", str(path), "--quiet", "--dask-scheduler", "tcp://127.0.0.1:9"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("stationsim: error: --dask-scheduler needs ")
    assert "[dask]" in lines[0]
