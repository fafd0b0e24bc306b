"""Client code against a simulated station: a Bell circuit through the real ``iqm-client``, unchanged.

Start the server first (``stationsim serve scenarios/baseline.toml --speed 60``), then run this script. It
connects to ``$IQM_SERVER_URL`` (default http://127.0.0.1:8000), submits a Bell circuit with 1,000 shots, waits
for it behind the scenario's background load, and prints the job's way through the station and its counts.
"""

from __future__ import annotations

import math
import os

from iqm.iqm_client import IQMClient
from iqm.pulse import Circuit, CircuitOperation

HALF_TURN = math.pi / 2


def bell_circuit() -> Circuit:
    """|00> + |11>: a y-rotation on both qubits, CZ, and the inverse rotation on the second (native gates)."""
    return Circuit(name="bell", instructions=(
        CircuitOperation(name="prx", locus=("QB1",), args={"angle": HALF_TURN, "phase": HALF_TURN}),
        CircuitOperation(name="prx", locus=("QB2",), args={"angle": HALF_TURN, "phase": HALF_TURN}),
        CircuitOperation(name="cz", locus=("QB1", "QB2"), args={}),
        CircuitOperation(name="prx", locus=("QB2",), args={"angle": -HALF_TURN, "phase": HALF_TURN}),
        CircuitOperation(name="measure", locus=("QB1", "QB2"), args={"key": "m"}),
    ))


def main() -> None:
    client = IQMClient.from_url(os.environ.get("IQM_SERVER_URL", "http://127.0.0.1:8000"))
    job = client.submit_circuits([bell_circuit()], shots=1000)
    print(f"submitted job {job.job_id}: {job.status}")
    status = job.wait_for_completion(polling_interval=0.5)
    first, last = job.job_data.timeline[1], job.job_data.timeline[-1]
    took = (last.timestamp - first.timestamp).total_seconds()
    print(f"job {status}: {len(job.job_data.timeline) - 1} statuses, {first.status} to {last.status} in {took:.2f} s")
    counts = job.result_counts()
    assert counts is not None, job.errors
    print(f"counts {counts[0].measurement_keys}: {counts[0].counts}")


if __name__ == "__main__":
    main()
