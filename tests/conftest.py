"""The test session leaves no process behind.

The session makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so that a process orphaned by a
test (a results writer whose run was killed, a worker of a pool never shut down) is re-parented to the session
instead of to PID 1 and stays in view. At the end, every descendant still alive after a short grace period is
named in an error, then killed so that the machine is left clean either way.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
GRACE_SECONDS = 10.0
"""How long processes that are ending anyway (a pool shutting down) get before they count as left behind."""


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)


def _children_by_proc(pid: int) -> list[int]:
    """Live (not zombie) descendants of ``pid``, from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


OURS_UNTIL_EXIT = ("multiprocessing.resource_tracker",)
"""Helpers that belong to the session's interpreter itself and end with it (multiprocessing starts its resource
tracker once, on first use, and it exits when the interpreter does): not left behind by a test."""


def live_descendants() -> dict[int, str]:
    """Every live descendant of this process that a test started, with its command line."""
    return {pid: cmd for pid, cmd in _descendants().items() if not any(name in cmd for name in OURS_UNTIL_EXIT)}


def _descendants() -> dict[int, str]:
    try:
        import psutil
    except ImportError:
        pids = _children_by_proc(os.getpid())
        return {pid: _cmdline(pid) for pid in pids}
    alive = {}
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive[child.pid] = " ".join(child.cmdline())
    return alive


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _reap() -> None:
    """Collect the exit status of children that ended (orphans re-parented to us end as our zombies)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    _become_subreaper()
    yield
    deadline = time.monotonic() + GRACE_SECONDS
    left = live_descendants()
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = live_descendants()
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _reap()
    if left:
        pytest.fail("the tests left processes running: " + "; ".join(f"{pid}: {cmd}" for pid, cmd in left.items()),
                    pytrace=False)
