"""A mocked quantum instrument backend: device profiles and the execution-time model of a QPU station.

Usable as plain Python (deterministic functions of a job's size and a device profile) and, through the
simulator's station, inside SimPy.
"""

from hardware_mock.device import EMERALD, GARNET, HERON, PRESETS, DeviceProfile
from hardware_mock.timing import circuit_duration, execution_time, iqm_qpu_runtime

__all__ = [
    "EMERALD",
    "GARNET",
    "HERON",
    "PRESETS",
    "DeviceProfile",
    "circuit_duration",
    "execution_time",
    "iqm_qpu_runtime",
]
