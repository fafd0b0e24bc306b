"""Instrument matching: FIFO, but a free instrument takes the first waiting job that fits its device.

A station with devices of different sizes (a 20-qubit and a 54-qubit QPU, say) cannot run every job on every
instrument. When an instrument is free this policy gives it the job that entered the queue first among those
needing no more qubits than the instrument's device has; a job too big for every free instrument waits for one
that fits. It also keeps, from the ``started`` and ``finished`` callbacks, every run it saw and how it ended.
"""

from __future__ import annotations

from sim.policies import QueueContext, RankedList, RunOutcome


class FitsTheDevice:
    """First come, first served among the jobs that fit the free instrument's device (by qubits)."""

    matches_instruments = True

    def __init__(self, context: QueueContext) -> None:
        self.context = context
        self._qubits = context.qubits
        self._capacity = [device.qubits for device in context.devices]
        self._queues: dict[int, RankedList[tuple[float, int]]] = {}
        """Waiting jobs by the qubits they need, each queue by (queue-entry time, job id)."""
        self._keys: dict[int, tuple[float, int]] = {}
        self.runs: list[tuple[int, int, str, float]] = []
        """(job, instrument, how the run ended, its run time) of every finished run."""
        self.running: dict[int, int] = {}
        """Job -> instrument, of the runs under way."""

    def push(self, job: int, now: float) -> None:
        key = (self.context.entered(job), job)
        self._keys[job] = key
        self._queues.setdefault(self._qubits[job], RankedList()).add(key)

    def pop(self, now: float, instrument: int) -> int | None:
        room = self._capacity[instrument]
        heads = [queue.first() for qubits, queue in self._queues.items() if qubits <= room and len(queue)]
        if not heads:
            return None
        job = min(heads)[1]
        self.remove(job)
        return job

    def remove(self, job: int) -> None:
        self._queues[self._qubits[job]].remove(self._keys.pop(job))

    def position(self, job: int, now: float) -> int | None:
        key = self._keys[job]
        return sum(queue.rank(key) for queue in self._queues.values())

    def next_change(self, now: float) -> float | None:
        return None

    def __len__(self) -> int:
        return len(self._keys)

    def started(self, job: int, instrument: int, now: float) -> None:
        self.running[job] = instrument

    def finished(self, job: int, instrument: int, now: float, outcome: RunOutcome) -> None:
        assert self.running.pop(job) == instrument
        self.runs.append((job, instrument, outcome.end, outcome.run_time))
