"""Device profiles: the timing figures of a quantum processing unit (QPU) and its control electronics.

A profile holds what the execution time of a job depends on: gate and readout durations, the delay that resets
the qubits between shots (IQM's ``end_delay``; IBM's repetition delay), the coherence times that bound circuit
length, and the fixed costs around the quantum part (arming the instruments for a job, uploading each circuit,
moving each shot's data). Presets reproduce published figures; each figure names its source row in
``docs/references.md``. All times are in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DeviceProfile:
    """Timing and limits of one QPU model.

    Fields are times in seconds unless their metadata names another ``unit`` (``count``, ``number``,
    ``fraction``, ``text``); scenarios parse each field by that unit.
    """

    name: str = field(metadata={"unit": "text"})
    qubits: int = field(metadata={"unit": "count"})
    single_qubit_gate: float
    two_qubit_gate: float
    readout: float
    end_delay: float
    """Reset by waiting after each shot (IQM ``end_delay``, IBM repetition delay)."""
    t1: float
    t2: float
    job_overhead: float
    """Arming and loading the instruments once per job."""
    circuit_overhead: float = 0.0
    """Per circuit (playlist segment) and sweep point: upload and sequencing."""
    transfer_per_shot: float = 0.0
    """Moving one shot's measurement data off the controllers."""
    max_shots: int = field(default=100_000, metadata={"unit": "count"})
    max_circuit_duration_over_t2: float = field(default=1.0, metadata={"unit": "number"})
    """IQM's server default: a circuit longer than this fraction of the shortest T2 is rejected; 0.0 disables."""
    shot_batch: int = field(default=100, metadata={"unit": "count"})
    """Shots of every circuit the controllers run between two points where they can stop: an interrupt waits for
    the batch in progress to end. 0 makes each sweep point one batch. Not published; 100 is an assumption."""

    @property
    def layer_duration(self) -> float:
        """One layer of a circuit: a two-qubit gate bounds it (single-qubit gates run in parallel)."""
        return max(self.single_qubit_gate, self.two_qubit_gate)


GARNET = DeviceProfile(
    name="garnet",
    qubits=20,  # "IQM Garnet (20 qubits)"
    single_qubit_gate=20e-9,  # "IQM Garnet gate times: PRX 20 ns"
    two_qubit_gate=40e-9,  # "IQM Garnet gate times: CZ 40 ns"
    readout=2e-6,  # not published for Garnet; IBM Heron's 1.6-2.6 us readout row as the comparable figure
    end_delay=348e-6,  # "about 350 us fixed per shot" (IT4I) less the 2 us readout
    t1=37.6e-6,  # "IQM Garnet coherence: median T1 37.6 us"
    t2=9.6e-6,  # "median T2 9.6 us"
    job_overhead=0.9,  # "minimum 0.9 s per job" (IT4I VLQ consumption guide)
)

EMERALD = DeviceProfile(
    name="emerald",
    qubits=54,  # a larger IQM-style device (54 qubits); gate and coherence figures as Garnet's rows
    single_qubit_gate=20e-9,
    two_qubit_gate=40e-9,
    readout=2e-6,
    end_delay=348e-6,  # "about 350 us fixed per shot" (IT4I, IQM 24-qubit system)
    t1=37.6e-6,
    t2=9.6e-6,
    job_overhead=0.9,  # "minimum 0.9 s per job"
)

HERON = DeviceProfile(
    name="heron",
    qubits=156,  # IBM Heron r2
    single_qubit_gate=30e-9,  # "IBM Heron gates: sx 24-36 ns"
    two_qubit_gate=76e-9,  # "CZ 68-84 ns"
    readout=2.1e-6,  # "readout 1.6-2.6 us"
    end_delay=250e-6,  # "IBM repetition delay: default 250 us"
    t1=200e-6,  # "median T1 145-299 us"
    t2=150e-6,  # not in the table; T2 below T1 as on every transmon
    job_overhead=5.0,  # "1,024 shots in about 5 s" (Quantum Computing Stack Exchange q. 3901)
)

PRESETS: dict[str, DeviceProfile] = {profile.name: profile for profile in (GARNET, EMERALD, HERON)}
