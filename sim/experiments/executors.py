"""Executors: where the runs of replications and sweeps execute.

An experiment is many independent runs (one per sweep point and replication seed). Each run is a small task:
the worker gets the scenario's TOML data, a seed, a job count and a warm-up, and sends back the run's summary
as a flat dict of numbers, never the whole records. Any ``concurrent.futures.Executor`` can run the tasks:

- ``InProcessExecutor``: one after the other in this process (the default of the Python API, and the
  reference that the others must match);
- a local ``ProcessPoolExecutor`` using every core (the command line's default);
- an existing Dask distributed cluster, through ``distributed.Client(address).get_executor()``; its workers
  must have stationsim installed. Dask is optional (the ``dask`` extra: ``pip install '.[dask]'``) and imported
  only when a scheduler is named.

A run's outcome depends only on its task (scenario, seed, jobs, warm-up), so every executor gives identical
results for the same seeds; ``run_tasks`` returns them in submission order whatever order they finish in.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TextIO, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DASK_CONNECT_TIMEOUT = 5.0
"""Seconds to wait for a Dask scheduler before giving up."""
DASK_MISSING = ("--dask-scheduler needs Dask's distributed package, which the dask extra installs: "
                "pip install 'stationsim[dask]' (from a clone: pip install '.[dask]')")


class ExecutorError(RuntimeError):
    """An executor that cannot be used (a Dask scheduler out of reach, a bad address) or that lost its runs
    (a worker process died, the scheduler went away)."""


class InProcessExecutor(Executor):
    """Runs each task at once, in this process, when it is submitted."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as error:  # handed to the caller through the future, as other executors do
            future.set_exception(error)
        return future


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def process_pool(processes: int | None = None) -> Iterator[Executor]:
    """A local pool of ``processes`` worker processes (default: one per core); on leaving, tasks not yet
    started are cancelled."""
    pool = ProcessPoolExecutor(max_workers=processes or cores())
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_cluster(address: str, timeout: float = DASK_CONNECT_TIMEOUT) -> Iterator[Executor]:
    """An executor on the Dask distributed cluster whose scheduler is at ``address``; raises ``ExecutorError``
    within about ``timeout`` seconds when no Dask scheduler answers there."""
    try:
        from distributed import Client
    except ImportError:  # a lean install: Dask is the optional dask extra
        raise ExecutorError(DASK_MISSING) from None
    _probe_scheduler(address, timeout)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)  # type: ignore[no-untyped-call]
    except Exception as error:  # the scheduler went away since the probe
        raise ExecutorError(f"{address}: cannot connect to the Dask scheduler ({_reason(error)})") from None
    try:
        yield client.get_executor(pure=False)  # type: ignore[no-untyped-call]
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask the scheduler at ``address`` who it is, in a short-lived event loop of our own, so that a wrong
    address fails fast and cleanly (a half-built ``Client`` would linger and complain when collected)."""
    import asyncio

    from distributed.core import rpc

    _check_socket(address, timeout)

    async def identity() -> dict[str, Any]:
        async with rpc(address, timeout=timeout) as scheduler:  # type: ignore[no-untyped-call]
            answer: dict[str, Any] = await asyncio.wait_for(scheduler.identity(), timeout)
            return answer

    try:
        answer = asyncio.run(asyncio.wait_for(identity(), timeout))
    except TimeoutError:
        raise ExecutorError(f"{address}: no Dask scheduler answered within {timeout:g} s") from None
    except MemoryError:  # garbage read as a message length
        raise ExecutorError(f"{address}: the server there does not speak Dask's protocol") from None
    except Exception as error:  # refused, unknown host, bad address
        raise ExecutorError(f"{address}: cannot reach a Dask scheduler ({_reason(error)})") from None
    if answer.get("type") != "Scheduler":
        raise ExecutorError(f"{address}: this is not a Dask scheduler (it says it is {answer.get('type')!r})")


def _check_socket(address: str, timeout: float) -> None:
    """Fail at once when nothing listens at a TCP address (Dask itself retries until its timeout)."""
    import socket

    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location, default_port=8786)
    except (ValueError, TypeError) as error:
        raise ExecutorError(f"{address}: not a Dask scheduler address such as tcp://host:8786 ({error})") from None
    if scheme not in ("tcp", "tls"):
        return
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except TimeoutError:
        raise ExecutorError(f"{address}: no answer within {timeout:g} s") from None
    except OSError as error:
        raise ExecutorError(f"{address}: cannot reach a Dask scheduler ({error.strerror or error})") from None


@contextmanager
def open_executor(processes: int | None = None, dask_scheduler: str | None = None,
                  timeout: float = DASK_CONNECT_TIMEOUT) -> Iterator[Executor]:
    """The executor the command line asks for: a Dask cluster when ``dask_scheduler`` is given; otherwise
    in this process for ``processes == 1``, else a local process pool (``None``: one process per core)."""
    if dask_scheduler is not None:
        with dask_cluster(dask_scheduler, timeout) as executor:
            yield executor
    elif processes == 1:
        yield InProcessExecutor()
    else:
        with process_pool(processes) as executor:
            yield executor


def show_progress(quiet: bool = False) -> bool:
    """Whether to report progress: unless asked to be quiet (a bar on a terminal, lines otherwise)."""
    return not quiet


class Progress(Protocol):
    def update(self, n: int = 1) -> object: ...


class ProgressLines(AbstractContextManager["ProgressLines"]):
    """Progress for a log file or a pipe, where a bar would be one line rewritten thousands of times: a plain
    line when the share done passes each tenth, and at least every ``every`` seconds of wall time while runs
    finish, with the time elapsed and an estimate of the time left."""

    def __init__(self, total: int, description: str, file: TextIO, every: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.description, self.file, self.every, self.clock = total, description, file, every, clock
        self.done = 0
        self.started = self.last = clock()
        self.tenths = 0
        print(f"{description}: {total:,} run{'s' if total != 1 else ''} to go", file=file, flush=True)

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        tenths = 10 * self.done // max(self.total, 1)
        if tenths > self.tenths or now - self.last >= self.every or self.done == self.total:
            self.tenths, self.last = tenths, now
            print(self.line(now), file=self.file, flush=True)

    def line(self, now: float) -> str:
        elapsed = now - self.started
        text = (f"{self.description}: {self.done:,}/{self.total:,} runs ({self.done / max(self.total, 1):.0%}), "
                f"{_wall(elapsed)} elapsed")
        if 0 < self.done < self.total:
            text += f", about {_wall(elapsed / self.done * (self.total - self.done))} left"
        return text

    def __exit__(self, *exc: object) -> None:
        return None


def _wall(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


def _progress(total: int, description: str, progress: bool) -> AbstractContextManager[Progress]:
    """A bar on a terminal, lines elsewhere, nothing when ``progress`` is off."""
    from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]  # no stubs; imported when used

    if progress and not sys.stderr.isatty():
        return ProgressLines(total, description, sys.stderr)
    bar: AbstractContextManager[Progress] = tqdm(total=total, desc=description, unit="run", disable=not progress,
                                                 file=sys.stderr, dynamic_ncols=True)
    return bar


def run_tasks(fn: Callable[[T], R], tasks: Sequence[T], executor: Executor | None = None, *,
              progress: bool = False, description: str = "runs", check: Callable[[R], None] | None = None) -> list[R]:
    """``[fn(task) for task in tasks]`` on ``executor`` (default: in this process), with progress (a bar and
    ETA on a terminal, plain lines otherwise) when ``progress``. ``check`` sees each result as it arrives and
    may raise. The first task to fail (or result to fail its check) cancels the rest and raises its error."""
    with _progress(len(tasks), description, progress) as bar:
        if executor is None or isinstance(executor, InProcessExecutor):
            results = []
            for task in tasks:
                results.append(fn(task))
                if check is not None:
                    check(results[-1])
                bar.update(1)
            return results
        futures = [executor.submit(fn, task) for task in tasks]
        try:
            for future in as_completed(futures):
                result = future.result()
                if check is not None:
                    check(result)
                bar.update(1)
        except BaseException as error:
            for future in futures:
                future.cancel()
            if isinstance(error, CancelledError | BrokenExecutor):
                raise ExecutorError("the executor lost the runs (a worker process died, or the Dask scheduler "
                                    "went away)") from None
            raise
    return [future.result() for future in futures]
