"""``stationsim serve`` against the real ``iqm-client`` 36: every server is a real subprocess on a free port,
killed when its test ends (SIGKILL where the test is about a dead server), and the client is IQM's, unchanged.

The scenarios extend the bundled baseline (one Garnet-like instrument): ``plain`` serves client jobs only,
``loaded`` adds an arrival rate far above the instrument's capacity so that a client job queues behind others.
"""

from __future__ import annotations

import math
import os
import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

iqm_client = pytest.importorskip("iqm.iqm_client")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from exa.common.errors.iqm_error import AuthenticationError, NotFoundError  # noqa: E402
from iqm.iqm_client import IQMClient  # noqa: E402
from iqm.pulse import Circuit, CircuitOperation  # noqa: E402
from iqm.station_control.interface.models import CircuitJobDefinition  # noqa: E402
from iqm.station_control.interface.models.jobs_new import JobStatus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BASELINE = (ROOT / "scenarios" / "baseline.toml").as_posix()
TOKEN = "test-token"
HAPPY_PATH = ["received", "validation_started", "validation_ended", "fetch_calibration_started",
              "fetch_calibration_ended", "compilation_started", "compilation_ended", "save_sweep_metadata_started",
              "save_sweep_metadata_ended", "pending_execution", "execution_started", "execution_ended",
              "post_processing_pending", "post_processing_started", "post_processing_ended", "ready"]
HALF = math.pi / 2


