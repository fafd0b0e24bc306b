"""The results writer: a process of its own that commits a run's rows to the results database while the run goes
on, and that cannot outlive the run.

SQLite's per-row work in Python's driver holds the interpreter lock, so a thread would not overlap it with the
simulation; a forked process does, on the other core. The simulation hands it one piece of work at a time over a
pipe (``call``) and goes on; the next ``call`` first waits for the reply to the one before, so the pieces are
committed in order and any error surfaces on the next call (or ``wait``).

The writer's lifetime is tied to its parent's three ways, whatever ends the parent (a return, an exception,
SIGTERM, SIGKILL, a crash):

- on Linux it asks the kernel to kill it the moment its parent dies (``PR_SET_PDEATHSIG``);
- the pipe's end of file tells it that the parent is gone (or has given up on it): a piece of work only partly
  received is dropped;
- before each commit it checks that its parent is still its parent, and rolls back otherwise.

So nothing it writes after its parent died is committed, and it leaves no process behind. It ignores SIGINT:
Ctrl-C reaches every process of the terminal's foreground group, and the parent decides what an interrupt
means. A file too large for ``ulimit -f`` is reported as an error (SIGXFSZ ignored), not a silent death.

Where no process can be started (a daemonic worker of a process pool, or a platform without ``fork``) the work
is done in the calling process, with the same commits.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

Work = Callable[..., Any]
"""``work(connection, *args)``: statements inside one transaction, committed by the writer once they all ran."""

PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal this process gets when its parent dies."""
JOIN_SECONDS = 30.0
"""How long to wait for the writer to finish the commit it is in before killing it (a batch takes well under a
second)."""


class WriterError(Exception):
    """The results could not be written: the message names the database and what is wrong."""


SPACE_ERRORS = ("disk I/O error", "database or disk is full", "File too large", "No space left on device")
"""What SQLite and the system say when a write finds no room (SQLite reports a file-size limit as an I/O error)."""


def describe_error(error: BaseException) -> str:
    """What went wrong, in the words of SQLite or of the operating system (with a hint where they are vague)."""
    text = error.strerror if isinstance(error, OSError) and error.strerror else str(error) or type(error).__name__
    if text in SPACE_ERRORS:
        return f"{text}: is the disk full, or a file-size limit (ulimit -f) reached?"
    return text


def _die_with_parent(parent: int) -> bool:
    """Ask the kernel for SIGKILL when the parent dies; False when it already has (we were orphaned before
    asking)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return os.getppid() == parent


def _commit_or_drop(connection: sqlite3.Connection, parent: int) -> bool:
    """Commit the open transaction if the parent is alive (still our parent); roll it back otherwise."""
    if os.getppid() != parent:
        connection.rollback()
        return False
    connection.commit()
    return True


STOPPING_SIGNALS = {signal.SIGINT, signal.SIGTERM}
"""Held back around the fork and while the writer finishes, so that neither process is stopped half-way through
setting itself up or winding down (a signal held back is delivered right after)."""


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # only the main thread gets signals
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _serve(path: str, channel: Connection, parents_end: Connection, parent: int,
           connect: Callable[[str], sqlite3.Connection]) -> None:
    """The writer process: do each piece of work received, commit it, reply; stop at end of file."""
    parents_end.close()  # inherited through the fork: left open here, it would hide the end of file
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOPPING_SIGNALS)  # held by the parent around the fork
    if not _die_with_parent(parent):
        return
    connection: sqlite3.Connection | None = None
    try:
        while True:
            try:
                message = channel.recv()
            except Exception:  # the parent is gone or gave up (EOF, or a message cut short): drop it
                return
            work, args = message
            try:
                if connection is None:
                    connection = connect(path)
                reply: tuple[str, Any] = ("ok", work(connection, *args))
                if not _commit_or_drop(connection, parent):
                    return
            except Exception as error:  # reported to the parent, which decides
                if connection is not None:
                    with contextlib.suppress(sqlite3.Error):
                        connection.rollback()
                reply = ("error", describe_error(error))
            try:
                channel.send(reply)
            except OSError:
                return
    finally:
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def _can_fork() -> bool:
    return not multiprocessing.current_process().daemon and "fork" in multiprocessing.get_all_start_methods()


class Writer:
    """Commits pieces of work to one database, in a writer process when one can be started."""

    def __init__(self, path: str, connect: Callable[[str], sqlite3.Connection]) -> None:
        self.path = path
        self._connect = connect
        self._connection: sqlite3.Connection | None = None
        self._channel: Connection | None = None
        self._process: Any = None  # multiprocessing's forked Process
        self._waiting = False
        self._result: Any = None
        if _can_fork():
            ours, theirs = multiprocessing.Pipe()
            context = multiprocessing.get_context("fork")
            self._process = context.Process(target=_serve, args=(path, theirs, ours, os.getpid(), connect),
                                            name="stationsim-writer", daemon=True)
            with _signals_held():
                self._process.start()
            theirs.close()
            self._channel = ours

    @property
    def pid(self) -> int | None:
        """The writer process's id (None when the work is done in this process)."""
        return None if self._process is None else int(self._process.pid)

    def call(self, work: Work, *args: Any) -> None:
        """Hand ``work(connection, *args)`` over once the piece before it is committed."""
        self.wait()
        if self._channel is None:
            self._result = self._here(work, *args)
            return
        try:
            self._channel.send((work, args))
        except OSError:
            raise WriterError(f"{self.path}: the results writer process died ({self._exit()})") from None
        self._waiting = True

    def wait(self) -> Any:
        """Wait until every piece handed over is committed; the last one's result."""
        if not self._waiting:
            return self._result
        assert self._channel is not None
        try:
            status, value = self._channel.recv()
        except (EOFError, OSError):
            raise WriterError(f"{self.path}: the results writer process died ({self._exit()})") from None
        finally:
            self._waiting = False
        if status == "error":
            raise WriterError(f"{self.path}: cannot write the results database ({value})")
        self._result = value
        return value

    def _here(self, work: Work, *args: Any) -> Any:
        try:
            if self._connection is None:
                self._connection = self._connect(self.path)
            with self._connection:
                return work(self._connection, *args)
        except (sqlite3.Error, OSError) as error:
            raise WriterError(f"{self.path}: cannot write the results database ({describe_error(error)})") from None

    def _exit(self) -> str:
        """How the writer process ended (waiting for it to end)."""
        process = self._process
        if process is None:
            return "no process"
        process.join(JOIN_SECONDS)
        code = process.exitcode
        if code is None:
            return "still running"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def close(self) -> None:
        """Wait for the work handed over, then stop the writer (at end of file it closes its connection)."""
        try:
            self.wait()
        finally:
            self.abort()

    def abort(self) -> None:
        """Stop at once, dropping any piece not yet received whole; a commit under way finishes first. Safe to
        call more than once."""
        channel, self._channel = self._channel, None
        self._waiting = False
        with _signals_held():  # the writer is gone when this returns, even after a second Ctrl-C
            if channel is not None:
                channel.close()  # end of file: the writer finishes a commit under way, drops the rest, exits
            process, self._process = self._process, None
            if process is not None:
                process.join(JOIN_SECONDS)
                if process.is_alive():
                    process.kill()
                    process.join()
                process.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()
