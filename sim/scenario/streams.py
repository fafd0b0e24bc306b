"""Independent random streams of one run.

Each run owns one ``numpy.random.SeedSequence`` built from its seed. Every source of randomness (arrivals, the
workload mix, each stage, the hardware, faults, aborts) draws from a stream of its own whose seed is derived
from the run seed and the stream's *name*, not from the order in which streams are created. Changing one
stage's parameters therefore leaves every other stage's draws untouched (common random numbers across the
points of a sweep), and adding a new stream never shifts the old ones. The global ``random`` and
``numpy.random`` states are never used.
"""

from __future__ import annotations

import zlib

import numpy as np


class RandomStreams:
    """Named, independent ``numpy.random.Generator`` objects derived from one run seed."""

    def __init__(self, seed: int) -> None:
        if seed < 0:
            raise ValueError(f"a seed must be zero or more, got {seed}")
        self.seed = seed
        self._streams: dict[str, np.random.Generator] = {}

    def __call__(self, name: str) -> np.random.Generator:
        """The stream called ``name``; asking twice gives the same generator (it continues where it was)."""
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = self.fresh(name)
        return stream

    def fresh(self, name: str) -> np.random.Generator:
        """A new generator at the start of the stream called ``name`` (to draw the same numbers again)."""
        # crc32 is stable across processes and Python versions, unlike hash().
        sequence = np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))
        return np.random.Generator(np.random.PCG64(sequence))


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds of ``replications`` independent runs spawned from one base seed."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1)) for child in children]
