"""A circuit job as a client submits it (IQM's ``CircuitJobDefinition``), read and checked.

Two kinds of check, as on IQM's server:

- the *request* must have the schema (a JSON object with a non-empty ``circuits`` list of circuits, each a
  ``name`` and ``instructions`` of ``name``, ``locus`` and ``args``; ``shots`` a whole number of at least 1;
  an optional ``qubit_mapping``, ``calibration_set_id`` and ``max_circuit_duration_over_t2``): a request that has
  not is refused at once (``RequestError``, HTTP 422), and no job is made;
- the *job* must fit the device: the station's validation stage fails it, with a message, for a broken device
  limit (qubits, shots, duration against T2; checked by the model) or for what ``rejection`` finds here: a gate
  the architecture does not offer, a locus it has not calibrated, a measurement without a unique key.

Other fields of the definition (heralding, dynamical decoupling, MOVE options, active reset) are accepted and
have no effect on the simulation. The job's size for the model: its circuits, its shots, the qubits it uses
(across the batch) and its depth: the most layers of any circuit, where a layer is one gate on each of its qubits
scheduled as soon as its qubits are free (a ``barrier`` lines its qubits up; measurements add no layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.serve.architecture import GATES, Architecture

PASSIVE = frozenset({"barrier"})
"""Operations that take no time and change no state."""


class RequestError(ValueError):
    """The request does not have the schema of a circuit job: the message says where and what was expected."""


@dataclass(frozen=True)
class Operation:
    name: str
    locus: tuple[str, ...]
    args: dict[str, Any]


@dataclass(frozen=True)
class Circuit:
    name: str
    operations: tuple[Operation, ...]

    @property
    def depth(self) -> int:
        free: dict[str, int] = {}
        for op in self.operations:
            if op.name == "measure":
                continue
            layer = max((free.get(q, 0) for q in op.locus), default=0)
            if op.name not in PASSIVE:
                layer += 1
            for q in op.locus:
                free[q] = layer
        return max(free.values(), default=0)

    @property
    def measurement_keys(self) -> list[str]:
        return [str(op.args.get("key")) for op in self.operations if op.name == "measure"]


@dataclass(frozen=True)
class CircuitJob:
    circuits: tuple[Circuit, ...]
    shots: int
    duration_over_t2: float | None
    calibration_set_id: str | None

    @property
    def qubits(self) -> tuple[str, ...]:
        """Every qubit the batch uses, in order of first use."""
        return tuple(dict.fromkeys(q for c in self.circuits for op in c.operations for q in op.locus))

    @property
    def depth(self) -> int:
        return max(1, max(c.depth for c in self.circuits))

    def rejection(self, architecture: Architecture) -> str | None:
        """Why validation fails the job on this architecture (beyond the device limits), or None."""
        known = set(architecture.qubits)
        for index, circuit in enumerate(self.circuits):
            keys: set[str] = set()
            for op in circuit.operations:
                where = f"Circuit {index} ({circuit.name!r}): {op.name} on {', '.join(op.locus) or 'no qubits'}"
                unknown = [q for q in op.locus if q not in known]
                if unknown:
                    return f"{where}: qubit {unknown[0]} is not in the architecture."
                if op.name in PASSIVE:
                    continue
                if op.name not in GATES:
                    return f"{where}: the gate {op.name!r} is not in the architecture (it offers {', '.join(GATES)})."
                problem = _locus_problem(op, architecture) or _args_problem(op, keys)
                if problem:
                    return f"{where}: {problem}"
        return None


def _locus_problem(op: Operation, architecture: Architecture) -> str | None:
    if len(set(op.locus)) != len(op.locus):
        return "a qubit appears twice in the locus."
    if op.name == "prx" and len(op.locus) != 1:
        return "prx acts on one qubit."
    if op.name == "cz" and (len(op.locus) != 2 or frozenset(op.locus) not in architecture.coupled):
        return "the locus is not a calibrated coupler of the architecture."
    if op.name == "measure" and not op.locus:
        return "measure needs at least one qubit."
    return None


def _args_problem(op: Operation, keys: set[str]) -> str | None:
    if op.name == "prx":
        for arg in ("angle", "phase"):
            value = op.args.get(arg)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                return f"prx needs a finite number {arg!r} (radians)."
    if op.name == "measure":
        key = op.args.get("key")
        if not isinstance(key, str) or not key:
            return "measure needs a measurement key (args.key)."
        if key in keys:
            return f"the measurement key {key!r} is not unique in the circuit."
        keys.add(key)
    return None


def parse_job(body: object) -> CircuitJob:
    """The circuit job of a request body (parsed JSON); raises ``RequestError`` naming the field at fault."""
    if not isinstance(body, dict):
        raise RequestError("the body must be a JSON object (a circuit job definition)")
    circuits = body.get("circuits")
    if not isinstance(circuits, list) or not circuits:
        raise RequestError("circuits: expected a non-empty list of circuits")
    mapping = _qubit_mapping(body.get("qubit_mapping"))
    shots = body.get("shots", 1)
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise RequestError(f"shots: expected a whole number greater than zero, got {shots!r}")
    factor = body.get("max_circuit_duration_over_t2")
    if factor is not None and (isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 0
                               or not math.isfinite(factor)):
        raise RequestError(f"max_circuit_duration_over_t2: expected a number of at least 0 or null, got {factor!r}")
    calibration = body.get("calibration_set_id")
    if calibration is not None and not isinstance(calibration, str):
        raise RequestError("calibration_set_id: expected a UUID string or null")
    parsed = tuple(_circuit(c, i, mapping) for i, c in enumerate(circuits))
    return CircuitJob(parsed, shots, None if factor is None else float(factor), calibration)


def _qubit_mapping(value: object) -> dict[str, str]:
    """``{logical: physical}``, from IQM's dict form or the older list of ``{logical_name, physical_name}``."""
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    if isinstance(value, list) and all(isinstance(e, dict) and isinstance(e.get("logical_name"), str)
                                       and isinstance(e.get("physical_name"), str) for e in value):
        return {e["logical_name"]: e["physical_name"] for e in value}
    raise RequestError("qubit_mapping: expected an object of logical -> physical qubit names, or null")


