"""What ``stationsim run --out DIR`` leaves behind, whatever happens: the folder checked before the run starts,
the memory the run needs checked before anything is allocated, and one line when the run is stopped.

Every output failure (a folder that cannot be written, a ``results.sqlite`` that is not a database, a
``summary.json`` that is a folder, a full disk, a writer that died) is one line naming the path and what is
wrong, exit status 2. An interrupted run (Ctrl-C: exit 130; SIGTERM: exit 143) says which run it was and how
many of its jobs were written, as the database itself records them; nothing half-written looks complete.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.cli.args import UsageError

DATABASE = "results.sqlite"
SUMMARY = "summary.json"
BYTES_PER_JOB = 800
"""Peak memory of a run per job (records, holdings, workload, the summary's arrays), measured as the peak
resident size of ``stationsim run scenarios/baseline.toml --out``: 129 MB at 100,000 jobs, 315 MB at 400,000
(about 650 bytes a job; faulty_hardware.toml 690), plus a margin. Measure again when the records change."""
BASE_BYTES = 120 * 2**20
"""The interpreter, numpy, pandas and SimPy, before the first job."""
EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}
"""128 + the signal's number, as a shell reports a process that the signal stopped."""


class Terminated(BaseException):
    """SIGTERM, raised where the program is (as Ctrl-C raises KeyboardInterrupt) so that the run ends cleanly."""


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """While inside, SIGTERM raises ``Terminated`` (in the main thread; elsewhere nothing changes)."""
    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass(frozen=True)
class RunOutput:
    """A checked ``--out`` folder and what it held before this run."""

    folder: Path
    runs_before: tuple[int, ...]

    @property
    def database(self) -> Path:
        return self.folder / DATABASE

    @property
    def summary(self) -> Path:
        return self.folder / SUMMARY


def check_run_out(folder: Path) -> RunOutput:
    """The ``--out`` folder of ``run``, made if need be and checked before the run starts."""
    import sqlite3

    from sim.cli.args import prepare_out
    from sim.results.reading import is_sqlite_file, open_readonly, run_ids  # a results database: only with --out

    prepare_out(folder)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{folder}: --out: cannot write into this folder (permission denied)")
    database, summary = folder / DATABASE, folder / SUMMARY
    if summary.is_dir():
        raise UsageError(f"{summary}: is a folder; expected the run's summary file (or nothing)")
    if database.is_dir():
        raise UsageError(f"{database}: is a folder; expected a results database file (or nothing)")
    if not database.exists():
        return RunOutput(folder, ())
    if not is_sqlite_file(database):
        raise UsageError(f"{database}: not a results database (not an SQLite file); move it away or choose "
                         "another --out")
    try:
        connection = open_readonly(database)
        try:
            before = tuple(run_ids(connection))
        finally:
            connection.close()
    except sqlite3.Error as error:
        raise UsageError(f"{database}: not a results database ({error})") from None
    if not os.access(database, os.W_OK):
        raise UsageError(f"{database}: cannot add a run to this database (permission denied)")
    return RunOutput(folder, before)


def _new_run(output: RunOutput) -> dict[str, Any] | None:
    """The run this command added to the database (its ``runs`` row), if it got that far."""
    import sqlite3

    from sim.results.reading import open_readonly, run_ids, run_info  # a results database: only with --out

    if not output.database.is_file():
        return None
    try:
        connection = open_readonly(output.database)
        try:
            new = [r for r in run_ids(connection) if r not in output.runs_before]
            return run_info(connection, new[-1]) if new else None
        finally:
            connection.close()
    except sqlite3.Error:
        return None


def stopped_run(output: RunOutput | None, info: dict[str, Any] | None = None) -> str:
    """What an interrupted or failed run left, in words, from the database itself (``info``: the run's row, if
    already read)."""
    if output is None:
        return "no results were written"
    info = info or _new_run(output)
    if info is None:
        return f"no run was stored in {output.database}"
    written, jobs = info["jobs_written"], info["jobs"]
    if info["complete"]:
        return (f"run {info['run_id']} is complete ({written:,} of {jobs:,} jobs written), but {output.summary} "
                "was not written")
    return f"run {info['run_id']} kept as incomplete, {written:,} of {jobs:,} jobs written"


def interrupted(output: RunOutput | None, signum: signal.Signals) -> int:
    """Say what an interrupted run left (and make ``summary.json`` say it too); the exit status for ``signum``."""
    import sys

    info = _new_run(output) if output is not None else None
    if output is not None and info is not None and not info["complete"]:
        with suppress(UsageError):  # the line below says what matters
            write_json(output.summary, {
                "run_id": info["run_id"], "database": output.database.name, "complete": False,
                "jobs_written": info["jobs_written"], "scenario": info["scenario_name"], "seed": info["seed"],
                "jobs": {"submitted": info["jobs"]}, "stopped_by": signum.name,
                "figures": "none: the run did not finish; stationsim report gives those of the jobs written"})
    print(f"stationsim: interrupted: {stopped_run(output, info)}", file=sys.stderr)
    return EXIT_STATUS[signum]


def write_json(path: Path, value: Any) -> None:
    """Write ``path`` atomically (a reader never sees half a file); a failure is one line naming it."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(value, indent=2) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        raise UsageError(f"{path}: cannot write the summary ({error.strerror or error})") from None
    finally:
        with suppress(OSError):
            partial.unlink()


# --- memory ---------------------------------------------------------------------------------------------------

def _meminfo_available() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.inf


def _cgroup_available() -> float:
    """What the cgroup (v2) memory limit leaves, if there is one."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return math.inf
        return float(limit) - float(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return math.inf


def _address_space_available() -> float:
    """What ``ulimit -v`` (RLIMIT_AS) leaves of this process's address space, if it is set."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return math.inf
    try:
        size = float(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        size = 0.0
    return soft - size


AVAILABLE: tuple[tuple[str, Callable[[], float]], ...] = (
    ("available memory (MemAvailable)", _meminfo_available),
    ("the cgroup's memory limit", _cgroup_available),
    ("the address-space limit (ulimit -v)", _address_space_available),
)


def check_memory(jobs: int) -> None:
    """Refuse a run that would not fit in memory, before anything is allocated for it."""
    needed = BASE_BYTES + BYTES_PER_JOB * jobs
    what, available = min(((name, measure()) for name, measure in AVAILABLE), key=lambda pair: pair[1])
    if needed > available:
        raise UsageError(f"--jobs {jobs:,}: a run of {jobs:,} jobs needs about {_size(needed)} of memory "
                         f"({BYTES_PER_JOB:,} bytes a job), but {what} is {_size(max(available, 0.0))}; "
                         "run fewer jobs, or replications of fewer jobs each")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"  # pragma: no cover
