"""How long a job occupies the instrument.

For one job of ``circuits`` circuits of ``depth`` layers, run ``shots`` times at each of ``sweep_points``
sweep points::

    circuit_duration = depth x layer_duration + readout
    per_shot         = circuit_duration + end_delay + transfer_per_shot
    execution_time   = job_overhead + sweep_points x circuits x (shots x per_shot + circuit_overhead)

With ``job_overhead = circuit_overhead = transfer_per_shot = 0`` this is exactly IQM's own estimate of a
sweep's QPU runtime (``_qpu_runtime``: ``repetitions x (len(segments) x end_delay + sum(segment durations)) x
n_spots``, one segment per circuit, ``repetitions`` the shots), so the overheads are what the model adds: the
real station arms the instruments, uploads each segment and moves the data, which IQM's estimate leaves out.

Plain numpy, deterministic: the same inputs give the same times, with or without SimPy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hardware_mock.device import DeviceProfile

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]


def circuit_duration(device: DeviceProfile, depth: ArrayLike) -> FloatArray:
    """Duration of one shot of a circuit of ``depth`` layers, readout included."""
    duration: FloatArray = np.asarray(depth, dtype=float) * device.layer_duration + device.readout
    return duration


def shot_duration(device: DeviceProfile, depth: ArrayLike) -> FloatArray:
    """One shot of one circuit on the instrument: the schedule, the reset by waiting and the data transfer."""
    duration: FloatArray = circuit_duration(device, depth) + device.end_delay + device.transfer_per_shot
    return duration


def execution_time(
    device: DeviceProfile,
    circuits: ArrayLike,
    shots: ArrayLike,
    depth: ArrayLike,
    sweep_points: ArrayLike = 1,
) -> FloatArray:
    """Seconds on the instrument for each job (vectorised over jobs)."""
    per_shot = shot_duration(device, depth)
    per_circuit = np.asarray(shots, dtype=float) * per_shot + device.circuit_overhead
    spots = np.asarray(sweep_points, dtype=float)
    seconds: FloatArray = device.job_overhead + spots * np.asarray(circuits, dtype=float) * per_circuit
    return seconds


def iqm_qpu_runtime(device: DeviceProfile, circuits: ArrayLike, shots: ArrayLike, depth: ArrayLike,
                    sweep_points: ArrayLike = 1) -> FloatArray:
    """IQM's estimate (``_qpu_runtime``) for the same job: no arming, upload or transfer costs."""
    segments = np.asarray(circuits, dtype=float)
    total_segment_time = segments * circuit_duration(device, depth)
    playlist = np.asarray(shots, dtype=float) * (segments * device.end_delay + total_segment_time)
    seconds: FloatArray = playlist * np.asarray(sweep_points, dtype=float)
    return seconds
