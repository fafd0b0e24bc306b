"""Measurement results of a circuit: an ideal state-vector simulation of the native gates, read out with error.

The station runs ``prx`` (a rotation by ``angle`` about an axis at ``phase`` in the xy-plane, radians, as in
``iqm.pulse``), ``cz`` and ``measure``; ``barrier`` does nothing. The state of the circuit's qubits (those it
uses, up to ``MAX_QUBITS``) is a numpy vector; a measurement at the end of a qubit's use is sampled once for
all shots from the final state, a measurement followed by more gates on its qubits collapses the state shot by
shot (one state vector per shot, while that fits in ``MAX_AMPLITUDES``). Each measured bit is then misread on its
own through the hardware mock's readout error (``ReadoutError.uniform``: a 0 read as 1 with 1%, a 1 as 0 with
3%). A Bell circuit gives about half ``00`` and half ``11``, and a few percent of ``01`` and ``10``.

A circuit too large for this (more qubits, or shot-by-shot states that do not fit) gets the hardware mock's
synthetic results instead: a random sparse distribution over its measured qubits, read out the same way;
``Results.synthetic`` says so, and the server adds a job message.

Every draw comes from the generator the caller gives (a seeded stream of the run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hardware_mock.measurement import ReadoutError, sample_bits, sparse_random_distribution
from sim.serve.circuits import PASSIVE, Circuit, Operation

MAX_QUBITS = 16
MAX_AMPLITUDES = 2**22
"""Shot-by-shot simulation holds shots x 2^qubits amplitudes; above this the results are synthetic."""
Bits = npt.NDArray[np.uint8]
State = npt.NDArray[np.complex128]


@dataclass(frozen=True)
class Results:
    """Each measurement key's bits, shape ``(shots, qubits of the key)``, in the order the circuit measures."""

    bits: dict[str, Bits]
    synthetic: bool

    def counts(self) -> dict[str, int]:
        """Bitstring counts, the keys' bits concatenated in measurement order (IQM's ``measurement_counts``)."""
        if not self.bits:
            return {}
        joined = np.concatenate(list(self.bits.values()), axis=1)
        rows, counts = np.unique(joined, axis=0, return_counts=True)
        return dict(sorted(("".join(map(str, row.tolist())), int(n)) for row, n in zip(rows, counts, strict=True)))


def prx_matrix(angle: float, phase: float) -> State:
    c, s = np.cos(angle / 2), np.sin(angle / 2)
    return np.array([[c, -1j * np.exp(-1j * phase) * s], [-1j * np.exp(1j * phase) * s, c]], dtype=np.complex128)


def simulate(circuit: Circuit, shots: int, rng: np.random.Generator) -> Results:
    """The read-out bits of ``shots`` shots of ``circuit``."""
    qubits = list(dict.fromkeys(q for op in circuit.operations for q in op.locus))
    measured = [op for op in circuit.operations if op.name == "measure"]
    if len(qubits) > MAX_QUBITS or (_needs_trajectories(circuit) and shots * 2 ** len(qubits) > MAX_AMPLITUDES):
        return _synthetic(measured, shots, rng)
    true_bits = _ideal(circuit, qubits, shots, rng)
    return Results({key: _read_out(bits, rng) for key, bits in true_bits.items()}, synthetic=False)


def _terminal(circuit: Circuit) -> list[bool]:
    """For each operation: whether it is a measurement after which no gate acts on its qubits."""
    touched: set[str] = set()
    terminal = [False] * len(circuit.operations)
    for i in range(len(circuit.operations) - 1, -1, -1):
        op = circuit.operations[i]
        if op.name == "measure":
            terminal[i] = not touched.intersection(op.locus)
        elif op.name not in PASSIVE:
            touched.update(op.locus)
    return terminal


def _needs_trajectories(circuit: Circuit) -> bool:
    return any(op.name == "measure" and not t for op, t in zip(circuit.operations, _terminal(circuit), strict=True))


