"""Policies with bugs a scheduler developer might make, each stopping the run with one line that names it."""

from __future__ import annotations

from collections.abc import Sequence

from sim.policies import KeyPolicy, SelectPolicy


class Raises(KeyPolicy):
    """Divides by zero when the queue is asked for a job."""

    def pop(self, now: float, instrument: int = 0) -> int | None:
        return 1 // 0 if len(self) > 1 else super().pop(now, instrument)


class Stalls(SelectPolicy):
    """Never lets a job start, and never says when it might."""

    def select(self, queued: Sequence[int], now: float) -> int | None:
        return None


class StallsAskingAgain(SelectPolicy):
    """Never lets a job start, but always asks to be asked again a minute later."""

    def select(self, queued: Sequence[int], now: float) -> int | None:
        return None

    def next_change(self, now: float) -> float | None:
        return now + 60.0


class ReturnsAStranger(SelectPolicy):
    """Names a job that is no job of the run."""

    def select(self, queued: Sequence[int], now: float) -> int | None:
        return 1_000_001


class ReturnsTwice(KeyPolicy):
    """Keeps the first job it ever returned and returns it again."""

    def __init__(self, context: object) -> None:
        super().__init__(context)  # type: ignore[arg-type]
        self.first: int | None = None

    def pop(self, now: float, instrument: int = 0) -> int | None:
        if self.first is not None and len(self):
            return self.first
        self.first = super().pop(now, instrument)
        return self.first


class OldStyle(KeyPolicy):
    """A first-version policy: ``pop(self, now)`` without the instrument."""

    def pop(self, now: float) -> int | None:  # type: ignore[override]
        return super().pop(now)


class FailsInFinished(KeyPolicy):
    """Its feedback callback has a bug."""

    def finished(self, job: int, instrument: int, now: float, outcome: object) -> None:
        raise KeyError(job)


class BreaksItsMatchingPromise(KeyPolicy):
    """Says it matches jobs to instruments, but is plain FIFO."""

    matches_instruments = True
    sees_every_job = True
