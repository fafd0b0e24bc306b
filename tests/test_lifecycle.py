"""Runs that end cleanly whatever happens: ``stationsim run --out`` stopped by real signals at several points
(before the first batch, half-way, during the last commit) leaves a sound database that says how far it got,
prints one line, exits 130 (SIGINT), 143 (SIGTERM) or 2 (the writer died), and leaves no process behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sim.results.invariants import check
from sim.results.reading import run_info

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.toml"
DEADLINE = 240.0
"""Seconds a run may take to reach the point a test waits for (a shared machine can be slow); never asserted."""
MESSAGE = re.compile(r"stationsim: interrupted: run (\d+) kept as incomplete, ([\d,]+) of ([\d,]+) jobs written")


def _as_from_a_terminal() -> None:
    """Ctrl-C as a terminal delivers it: a test session started in the background of a shell script inherits
    SIGINT ignored (so does every process it starts), and a run that ignores SIGINT rightly goes on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Run:
    """``stationsim run BASELINE --jobs N --out OUT`` in a process of its own, and its writer process."""

    def __init__(self, out: Path, jobs: int) -> None:
        self.out = out
        self.database = out / "results.sqlite"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sim", "run", str(BASELINE), "--jobs", str(jobs), "--seed", "3", "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, preexec_fn=_as_from_a_terminal)
        self.family: set[int] = {self.process.pid}

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"the run ended before {what}: {self.process.stderr.read() if self.process.stderr else ''}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run did not reach {what} in time")
            time.sleep(0.02)
        self.family |= set(children(self.process.pid))

    def writer(self) -> int:
        """The writer process's id, once it exists."""
        self.wait_until(lambda: bool(children(self.process.pid)), "starting its writer")
        (writer,) = children(self.process.pid)
        return writer

    def jobs_written(self) -> int:
        return jobs_written(self.database)

    def finish(self) -> tuple[int, str]:
        """Wait for the run's end: its exit status and what it printed on stderr."""
        try:
            _, stderr = self.process.communicate(timeout=DEADLINE)
        finally:
            self.process.kill()
            self.process.wait()
        return self.process.returncode, stderr

    def assert_nothing_left(self) -> None:
        """Every process of the run ends (a zombie has ended) within a short wait."""
        deadline = time.monotonic() + 20
        while (alive := [pid for pid in self.family if is_alive(pid)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert alive == [], f"processes of the run still alive: {alive}"


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def jobs_written(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    except sqlite3.OperationalError:  # not there yet, or the schema is not
        return 0


def runs_stored(database: Path) -> int:
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            return int(connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def assert_sound_and_said(run: Run, status: int, expected_status: int, stderr: str) -> int:
    """One line on stderr that says what the database holds; the database incomplete and sound."""
    assert "Traceback" not in stderr, stderr
    assert status == expected_status, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    if not run.database.exists() or runs_stored(run.database) == 0:
        assert "no run was stored" in lines[0], lines[0]
        return 0
    match = MESSAGE.fullmatch(lines[0])
    assert match is not None, lines[0]
    written = int(match[2].replace(",", ""))
    connection = sqlite3.connect(run.database)
    try:
        info = run_info(connection, int(match[1]))
        assert info["complete"] == 0
        assert info["jobs_written"] == written == run.jobs_written()
        assert check(connection, int(match[1])) == []
    finally:
        connection.close()
    return written


FAST_AND_SLOW = [(signal.SIGINT, 130), pytest.param(signal.SIGTERM, 143, marks=pytest.mark.slow)]
SLOW_AND_FAST = [pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow), (signal.SIGTERM, 143)]
"""Each point is stopped by one signal in the fast suite and by the other in the slow one."""


@pytest.mark.parametrize(("signum", "status"), FAST_AND_SLOW)
def test_a_run_stopped_half_way_says_what_it_kept(tmp_path: Path, signum: signal.Signals, status: int) -> None:
    run = Run(tmp_path / "out", 200_000)
    run.writer()
    run.wait_until(lambda: run.jobs_written() >= 40_000, "40,000 jobs written")
    os.kill(run.process.pid, signum)
    code, stderr = run.finish()
    written = assert_sound_and_said(run, code, status, stderr)
    assert 40_000 <= written < 200_000
    run.assert_nothing_left()
    assert jobs_written(run.database) == written  # nothing committed after the message
    summary = json.loads((run.out / "summary.json").read_text())
    assert (summary["run_id"], summary["complete"], summary["jobs_written"]) == (1, False, written)
    assert summary["stopped_by"] == signum.name


@pytest.mark.parametrize(("signum", "status"), SLOW_AND_FAST)
def test_a_run_stopped_before_its_first_batch(tmp_path: Path, signum: signal.Signals, status: int) -> None:
    run = Run(tmp_path / "out", 200_000)
    run.writer()  # the run has begun writing; its first batch of jobs is seconds away
    os.kill(run.process.pid, signum)
    code, stderr = run.finish()
    assert assert_sound_and_said(run, code, status, stderr) < 200_000
    run.assert_nothing_left()


def stop_writer_in_its_last_commit(run: Run) -> int:
    """Hold the writer stopped from the run's first commit on, until the run has handed it the last batch and
    waits for it: the run's end, frozen in the middle of its last commit. Returns the writer's id."""
    writer = run.writer()
    run.wait_until(lambda: runs_stored(run.database) == 1, "storing its run row")
    time.sleep(0.2)  # the writer's reply on its way: the run goes on simulating, then hands over its last batch
    os.kill(writer, signal.SIGSTOP)
    before = -1

    def parent_waits() -> bool:  # no CPU time spent over a tenth of a second: blocked on the stopped writer
        nonlocal before
        now = cpu_ticks(run.process.pid)
        idle, before = now == before, now
        time.sleep(0.1)
        return idle

    run.wait_until(parent_waits, "waiting for its writer")
    return writer


@pytest.mark.parametrize(("signum", "status"), FAST_AND_SLOW)
def test_a_run_stopped_during_its_last_commit(tmp_path: Path, signum: signal.Signals, status: int) -> None:
    run = Run(tmp_path / "out", 20_000)  # one batch, written at the end
    writer = stop_writer_in_its_last_commit(run)
    os.kill(run.process.pid, signum)
    os.kill(writer, signal.SIGCONT)
    code, stderr = run.finish()
    assert assert_sound_and_said(run, code, status, stderr) in (0, 20_000)
    run.assert_nothing_left()


def test_a_run_killed_during_its_last_commit_commits_nothing_more(tmp_path: Path) -> None:
    run = Run(tmp_path / "out", 20_000)
    writer = stop_writer_in_its_last_commit(run)
    os.kill(run.process.pid, signal.SIGKILL)
    run.finish()
    with contextlib.suppress(ProcessLookupError):  # the kernel killed it with its parent (PR_SET_PDEATHSIG)
        os.kill(writer, signal.SIGCONT)
    run.assert_nothing_left()
    connection = sqlite3.connect(run.database)
    try:
        assert run_info(connection, 1)["complete"] == 0
        assert run_info(connection, 1)["jobs_written"] == 0
    finally:
        connection.close()


def test_a_run_whose_writer_dies_says_so(tmp_path: Path) -> None:
    run = Run(tmp_path / "out", 200_000)
    writer = run.writer()
    run.wait_until(lambda: run.jobs_written() >= 20_000, "20,000 jobs written")
    os.kill(writer, signal.SIGKILL)
    code, stderr = run.finish()
    assert "Traceback" not in stderr, stderr
    assert code == 2, stderr
    (line,) = stderr.splitlines()
    assert line.startswith(f"stationsim: error: {run.database}: the results writer process died (killed by SIGKILL)")
    assert re.search(r"run 1 kept as incomplete, [\d,]+ of 200,000 jobs written$", line), line
    run.assert_nothing_left()


@pytest.mark.slow
def test_a_report_of_a_live_run_reads_one_moment(tmp_path: Path) -> None:
    run = Run(tmp_path / "out", 200_000)
    run.writer()
    run.wait_until(lambda: run.jobs_written() >= 20_000, "20,000 jobs written")
    report = subprocess.run([sys.executable, "-m", "sim", "report", str(run.out), "--no-figures"],
                            capture_output=True, text=True, cwd=ROOT)
    os.kill(run.process.pid, signal.SIGTERM)
    code, stderr = run.finish()
    assert report.returncode == 0, report.stderr
    written = re.search(r"([\d,]+) of 200,000 jobs were written", report.stdout)
    received = re.search(r"jobs: ([\d,]+) received", report.stdout)
    assert written is not None, report.stdout
    assert received is not None, report.stdout
    assert written[1] == received[1]  # both from the same snapshot: every job written was received
    assert not re.search(r"\bnan\b", report.stdout)  # a word: "maintenance" is no NaN
    assert_sound_and_said(run, code, 143, stderr)
    run.assert_nothing_left()
