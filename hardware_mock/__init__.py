"""A mocked quantum instrument backend: what a QPU station does with a job once it reaches the instrument.

- ``device``: device profiles (gate, readout and reset times, coherence, overheads, limits) and presets from
  published figures;
- ``timing``: how long a job occupies the instrument, and IQM's own estimate of it;
- ``limits``: the device limits the validation stage enforces (qubits, shots, circuit duration vs T2);
- ``calibration``: calibration sets, their expiry, and the plan of recalibrations;
- ``execution``: one job's run step by step: progress as IQM reports it, and where an interrupt stops it;
- ``faults``: instrument errors, hangs and outages, drawn from a given random generator;
- ``measurement``: optional synthetic bitstring counts with readout errors;
- ``errors``: the (user message, full log) record of every failure.

Plain Python and numpy, deterministic for given inputs and generator; the simulator's station wraps it for SimPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hardware_mock.calibration import (
    CalibrationPlan,
    CalibrationSet,
    fetch_time,
    initial_set,
    next_recalibration,
    next_scheduled,
    parse_time_of_day,
)
from hardware_mock.device import EMERALD, GARNET, HERON, PRESETS, DeviceProfile
from hardware_mock.errors import ErrorRecord
from hardware_mock.execution import ExecutionPlan, Interruption, Progress
from hardware_mock.faults import (
    FaultModel,
    JobFault,
    JobFaults,
    Outages,
    draw_job_faults,
    draw_outages,
    hang_timeout,
    instrument_error,
    outage_error,
)
from hardware_mock.limits import LimitReason, LimitViolation, check_job, check_jobs, max_depth, violation
from hardware_mock.timing import circuit_duration, execution_time, iqm_qpu_runtime, shot_duration

if TYPE_CHECKING:
    from hardware_mock.measurement import (
        ReadoutError,
        counts_from_bits,
        expected_distribution,
        sample_bits,
        sample_counts,
        sparse_random_distribution,
    )

_MEASUREMENT = ("ReadoutError", "counts_from_bits", "expected_distribution", "sample_bits", "sample_counts",
                "sparse_random_distribution")
"""The names of ``measurement``, imported on first use (PEP 562): a run that draws no counts does not load it."""

__all__ = [
    "EMERALD",
    "GARNET",
    "HERON",
    "PRESETS",
    "CalibrationPlan",
    "CalibrationSet",
    "DeviceProfile",
    "ErrorRecord",
    "ExecutionPlan",
    "FaultModel",
    "Interruption",
    "JobFault",
    "JobFaults",
    "LimitReason",
    "LimitViolation",
    "Outages",
    "Progress",
    "ReadoutError",
    "check_job",
    "check_jobs",
    "circuit_duration",
    "counts_from_bits",
    "draw_job_faults",
    "draw_outages",
    "execution_time",
    "expected_distribution",
    "fetch_time",
    "hang_timeout",
    "initial_set",
    "instrument_error",
    "iqm_qpu_runtime",
    "max_depth",
    "next_recalibration",
    "next_scheduled",
    "outage_error",
    "parse_time_of_day",
    "sample_bits",
    "sample_counts",
    "shot_duration",
    "sparse_random_distribution",
    "violation",
]


def __getattr__(name: str) -> Any:
    if name not in _MEASUREMENT:
        raise AttributeError(f"module 'hardware_mock' has no attribute {name!r}")
    from hardware_mock import measurement

    value = getattr(measurement, name)
    globals()[name] = value  # looked up once: later reads find it in the module's namespace
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