def _circuit(value: object, index: int, mapping: dict[str, str]) -> Circuit:
    where = f"circuits[{index}]"
    if isinstance(value, str):
        raise RequestError(f"{where}: QIR programs are not simulated; send circuits of instructions")
    if not isinstance(value, dict):
        raise RequestError(f"{where}: expected a circuit object with name and instructions")
    name = value.get("name", f"circuit-{index}")
    instructions = value.get("instructions")
    if not isinstance(name, str):
        raise RequestError(f"{where}.name: expected a string")
    if not isinstance(instructions, list):
        raise RequestError(f"{where}.instructions: expected a list of instructions")
    return Circuit(name, tuple(_operation(op, f"{where}.instructions[{i}]", mapping)
                               for i, op in enumerate(instructions)))


def _operation(value: object, where: str, mapping: dict[str, str]) -> Operation:
    if not isinstance(value, dict):
        raise RequestError(f"{where}: expected an instruction object with name, locus and args")
    name = value.get("name")
    locus = value.get("locus", value.get("qubits"))
    args = value.get("args", {})
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: expected the operation's name")
    if not isinstance(locus, list) or not all(isinstance(q, str) for q in locus):
        raise RequestError(f"{where}.locus: expected a list of qubit names")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise RequestError(f"{where}.args: expected an object")
    if mapping:
        missing = [q for q in locus if q not in mapping]
        if missing:
            raise RequestError(f"{where}.locus: qubit {missing[0]!r} is not in the qubit_mapping")
        locus = [mapping[q] for q in locus]
    return Operation(name, tuple(locus), dict(args))
