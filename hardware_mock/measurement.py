"""Synthetic measurement results: seeded bitstring counts with readout errors.

The mock does not simulate the quantum state. A job's *ideal* outcome distribution is given (a few bitstrings
with their probabilities, such as ``{"000": 0.5, "111": 0.5}`` for a GHZ state, or a random sparse stand-in from
``sparse_random_distribution``); each shot draws an ideal outcome, then the readout misreads each qubit on its
own: a 0 is read as 1 with probability ``p01`` and a 1 as 0 with ``p10`` (relaxation during readout makes
``p10`` the larger). Character ``i`` of a bitstring is qubit ``i``.

Defaults of 1% and 3% are assumptions for a transmon device, not published figures. Counts come back as a dict
sorted by bitstring, so equal seeds give equal dicts. The simulator leaves results off by default: drawing them
costs time per shot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ReadoutError:
    """Per-qubit probabilities of misreading: ``p01[i]`` reads qubit ``i``'s 0 as 1, ``p10[i]`` its 1 as 0."""

    p01: tuple[float, ...]
    p10: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.p01) != len(self.p10):
            raise ValueError(f"p01 and p10 need one entry per qubit, got {len(self.p01)} and {len(self.p10)}")
        if any(not 0 <= p <= 1 for p in (*self.p01, *self.p10)):
            raise ValueError("readout error probabilities must be between 0 and 1")

    @classmethod
    def uniform(cls, qubits: int, p01: float = 0.01, p10: float = 0.03) -> ReadoutError:
        """The same error probabilities on every one of ``qubits`` qubits."""
        return cls((p01,) * qubits, (p10,) * qubits)

    @property
    def qubits(self) -> int:
        return len(self.p01)


def sample_bits(ideal: Mapping[str, float], shots: int, readout: ReadoutError,
                rng: np.random.Generator) -> BoolArray:
    """The bits read in each shot, shape ``(shots, qubits)``: ideal outcomes drawn, then misread."""
    outcomes = list(ideal)
    if not outcomes:
        raise ValueError("the ideal distribution needs at least one outcome")
    if any(len(bits) != readout.qubits or set(bits) - {"0", "1"} for bits in outcomes):
        raise ValueError(f"every outcome must be a string of {readout.qubits} characters 0 or 1")
    probabilities = np.array([ideal[bits] for bits in outcomes], dtype=float)
    if np.any(probabilities < 0) or not np.isclose(probabilities.sum(), 1.0):
        raise ValueError("the ideal probabilities must be zero or more and add up to 1")
    counts = rng.multinomial(shots, probabilities / probabilities.sum())
    table = np.array([[c == "1" for c in bits] for bits in outcomes], dtype=bool).reshape(len(outcomes), -1)
    true_bits = np.repeat(table, counts, axis=0)
    flip_probability = np.where(true_bits, np.array(readout.p10), np.array(readout.p01))
    read: BoolArray = true_bits ^ (rng.random(true_bits.shape) < flip_probability)
    return read


def counts_from_bits(bits: BoolArray) -> dict[str, int]:
    """Bitstring counts of shots given as a ``(shots, qubits)`` array, sorted by bitstring."""
    if bits.shape[0] == 0:
        return {}
    rows, counts = np.unique(bits.astype(np.uint8), axis=0, return_counts=True)
    return dict(sorted(("".join("1" if b else "0" for b in row), int(n)) for row, n in zip(rows, counts, strict=True)))


def sample_counts(ideal: Mapping[str, float], shots: int, readout: ReadoutError,
                  rng: np.random.Generator) -> dict[str, int]:
    """Bitstring counts of ``shots`` shots of a circuit whose ideal outcomes are ``ideal``."""
    return counts_from_bits(sample_bits(ideal, shots, readout, rng))


def sparse_random_distribution(qubits: int, outcomes: int, rng: np.random.Generator) -> dict[str, float]:
    """A stand-in for a circuit's ideal distribution: ``outcomes`` random bitstrings (fewer if repeated) with
    exponentially distributed weights, the Porter-Thomas shape of a random circuit's output."""
    bits = rng.random((outcomes, qubits)) < 0.5
    weights = rng.exponential(1.0, outcomes)
    distribution: dict[str, float] = {}
    for row, weight in zip(bits, weights.tolist(), strict=True):
        key = "".join("1" if b else "0" for b in row)
        distribution[key] = distribution.get(key, 0.0) + weight / float(weights.sum())
    return dict(sorted(distribution.items()))


def expected_distribution(ideal: Mapping[str, float], readout: ReadoutError) -> dict[str, float]:
    """The exact distribution of read bitstrings (every one of the 2^qubits; for checks on a few qubits)."""
    qubits = readout.qubits
    read = (np.arange(2**qubits)[:, None] >> np.arange(qubits - 1, -1, -1)) & 1  # row r: bits of r, qubit 0 first
    p01, p10 = np.array(readout.p01), np.array(readout.p10)
    total = np.zeros(2**qubits)
    for bits, probability in ideal.items():
        true = np.array([c == "1" for c in bits])
        flip = np.where(true, p10, p01)
        per_qubit = np.where(read.astype(bool) != true, flip, 1 - flip)
        total += probability * per_qubit.prod(axis=1)
    return {format(r, f"0{qubits}b"): float(p) for r, p in enumerate(total)}
