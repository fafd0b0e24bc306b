"""The device as IQM's API describes it: qubits, couplers, the native gates with their loci, and the ids.

The hardware mock's device profile gives the number of qubits; their names are IQM's (``QB1`` ...). The couplers
are those of a square lattice, row by row (``QB1``-``QB2``, ``QB1``-``QB6`` on a 20-qubit device of five
columns): the profile has no topology, and a lattice is the shape of IQM's Garnet family, not its exact
coupler list. The dynamic quantum architecture (DQA) offers the three native operations the simulator runs:
``prx`` on every qubit, ``cz`` on every coupler, ``measure`` on every qubit, each with one implementation.

Ids are ``uuid5`` names, so that a server started again on the same scenario answers with the same ids: the
quantum computer's from the scenario's name, each calibration set's from the scenario and the set's number.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from hardware_mock.device import DeviceProfile

NAMESPACE = uuid.UUID("0b8d7e52-27a4-5d63-8f4e-73657276652d")
"""The namespace of the server's ``uuid5`` ids (quantum computer, calibration sets)."""
GATES: dict[str, str] = {"prx": "drag_gaussian", "cz": "tgss", "measure": "constant"}
"""The native operations offered, each with its one implementation."""


@dataclass(frozen=True)
class Architecture:
    """The served quantum computer: its name, device and the couplers of its lattice."""

    alias: str
    device: DeviceProfile

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"quantum-computer/{self.alias}")

    @cached_property
    def qubits(self) -> tuple[str, ...]:
        return tuple(f"QB{i + 1}" for i in range(self.device.qubits))

    @cached_property
    def couplers(self) -> tuple[tuple[str, str], ...]:
        """Neighbours on a square lattice of ``ceil(sqrt(n))`` columns."""
        n = self.device.qubits
        columns = max(1, math.ceil(math.sqrt(n)))
        pairs = []
        for i in range(n):
            if (i + 1) % columns and i + 1 < n:
                pairs.append((i, i + 1))
            if i + columns < n:
                pairs.append((i, i + columns))
        return tuple((self.qubits[a], self.qubits[b]) for a, b in sorted(pairs))

    @cached_property
    def coupled(self) -> frozenset[frozenset[str]]:
        return frozenset(frozenset(pair) for pair in self.couplers)

    def calibration_set_id(self, number: int) -> uuid.UUID:
        """The UUID of the model's calibration set ``number``."""
        return uuid.uuid5(NAMESPACE, f"calibration-set/{self.alias}/{number}")

    def loci(self, gate: str) -> list[list[str]]:
        if gate == "cz":
            return [list(pair) for pair in self.couplers]
        return [[qubit] for qubit in self.qubits]

    def quantum_computer(self) -> dict[str, Any]:
        """The entry of ``GET quantum-computers``."""
        return {"id": str(self.id), "alias": self.alias, "display_name": f"{self.alias} ({self.device.name}, "
                f"simulated by stationsim)"}

    def dynamic(self, calibration_set: uuid.UUID) -> dict[str, Any]:
        """The DQA of a calibration set: every gate calibrated on every locus."""
        gates = {name: {"implementations": {implementation: {"loci": self.loci(name)}},
                        "default_implementation": implementation, "override_default_implementation": {}}
                 for name, implementation in GATES.items()}
        return {"calibration_set_id": str(calibration_set), "qubits": list(self.qubits),
                "computational_resonators": [], "gates": gates}

    def static(self) -> dict[str, Any]:
        """The static quantum architecture (SQA)."""
        return {"dut_label": f"stationsim-{self.device.name}", "qubits": list(self.qubits),
                "computational_resonators": [], "connectivity": [list(pair) for pair in self.couplers]}