def _ideal(circuit: Circuit, qubits: list[str], shots: int, rng: np.random.Generator) -> dict[str, Bits]:
    """Each key's true bits: the gates applied, mid-circuit measurements collapsing shot by shot, the terminal
    ones sampled together at the end."""
    axis = {q: i + 1 for i, q in enumerate(qubits)}  # axis 0: the shot (1 until a measurement splits them)
    state: State = np.zeros((1,) + (2,) * len(qubits), dtype=np.complex128)
    state[(0,) * state.ndim] = 1.0
    results: dict[str, Bits] = {}
    deferred: list[Operation] = []
    for op, terminal in zip(circuit.operations, _terminal(circuit), strict=True):
        if op.name == "prx":
            matrix = prx_matrix(float(op.args["angle"]), float(op.args["phase"]))
            state = np.moveaxis(np.tensordot(matrix, state, axes=([1], [axis[op.locus[0]]])), 0, axis[op.locus[0]])
        elif op.name == "cz":
            index: list[slice | int] = [slice(None)] * state.ndim
            index[axis[op.locus[0]]] = index[axis[op.locus[1]]] = 1
            state[tuple(index)] *= -1
        elif op.name == "measure" and terminal:
            deferred.append(op)
        elif op.name == "measure":
            if state.shape[0] == 1:
                state = np.repeat(state, shots, axis=0)
            outcome = _sample(state, [axis[q] for q in op.locus], shots, rng)
            state = _collapse(state, [axis[q] for q in op.locus], outcome)
            results[str(op.args["key"])] = outcome
    if deferred:
        together = list(dict.fromkeys(q for op in deferred for q in op.locus))
        outcome = _sample(state, [axis[q] for q in together], shots, rng)
        column = {q: i for i, q in enumerate(together)}
        for op in deferred:
            results[str(op.args["key"])] = outcome[:, [column[q] for q in op.locus]]
    order = [str(op.args["key"]) for op in circuit.operations if op.name == "measure"]
    return {key: results[key] for key in order}


def _marginal(state: State, axes: list[int]) -> npt.NDArray[np.float64]:
    """Per shot row, the probability of each outcome of ``axes`` (first axis the most significant bit)."""
    probabilities = np.abs(state) ** 2
    others = tuple(a for a in range(1, state.ndim) if a not in axes)
    summed = probabilities.sum(axis=others, keepdims=True)
    kept = np.moveaxis(summed, axes, list(range(1, len(axes) + 1)))
    flat: npt.NDArray[np.float64] = kept.reshape(state.shape[0], -1)[:, :2 ** len(axes)]
    return flat


def _sample(state: State, axes: list[int], shots: int, rng: np.random.Generator) -> Bits:
    """Outcome bits of measuring ``axes``, shape ``(shots, len(axes))``."""
    p = _marginal(state, axes)
    p = p / p.sum(axis=1, keepdims=True)
    if p.shape[0] == 1:
        values = rng.choice(p.shape[1], size=shots, p=p[0])
    else:
        values = (p.cumsum(axis=1) < rng.random((p.shape[0], 1))).sum(axis=1)
        values = np.minimum(values, p.shape[1] - 1)
    shifts = np.arange(len(axes) - 1, -1, -1)
    bits: Bits = ((values[:, None] >> shifts) & 1).astype(np.uint8)
    return bits


def _collapse(state: State, axes: list[int], outcome: Bits) -> State:
    """Each shot's state projected on its outcome of ``axes`` and renormalised."""
    keep = np.ones(state.shape, dtype=bool)
    for column, a in enumerate(axes):
        shape = [1] * state.ndim
        shape[0], shape[a] = state.shape[0], 2
        wanted = np.zeros((state.shape[0], 2), dtype=bool)
        wanted[np.arange(state.shape[0]), outcome[:, column]] = True
        keep &= wanted.reshape(shape)
    projected: State = np.where(keep, state, 0)
    norms = np.sqrt((np.abs(projected) ** 2).reshape(state.shape[0], -1).sum(axis=1))
    projected /= norms.reshape((-1,) + (1,) * (state.ndim - 1))
    return projected


def _read_out(bits: Bits, rng: np.random.Generator) -> Bits:
    readout = ReadoutError.uniform(bits.shape[1])
    flip = np.where(bits == 1, np.array(readout.p10), np.array(readout.p01))
    read: Bits = (bits ^ (rng.random(bits.shape) < flip)).astype(np.uint8)
    return read


def _synthetic(measured: list[Operation], shots: int, rng: np.random.Generator) -> Results:
    """The hardware mock's stand-in: a random sparse distribution over the measured qubits, read out with error."""
    width = sum(len(op.locus) for op in measured)
    if width == 0:
        return Results({}, synthetic=True)
    ideal = sparse_random_distribution(width, min(8, 2**min(width, 30)), rng)
    read = sample_bits(ideal, shots, ReadoutError.uniform(width), rng).astype(np.uint8)
    bits, start = {}, 0
    for op in measured:
        bits[str(op.args["key"])] = read[:, start:start + len(op.locus)]
        start += len(op.locus)
    return Results(bits, synthetic=True)
