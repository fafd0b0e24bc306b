"""What the command line leaves and prints when its output cannot be written, and what ``report`` and
``validate`` make of every file the tool writes. Each bad output is one line naming the path and what is wrong,
exit status 2, no traceback, and nothing left behind that looks complete."""

from __future__ import annotations

import json
import re
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_cli import assert_bad_input, stationsim
from test_store import read_only

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"
SWEEP = ROOT / "scenarios" / "capacity_sweep.toml"
SMALL_SWEEP = ("--jobs", "400", "--warmup-jobs", "20", "--replications", "2", "--processes", "1", "--quiet")


def stationsim_limited(limit: int, kind: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``stationsim`` under a resource limit (``ulimit -f`` or ``ulimit -v``)."""
    def limited() -> None:
        resource.setrlimit(kind, (limit, limit))

    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, preexec_fn=limited)


def test_an_empty_out_is_refused(tmp_path: Path) -> None:
    process = stationsim("run", BASELINE, "--jobs", "10", "--out", "", cwd=tmp_path)
    assert process.returncode == 2
    assert "--out: expected a folder name, got an empty one" in process.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_seed_a_database_cannot_hold_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    process = stationsim("run", BASELINE, "--jobs", "10", "--seed", str(2**63), "--out", tmp_path / "out")
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert "--seed: expected a seed from 0 to 9223372036854775807" in process.stderr
    assert not (tmp_path / "out").exists()
    largest = stationsim("run", BASELINE, "--jobs", "10", "--seed", str(2**63 - 1), "--out", tmp_path / "out")
    assert largest.returncode == 0, largest.stderr


def make_folder(folder: Path) -> None:
    folder.mkdir()


def make_text(folder: Path) -> None:
    folder.mkdir()
    (folder / "results.sqlite").write_text("my notes\n")


def make_database_folder(folder: Path) -> None:
    (folder / "results.sqlite").mkdir(parents=True)


def make_summary_folder(folder: Path) -> None:
    (folder / "summary.json").mkdir(parents=True)


@pytest.mark.parametrize(("prepare", "named", "expected"), [
    (make_text, "results.sqlite", "not a results database (not an SQLite file)"),
    (make_database_folder, "results.sqlite", "is a folder; expected a results database file"),
    (make_summary_folder, "summary.json", "is a folder; expected the run's summary file"),
])
def test_an_output_in_the_way_is_named(tmp_path: Path, prepare: Callable[[Path], None], named: str,
                                       expected: str) -> None:
    out = tmp_path / "out"
    prepare(out)
    before = sorted(p.name for p in out.iterdir())
    assert_bad_input(stationsim("run", BASELINE, "--jobs", "50", "--out", out), str(out / named), expected)
    assert sorted(p.name for p in out.iterdir()) == before  # no database begun, no summary.json.partial
    if prepare is make_text:
        assert (out / "results.sqlite").read_text() == "my notes\n"


def test_a_read_only_folder_is_named(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("")
    with read_only(out):
        assert_bad_input(stationsim("run", BASELINE, "--jobs", "50", "--out", out), str(out))
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_a_full_disk_is_one_line_and_leaves_the_run_incomplete(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = stationsim_limited(2_000_000, resource.RLIMIT_FSIZE, "run", BASELINE, "--jobs", "60000",
                                 "--out", out)
    line = assert_bad_input(process, str(out / "results.sqlite"), "cannot write the results database")
    assert "run 1 kept as incomplete" in line or "no run was stored" in line, line
    assert not (out / "summary.json").exists()
    if "run 1" in line:
        with sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True) as connection:
            assert connection.execute("SELECT complete FROM runs").fetchall() == [(0,)]


def test_a_run_too_big_for_memory_is_refused_before_it_starts(tmp_path: Path) -> None:
    line = assert_bad_input(stationsim("run", BASELINE, "--jobs", "1000000000", "--out", tmp_path / "out"),
                            "--jobs 1,000,000,000", "needs about", "available memory (MemAvailable) is")
    assert "800 bytes a job" in line
    assert not (tmp_path / "out").exists()
    limited = stationsim_limited(3 * 2**30, resource.RLIMIT_AS, "run", BASELINE, "--jobs", "6000000")
    assert_bad_input(limited, "--jobs 6,000,000", "the address-space limit (ulimit -v)")


def test_summary_json_names_its_run_and_a_second_run_says_so(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = stationsim("run", BASELINE, "--jobs", "100", "--out", out)
    assert first.stdout.splitlines()[-1] == f"wrote run 1 into {out / 'results.sqlite'} and its summary into " \
        f"{out / 'summary.json'}"
    second = stationsim("run", BASELINE, "--jobs", "100", "--seed", "2", "--out", out)
    assert f"wrote run 2 into {out / 'results.sqlite'} (which already held run 1)" in second.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["run_id"], summary["complete"], summary["jobs_written"], summary["seed"]) == (2, True, 100, 2)
    assert summary["database"] == "results.sqlite"


def test_report_of_a_database_without_runs(tmp_path: Path) -> None:
    database = tmp_path / "results.sqlite"
    sqlite3.connect(database).executescript("CREATE TABLE runs (run_id INTEGER PRIMARY KEY); CREATE TABLE jobs "
                                            "(run_id INTEGER)").close()
    assert_bad_input(stationsim("report", tmp_path), str(database), "holds no runs")


def test_report_names_what_it_expected(tmp_path: Path) -> None:
    assert_bad_input(stationsim("report", tmp_path), str(tmp_path), "no results here", "sweep --out",
                     "capacity --out")


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folders of run --replications --out, sweep --out and capacity --out."""
    base = tmp_path_factory.mktemp("experiments")
    factors = ("--factor", "hardware.instruments=1", "--factor", "arrivals.rate=300/h,600/h")
    for args in (("run", BASELINE, "--replications", "2", "--jobs", "300", "--processes", "1", "--quiet",
                  "--out", base / "replications"),
                 ("sweep", SWEEP, *SMALL_SWEEP, *factors, "--out", base / "sweep"),
                 ("capacity", SWEEP, *SMALL_SWEEP, "--factor", "hardware.instruments=1", "--out", base / "capacity")):
        process = stationsim(*args)
        assert process.returncode == 0, process.stderr
    return base


@pytest.mark.parametrize(("folder", "fragments"), [
    ("replications", ("2 replications of scenario baseline, 300 jobs each", "turnaround.p95")),
    ("sweep", ("sweep capacity_sweep", "2 points x 2 replications of 400 jobs", "300/h", "600/h")),
    ("capacity", ("1 capacity search", "hardware.instruments = 1: max arrivals.rate at which turnaround.p95",
                  "probes)")),
])
def test_report_reads_every_folder_the_tool_writes(experiments: Path, folder: str,
                                                   fragments: tuple[str, ...]) -> None:
    process = stationsim("report", experiments / folder)
    assert process.returncode == 0, process.stderr
    for fragment in fragments:
        assert fragment in process.stdout, (fragment, process.stdout)
    assert not re.search(r"\bnan\b", process.stdout)  # a word: "maintenance" is no NaN


def test_validate_checks_a_sweep_file() -> None:
    process = stationsim("validate", SWEEP)
    assert process.returncode == 0, process.stderr
    assert "valid sweep 'capacity_sweep' of scenario 'baseline': 16 points" in process.stdout


def test_validate_names_a_bad_level_of_a_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "bad.toml"
    sweep.write_text(f'scenario = "{BASELINE}"\n[factors]\n"arrivals.rate" = ["300/h", "-1/h"]\n')
    assert_bad_input(stationsim("validate", sweep), str(sweep), "arrivals.rate", "-1/h")


def test_report_of_a_capacity_search_on_a_miss_probability(tmp_path: Path) -> None:
    (tmp_path / "capacity.csv").write_text(
        "arrivals.rate,search,find,metric,threshold,side,per,miss_probability,confidence,status,answer,answer_value,"
        "fails_at,fails_at_value,probes,runs\n"
        "900/h,hardware.instruments,min,turnaround.p95,600.0,below,86400.0,0.05,0.95,found,5,5.0,4,4.0,5,55\n")
    process = stationsim("report", tmp_path / "capacity.csv")
    assert process.returncode == 0, process.stderr
    expected = ("arrivals.rate = 900/h: min hardware.instruments at which the chance that a 1d period's "
                "turnaround.p95 misses 10min is below 5% at 95% confidence (one-sided): 5, failing at 4 (found, 5 "
                "probes)")
    assert expected in process.stdout
