"""The limits of a device that the validation stage enforces before a job may run.

A job is rejected, and FAILS in validation, when

- it uses more qubits than the device has;
- it asks for fewer than one shot or more than the device's ``max_shots`` (IQM: ``shots`` must be > 0);
- one of its circuits runs longer than ``max_circuit_duration_over_t2`` x the shortest T2 of the qubits it uses.
  This is IQM's server check (``CircuitCompilationOptions.max_circuit_duration_over_t2``): the job may name its
  own factor, None takes the server default (the device's), and 0.0 turns the check off. The duration checked
  is the coherent part of the circuit, ``depth x layer_duration``: the final readout projects the state, so
  dephasing after it does not matter. A device profile has one T2 (the median), which stands for the shortest
  T2 of the used qubits. With Garnet's T2 = 9.6 us and 40 ns layers, circuits of up to 240 layers pass at
  factor 1.0.

Limits are checked in that order and the first one broken is reported. ``check_jobs`` checks many jobs at once
and returns a reason code per job (the simulator checks every job before the run); ``violation`` then builds
the error record of one rejected job, and ``check_job`` does both for a single job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from hardware_mock.device import DeviceProfile
from hardware_mock.errors import ErrorRecord, log_lines

ReasonArray = npt.NDArray[np.int8]

RELATIVE_TOLERANCE = 1e-9
"""A circuit exactly at the duration limit passes, whatever the rounding of ``depth x layer_duration``."""


class LimitReason(IntEnum):
    """Why validation rejects a job; 0 when it does not."""

    WITHIN_LIMITS = 0
    TOO_MANY_QUBITS = 1
    SHOTS_OUT_OF_RANGE = 2
    CIRCUIT_TOO_LONG = 3


@dataclass(frozen=True)
class LimitViolation(ErrorRecord):
    """The error of a job that breaks a device limit: the user message, the full log and the limit broken."""

    reason: LimitReason


def coherent_duration(device: DeviceProfile, depth: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The part of a circuit that must fit in the coherence time: its layers, without the readout."""
    duration: npt.NDArray[np.float64] = np.asarray(depth, dtype=float) * device.layer_duration
    return duration


def duration_factor(device: DeviceProfile, duration_over_t2: float | None = None) -> float:
    """The factor in force: the job's own, or the device's (IQM's server default) when the job names none."""
    return device.max_circuit_duration_over_t2 if duration_over_t2 is None else duration_over_t2


def duration_limit(device: DeviceProfile, duration_over_t2: float | None = None) -> float:
    """The longest coherent circuit duration allowed, in seconds; infinite when the check is off (factor 0)."""
    factor = duration_factor(device, duration_over_t2)
    return math.inf if factor == 0 else factor * device.t2


def max_depth(device: DeviceProfile, duration_over_t2: float | None = None) -> int | None:
    """The deepest circuit that passes the duration check; None when the check is off."""
    limit = duration_limit(device, duration_over_t2)
    if math.isinf(limit):
        return None
    return math.floor(limit * (1 + RELATIVE_TOLERANCE) / device.layer_duration)


def check_jobs(
    device: DeviceProfile,
    qubits: npt.ArrayLike,
    shots: npt.ArrayLike,
    depth: npt.ArrayLike,
    duration_over_t2: npt.ArrayLike | None = None,
) -> ReasonArray:
    """The ``LimitReason`` of each job (vectorised; 0 for a job within every limit).

    ``duration_over_t2`` is each job's own factor (a number or an array; 0 turns the check off for that job);
    None gives every job the device's default.
    """
    factor = np.asarray(device.max_circuit_duration_over_t2 if duration_over_t2 is None else duration_over_t2,
                        dtype=float)
    qubit_counts = np.asarray(qubits)
    shot_counts = np.asarray(shots)
    limit = np.where(factor == 0, np.inf, factor * device.t2)
    too_long = coherent_duration(device, depth) > limit * (1 + RELATIVE_TOLERANCE)
    reasons = np.select(
        [qubit_counts > device.qubits, (shot_counts < 1) | (shot_counts > device.max_shots), too_long],
        [LimitReason.TOO_MANY_QUBITS, LimitReason.SHOTS_OUT_OF_RANGE, LimitReason.CIRCUIT_TOO_LONG],
        default=LimitReason.WITHIN_LIMITS,
    ).astype(np.int8)
    return reasons


def check_job(
    device: DeviceProfile, qubits: int, shots: int, depth: int, duration_over_t2: float | None = None
) -> LimitViolation | None:
    """The limit one job breaks (the first, in the order qubits, shots, duration), or None if it breaks none."""
    reason = LimitReason(int(check_jobs(device, qubits, shots, depth, duration_over_t2)))
    return violation(device, reason, qubits, shots, depth, duration_over_t2)


def violation(
    device: DeviceProfile,
    reason: LimitReason | int,
    qubits: int,
    shots: int,
    depth: int,
    duration_over_t2: float | None = None,
) -> LimitViolation | None:
    """The error record of a job that ``check_jobs`` rejected for ``reason``; None for ``WITHIN_LIMITS``."""
    reason = LimitReason(reason)
    if reason == LimitReason.TOO_MANY_QUBITS:
        return LimitViolation(
            f"The job uses {qubits} qubits; {device.name} has {device.qubits}.",
            log_lines("Validation failed: the job uses more qubits than the device has.",
                      {"device": device.name, "qubits used": qubits, "device qubits": device.qubits}),
            reason,
        )
    if reason == LimitReason.SHOTS_OUT_OF_RANGE:
        bound = "at least 1 is needed" if shots < 1 else f"{device.name} allows at most {device.max_shots}"
        return LimitViolation(
            f"The job asks for {shots} shots; {bound}.",
            log_lines("Validation failed: the number of shots is out of range.",
                      {"device": device.name, "shots": shots, "allowed": f"1 to {device.max_shots}"}),
            reason,
        )
    if reason == LimitReason.CIRCUIT_TOO_LONG:
        factor = duration_factor(device, duration_over_t2)
        duration = float(coherent_duration(device, depth))
        limit = duration_limit(device, duration_over_t2)
        return LimitViolation(
            f"A circuit of depth {depth} takes {_microseconds(duration)}, longer than {factor:g} x T2 = "
            f"{_microseconds(limit)} on {device.name}.",
            log_lines("Validation failed: circuit duration exceeds max_circuit_duration_over_t2 x shortest T2.",
                      {"device": device.name, "depth (layers)": depth,
                       "layer duration": _microseconds(device.layer_duration),
                       "circuit duration": _microseconds(duration), "shortest T2": _microseconds(device.t2),
                       "max_circuit_duration_over_t2": f"{factor:g}", "duration limit": _microseconds(limit),
                       "deepest circuit allowed": max_depth(device, duration_over_t2)}),
            reason,
        )
    return None


def _microseconds(seconds: float) -> str:
    """A circuit-scale duration: in ns below a microsecond, else in us."""
    return f"{seconds * 1e9:.4g} ns" if seconds < 1e-6 else f"{seconds * 1e6:.4g} us"