def scenario(folder: Path, name: str, extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'extends = "{BASELINE}"\nname = "{name}"\n{extra}', encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``stationsim serve`` process."""

    def __init__(self, scenario: Path, logs: Path, *args: str, token: str | None = TOKEN) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log = logs / f"serve-{self.port}.log"
        command = [sys.executable, "-m", "sim", "serve", str(scenario), "--port", str(self.port), *args]
        if token is not None:
            command += ["--token", token]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def headers(self) -> dict[str, str]:
        return {} if self.token is None else {"Authorization": f"Bearer {self.token}"}

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}: {self.log.read_text()}")
            try:
                if requests.get(f"{self.url}/api/v1/about", headers=self.headers(), timeout=1).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the server did not answer within {timeout} s: {self.log.read_text()}")

    def client(self) -> IQMClient:
        return IQMClient.from_url(self.url, token=self.token)

    def alive(self) -> bool:
        return self.process.poll() is None and requests.get(
            f"{self.url}/api/v1/quantum-computers", headers=self.headers(), timeout=5).ok

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to write anything more."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(scenario: Path, *args: str, token: str | None = TOKEN) -> Server:
        servers.append(Server(scenario, tmp_path, *args, token=token))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Client jobs only, 50 simulated seconds a wall second."""
    folder = tmp_path_factory.mktemp("plain")
    server = Server(scenario(folder, "plain"), folder, "--speed", "50", "--no-background")
    yield server
    server.kill()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Background arrivals at about six times what the instrument can serve, given two simulated minutes to
    build a queue."""
    folder = tmp_path_factory.mktemp("loaded")
    server = Server(scenario(folder, "loaded", '[arrivals]\nrate = "2000/h"\n'), folder, "--speed", "60")
    health = f"{server.url}/api/v1/quantum-computers/loaded/health"
    wait_until(lambda: requests.get(health, headers=server.headers(), timeout=5).json()["simulated_time"] > 120,
               what="two simulated minutes")
    yield server
    server.kill()


def op(name: str, *locus: str, **args: object) -> CircuitOperation:
    return CircuitOperation(name=name, locus=locus, args=args)


def bell(key: str = "m") -> Circuit:
    return Circuit(name="bell", instructions=(
        op("prx", "QB1", angle=HALF, phase=HALF), op("prx", "QB2", angle=HALF, phase=HALF), op("cz", "QB1", "QB2"),
        op("prx", "QB2", angle=-HALF, phase=HALF), op("measure", "QB1", "QB2", key=key)))


def long_circuit() -> Circuit:
    """One qubit flipped and measured; with 100,000 shots its run is about 35 simulated seconds."""
    return Circuit(name="flip", instructions=(op("prx", "QB3", angle=math.pi, phase=0.0),
                                              op("measure", "QB3", key="q")))


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


# --- the client's flow ------------------------------------------------------------------------------------------


def test_bell_batch_completes_with_half_00_and_half_11(plain: Server) -> None:
    client = plain.client()
    job = client.submit_circuits([bell("first"), bell("second")], shots=1000)
    assert job.wait_for_completion(polling_interval=0.1, timeout_secs=120) == JobStatus.COMPLETED
    counts = job.result_counts()
    assert counts is not None
    assert len(counts) == 2
    for circuit in counts:
        assert sum(circuit.counts.values()) == 1000
        # ideal 50/50 on 00 and 11; readout error (1% and 3% a qubit) moves a few percent to 01 and 10
        assert 420 <= circuit.counts.get("00", 0) <= 560
        assert 400 <= circuit.counts.get("11", 0) <= 540
        assert 10 <= circuit.counts.get("01", 0) + circuit.counts.get("10", 0) <= 110
    assert [c.measurement_keys for c in counts] == [["first"], ["second"]]
    shots = job.result()
    assert shots is not None
    assert len(shots[0]["first"]) == 1000
    assert all(len(s) == 2 for s in shots[0]["first"])
    ones = sum(a == b for a, b in shots[1]["second"])
    assert ones > 900  # the two qubits agree but for readout errors
    assert job.job_data.compilation is not None
    assert job.job_data.compilation.calibration_set_id is not None


def test_timeline_holds_every_status_a_completed_job_passed(plain: Server) -> None:
    job = plain.client().submit_circuits([bell()], shots=100)
    job.wait_for_completion(polling_interval=0.1, timeout_secs=120)
    station = [e for e in job.job_data.timeline if e.source == "iqm-station-control"]
    assert [e.status for e in station] == HAPPY_PATH
    assert [e.timestamp for e in station] == sorted(e.timestamp for e in station)
    assert job.find_timeline_entry("created", "iqm-server") is not None
    assert job.job_data.queue_position is None
    assert job.job_data.errors == []


def test_too_many_qubits_fails_validation_with_the_message(plain: Server) -> None:
    client = plain.client()
    qubits = [f"QB{i}" for i in range(1, 26)]
    wide = Circuit(name="wide", instructions=(*(op("prx", q, angle=HALF, phase=0.0) for q in qubits),
                                              op("measure", *qubits, key="all")))
    # the client checks circuits against the architecture before it sends them; this sends it as it is
    job = client.submit_circuit_job(CircuitJobDefinition(circuits=[wide], shots=10))
    assert job.wait_for_completion(polling_interval=0.1, timeout_secs=120) == JobStatus.FAILED
    assert [e.message for e in job.job_data.errors] == ["The job uses 25 qubits; garnet has 20."]
    assert job.job_data.errors[0].error_code == "validation"
    assert job.result_counts() is None
    statuses = [e.status for e in job.job_data.timeline]
    assert statuses[-3:] == ["validation_started", "validation_ended", "failed"] or statuses[-2:] == [
        "validation_started", "failed"]


def test_a_gate_off_the_architecture_fails_validation(plain: Server) -> None:
    uncoupled = Circuit(name="far", instructions=(op("cz", "QB1", "QB20"), op("measure", "QB1", key="m")))
    job = plain.client().submit_circuit_job(CircuitJobDefinition(circuits=[uncoupled], shots=10))
    assert job.wait_for_completion(polling_interval=0.1, timeout_secs=120) == JobStatus.FAILED
    assert "not a calibrated coupler" in job.job_data.errors[0].message


def test_a_job_queues_behind_background_load_and_a_queued_job_is_cancelled(loaded: Server) -> None:
    client = loaded.client()
    job = client.submit_circuits([bell()], shots=1000)
    positions: list[int] = []

    def queued() -> bool:
        job.update()
        if job.job_data.queue_position is not None:
            positions.append(job.job_data.queue_position)
        return any(p > 0 for p in positions)

    wait_until(queued, what="a queue position above 0")
    assert job.status == JobStatus.PROCESSING  # PENDING_EXECUTION is processing in IQM's coarse statuses
    job.cancel()
    assert job.wait_for_completion(polling_interval=0.1, timeout_secs=60) == JobStatus.CANCELLED
    statuses = [e.status for e in job.job_data.timeline]
    assert statuses[-1] == "aborted"
    assert "pending_execution" in statuses
    assert "execution_started" not in statuses
    assert job.job_data.queue_position is None
    assert job.result_counts() is None


def test_health_and_architectures_answer_as_the_client_reads_them(plain: Server) -> None:
    client = plain.client()
    dqa = client.get_dynamic_quantum_architecture()
    assert dqa.qubits[:2] == ["QB1", "QB2"]
    assert set(dqa.gates) == {"prx", "cz", "measure"}
    assert client.get_dynamic_quantum_architecture(dqa.calibration_set_id).calibration_set_id == dqa.calibration_set_id
    sqa = client.get_static_quantum_architecture()
    assert len(sqa.qubits) == 20
    assert ("QB1", "QB2") in sqa.connectivity
    assert client.get_health()["status"] == "up"
    assert client.get_about()["about_station"]["software_versions"]
    job = client.submit_circuits([bell()], shots=10)
    client.delete_job(job.job_id)
    with pytest.raises(NotFoundError):
        client.get_job(job.job_id)


# --- bad requests ------------------------------------------------------------------------------------------------


def test_bad_requests_get_the_right_status_and_the_server_stays_up(plain: Server) -> None:
    api, headers = f"{plain.url}/api/v1", plain.headers()
    qc = "plain"
    cases = [
        (requests.post(f"{api}/jobs/{qc}/circuit", data=b'{"circuits": [', headers=headers), 422, "not valid JSON"),
        (requests.post(f"{api}/jobs/{qc}/circuit", json={"circuits": [{"instructions": 3}]}, headers=headers), 422,
         "instructions"),
        (requests.post(f"{api}/jobs/{qc}/circuit", json={"circuits": [{"instructions": []}], "shots": 0},
                       headers=headers), 422, "shots"),
        (requests.get(f"{api}/jobs/6f1d6c2e-0000-0000-0000-000000000000", headers=headers), 404, "not found"),
        (requests.post(f"{api}/jobs/{qc}/circuit", data=b" " * (9 * 2**20), headers=headers), 413, "limit"),
        (requests.get(f"{api}/quantum-computers", headers={"Authorization": "Bearer wrong"}), 401, "token"),
        (requests.get(f"{api}/quantum-computers"), 401, "token"),
        (requests.get(f"{api}/jobs/nowhere/artifacts/nothing", headers=headers), 404, "not found"),
        (requests.get(f"{api}/quantum-computers/other/health", headers=headers), 404, "other"),
    ]
    for response, status, words in cases:
        assert response.status_code == status, (response.request.method, response.url, response.text)
        body = response.json()
        assert words in body["message"]
        assert body["source"] == "iqm-server"
        assert "Traceback" not in response.text
    with pytest.raises(AuthenticationError):
        IQMClient.from_url(plain.url, token="wrong")
    with pytest.raises(NotFoundError):
        plain.client().get_job("00000000-0000-4000-8000-000000000000")  # type: ignore[arg-type]
    assert plain.alive()


def test_bad_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = subprocess.run([sys.executable, "-m", "sim", "serve", str(tmp_path / "none.toml")], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "none.toml" in missing.stderr
    assert "Traceback" not in missing.stderr
    speed = subprocess.run([sys.executable, "-m", "sim", "serve", BASELINE, "--speed", "0"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert speed.returncode == 2
    assert "--speed" in speed.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = subprocess.run([sys.executable, "-m", "sim", "serve", BASELINE, "--port", str(port)], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert taken.returncode == 2
    assert f"127.0.0.1:{port}" in taken.stderr
    assert "Traceback" not in taken.stderr


# --- a persistent queue ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["fail", "requeue"])
def test_kill_and_restart_keeps_finished_jobs_and_cleans_up_the_rest(
        policy: str, tmp_path: Path, start_server: Callable[..., Server]) -> None:
    path = scenario(tmp_path, f"restart-{policy}", f'[restarts]\npolicy = "{policy}"\n')
    out = tmp_path / "out"
    first = start_server(path, "--speed", "20", "--no-background", "--out", str(out))
    client = first.client()
    done = client.submit_circuits([bell()], shots=1000)
    assert done.wait_for_completion(polling_interval=0.1, timeout_secs=120) == JobStatus.COMPLETED
    counts = done.result_counts()
    running = client.submit_circuits([long_circuit()], shots=100_000)
    wait_until(lambda: running.update() == JobStatus.PROCESSING and running.find_timeline_entry(
        "execution_started") is not None, what="the long job to start executing")
    first.kill()

    second = start_server(path, "--speed", "20", "--no-background", "--out", str(out))
    client = second.client()
    assert client.get_job(done.job_id).result_counts() == counts  # type: ignore[attr-defined]
    again = client.get_job(running.job_id)
    status = again.wait_for_completion(polling_interval=0.1, timeout_secs=120)
    if policy == "fail":
        assert status == JobStatus.FAILED
        assert [e.message for e in again.job_data.errors] == ["Job was cleaned up on restart"]
        assert again.job_data.errors[0].error_code == "execution"
    else:
        assert status == JobStatus.COMPLETED
        assert any("Requeued after a server restart" in m.message for m in again.job_data.messages)
        result = again.result_counts()  # type: ignore[attr-defined]
        assert result is not None
        assert sum(result[0].counts.values()) == 100_000
    second.stop()
    assert second.process.returncode == 0
    assert "run 2 is complete" in second.log.read_text()
    db = sqlite3.connect(out / "results.sqlite")
    try:
        assert db.execute("SELECT run_id, complete FROM runs ORDER BY run_id").fetchall() == [(1, 0), (2, 1)]
        (detail,) = db.execute("SELECT detail FROM events WHERE run_id = 1 AND kind = 'restart'").fetchone()
        assert f"policy {policy}" in detail
        old = db.execute("SELECT final_status, failed_stage FROM jobs WHERE run_id = 1 ORDER BY job_id").fetchall()
        assert old[0] == ("ready", None)
        assert old[1] == (("failed", "execution") if policy == "fail" else ("execution_started", None))
        new = db.execute("SELECT final_status FROM jobs WHERE run_id = 2").fetchall()
        assert new == ([] if policy == "fail" else [("ready",)])
    finally:
        db.close()


# --- Qiskit ------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_qiskit_backend_runs_a_bell_circuit(plain: Server) -> None:
    qiskit = pytest.importorskip("qiskit")
    qiskit_iqm = pytest.importorskip("iqm.qiskit_iqm")
    backend = qiskit_iqm.IQMProvider(plain.url, token=plain.token).get_backend()
    circuit = qiskit.QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    job = backend.run(qiskit.transpile(circuit, backend), shots=1000)
    counts = job.result().get_counts()
    assert sum(counts.values()) == 1000
    assert counts.get("00", 0) > 400
    assert counts.get("11", 0) > 400
    assert str(job.status()).endswith("DONE")


# --- the README ---------------------------------------------------------------------------------------------------


def test_readme_serve_and_client_commands_work(tmp_path: Path) -> None:
    """The README section's two commands, as written, with the port moved to a free one (``--port`` added, and
    the client's ``IQM_SERVER_URL`` pointing at it) and the output folder under a temporary folder."""
    text = readme_section("Test your client code against a simulated station")
    serve_line, client_line = (b.strip() for b in re.findall(r"^```bash\n(.*?)^```", text, re.DOTALL | re.M))
    serve_args = shlex.split(serve_line)
    assert serve_args[:2] == ["stationsim", "serve"]
    if "--out" in serve_args:
        serve_args[serve_args.index("--out") + 1] = str(tmp_path / "served")
    port = free_port()
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "sim", *serve_args[1:], "--port", str(port)], cwd=ROOT,
                                  stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), what="the README's server to answer")
        client_args = shlex.split(client_line)
        assert client_args[0] == "python"
        env = {**os.environ, "IQM_SERVER_URL": url}
        run = subprocess.run([sys.executable, *client_args[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        assert "job completed" in run.stdout
        assert "'00'" in run.stdout
        assert "'11'" in run.stdout
    finally:
        server.kill()
        server.wait(timeout=30)


def readme_section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", readme, re.DOTALL | re.MULTILINE)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/api/v1/about", timeout=1).ok
    except requests.ConnectionError:
        return False
