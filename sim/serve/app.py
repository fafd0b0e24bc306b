"""The HTTP side: IQM's server API under ``/api/v1/``, as the real ``iqm-client`` 36 calls it.

    GET    about                                                   the server's versions
    GET    quantum-computers                                       the one quantum computer served
    GET    quantum-computers/{qc}/health                           the modelled service's state and the clock
    GET    quantum-computers/{qc}/artifacts/about                  the station's versions
    GET    quantum-computers/{qc}/artifacts/static-quantum-architectures   [the SQA]
    GET    calibration-sets/{qc}/{default|set id}/dynamic-quantum-architecture   the DQA of a calibration set
    POST   jobs/{qc}/circuit?use_timeslot=false|true               submit a circuit job: 202 with its job data
    GET    jobs/{id}                                               the job data (``sim.serve.jobs``)
    GET    jobs/{id}/payload                                       the job definition as submitted
    GET    jobs/{id}/artifacts/measurement_counts                  per circuit {measurement_keys, counts}
    GET    jobs/{id}/artifacts/measurements                        per circuit {key: shots x qubits}
    POST   jobs/{id}/cancel                                        cancel: 204
    DELETE jobs/{id}                                               cancel and forget the job: 204

Errors come in IQM's shape, ``{"message", "error_code", "source": "iqm-server"}``, with the status codes the
client maps to its exceptions: 400 a request it cannot read (a bad query value), 401 a missing or wrong token,
404 an unknown quantum computer, job, calibration set or path (or results not ready), 405 a wrong method, 413 a
body over the size limit, 422 a body that is not JSON or not a circuit job, 500 an error of the model (with its
message, never a traceback), 503 no client job id left. Any request the server cannot serve leaves it running.

Starlette and uvicorn (the ``serve`` extra): Starlette is the small ASGI toolkit under FastAPI, kept by the
Encode team, with no validation layer we would have to fight to answer in IQM's error shape; uvicorn is the
usual ASGI server for it. One event loop runs both the routes and the station's clock task, so the station is
only ever touched from one thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import sys
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sim.results.export import job_uuid
from sim.serve.circuits import RequestError, parse_job
from sim.serve.jobs import live_job, stored_job
from sim.serve.live import LiveStation, SlotsExhausted
from sim.serve.persistence import ClientJob, ServeStore
from sim.serve.statevector import MAX_QUBITS, Results, simulate

PREFIX = "/api/v1"
TICK = 0.05
"""Wall seconds between two steps of the clock task."""
SYNTHETIC = (f"The results are synthetic (the hardware mock's random distribution): a circuit of the job needs "
             f"more than the {MAX_QUBITS} qubits, or the memory, that the ideal simulation allows.")


@dataclass(frozen=True)
class ApiConfig:
    token: str | None = None
    max_body: int = 8 * 2**20
    """Largest request body accepted, in bytes."""


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    return JSONResponse({"message": message, "error_code": code, "source": "iqm-server"}, status_code=status)


Handler = Callable[[Request], Awaitable[Response]]


class Api:
    """The routes over one live station and its database."""

    def __init__(self, live: LiveStation, store: ServeStore, config: ApiConfig) -> None:
        self.live, self.store, self.config = live, store, config
        self.architecture = live.architecture

    # --- plumbing ---------------------------------------------------------------------------------------------

    def guarded(self, handler: Handler) -> Handler:
        """Check the token, bring the station up to the clock, answer errors in IQM's shape."""
        async def endpoint(request: Request) -> Response:
            try:
                self._authorise(request)
                if self.live.failure is None:
                    self.live.advance()
                return await handler(request)
            except ApiError as error:
                return error_response(error.status, error.message, error.code)
            except Exception as error:  # never a traceback to the client; the server goes on
                traceback.print_exc(file=sys.stderr)
                return error_response(500, self.live.failure or f"{type(error).__name__}: {error}", "internal")
        return endpoint

    def _authorise(self, request: Request) -> None:
        token = self.config.token
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ApiError(401, "missing or wrong token: send Authorization: Bearer <token>", "unauthorized")

    def _quantum_computer(self, request: Request) -> None:
        qc = request.path_params["qc"]
        if qc not in (self.architecture.alias, str(self.architecture.id), "default"):
            raise ApiError(404, f"quantum computer {qc!r} not found; this server has {self.architecture.alias!r}",
                           "not_found")

    async def _json_body(self, request: Request) -> tuple[Any, str]:
        limit = self.config.max_body
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            raise ApiError(413, f"the request body is larger than the server's limit of {limit:,} bytes",
                           "payload_too_large")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, f"the request body is larger than the server's limit of {limit:,} bytes",
                               "payload_too_large")
        try:
            text = body.decode("utf-8")
            return json.loads(text), text
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ApiError(422, f"the request body is not valid JSON: {error}", "validation_error") from None

    def _client_job(self, request: Request) -> ClientJob:
        job_id = request.path_params["job_id"]
        job = self.store.client_job(job_id)
        if job is None or job.deleted:
            raise ApiError(404, f"job {job_id} not found", "not_found")
        return job

    def _job_data(self, job: ClientJob) -> dict[str, Any]:
        if job.run_id == self.live.run_id:
            return live_job(self.live, job)
        stored = self.store.stored_job(job.run_id, job.job_id)
        if stored is None:
            raise ApiError(404, f"job {job.id} has no record in the database", "not_found")
        epoch, speed = self.store.clock_of(job.run_id)
        return stored_job(stored, job, epoch, speed, self.architecture)

    # --- the station ------------------------------------------------------------------------------------------

    async def about(self, request: Request) -> Response:
        from sim import __version__

        return JSONResponse({"name": "stationsim", "version": __version__,
                             "software_versions": {"stationsim": __version__},
                             "description": "a simulated IQM station (stationsim serve)"})

    async def station_about(self, request: Request) -> Response:
        from sim import __version__

        self._quantum_computer(request)
        return JSONResponse({"version": __version__, "software_versions": {"iqm-stationsim": __version__}})

    async def quantum_computers(self, request: Request) -> Response:
        return JSONResponse({"quantum_computers": [self.architecture.quantum_computer()]})

    async def health(self, request: Request) -> Response:
        self._quantum_computer(request)
        live = self.live
        station = live.station
        up = live.failure is None and station.up
        return JSONResponse({"status": "up" if up else "down", "service_up": station.up, "failure": live.failure,
                             "simulated_time": live.now, "lag_seconds": live.lag() / live.config.speed,
                             "speed": live.config.speed,
                             "instruments": [station.instruments.state(i).value
                                             for i in range(len(station.instruments.devices))]})

    async def static_architecture(self, request: Request) -> Response:
        self._quantum_computer(request)
        return JSONResponse([self.architecture.static()])

    async def dynamic_architecture(self, request: Request) -> Response:
        self._quantum_computer(request)
        wanted = request.path_params["calibration_set"]
        number = self.live.current_calibration_set() if wanted == "default" else self._set_number(wanted)
        if number is None:
            raise ApiError(404, f"calibration set {wanted} not found", "not_found")
        return JSONResponse(self.architecture.dynamic(self.architecture.calibration_set_id(number)))

    def _set_number(self, wanted: str) -> int | None:
        return next((n for n in range(self.live.calibration_sets())
                     if str(self.architecture.calibration_set_id(n)) == wanted), None)

    # --- jobs -------------------------------------------------------------------------------------------------

    async def submit_circuit(self, request: Request) -> Response:
        self._quantum_computer(request)
        timeslot = request.query_params.get("use_timeslot", "false").lower()
        if timeslot not in ("true", "false"):
            raise ApiError(400, f"use_timeslot: expected true or false, got {timeslot!r}", "invalid_operation")
        body, text = await self._json_body(request)
        try:
            job = parse_job(body)
        except RequestError as error:
            raise ApiError(422, f"invalid circuit job: {error}", "validation_error") from None
        rejection = job.rejection(self.architecture)
        wanted = job.calibration_set_id
        if rejection is None and wanted is not None and self._set_number(wanted) is None:
            rejection = f"The calibration set {job.calibration_set_id} is not known."
        try:
            job_id = self.live.submit(job, rejection, use_timeslot=timeslot == "true")
        except SlotsExhausted as error:
            raise ApiError(503, str(error), "unavailable") from None
        results, messages = self._results(job, job_id, rejection)
        client = ClientJob(job_uuid(self.live.run_id, job_id), self.live.run_id, job_id, time.time(), text,
                           results, messages, deleted=False)
        self.store.add_client_job(client)
        self.store.write(self.live.workload, self.live.station.records, self.live.now, force=[job_id])
        return JSONResponse(live_job(self.live, client), status_code=202)

    def _results(self, job: Any, job_id: int, rejection: str | None) -> tuple[Any, list[str]]:
        """Each circuit's measurement bits, drawn now from the job's own stream (served once it is READY)."""
        device = self.architecture.device
        if rejection is not None or len(job.qubits) > device.qubits or job.shots > device.max_shots:
            return None, []  # validation will fail it
        rng = self.live.streams.fresh(f"serve.results.{self.live.run_id}.{job_id}")
        runs = [simulate(circuit, job.shots, rng) for circuit in job.circuits]
        messages = [SYNTHETIC] if any(r.synthetic for r in runs) else []
        return [{key: bits.tolist() for key, bits in r.bits.items()} for r in runs], messages

    async def job(self, request: Request) -> Response:
        return JSONResponse(self._job_data(self._client_job(request)))

    async def payload(self, request: Request) -> Response:
        return Response(self._client_job(request).payload, media_type="application/json")

    def _ready_results(self, request: Request) -> list[dict[str, list[list[int]]]]:
        job = self._client_job(request)
        status = self._job_data(job)["status"]
        if status != "completed" or job.results is None:
            raise ApiError(404, f"job {job.id} has no measurement results: it is {status}", "not_found")
        return job.results

    async def measurements(self, request: Request) -> Response:
        return JSONResponse(self._ready_results(request))

    async def measurement_counts(self, request: Request) -> Response:
        counts = []
        for circuit in self._ready_results(request):
            bits = {key: np.asarray(rows, dtype=np.uint8).reshape(len(rows), -1) for key, rows in circuit.items()}
            counts.append({"measurement_keys": list(circuit), "counts": Results(bits, synthetic=False).counts()})
        return JSONResponse(counts)

    async def cancel(self, request: Request) -> Response:
        job = self._client_job(request)
        if job.run_id == self.live.run_id:
            self.live.cancel(job.job_id)
            self.live.advance()
        return Response(status_code=204)

    async def delete(self, request: Request) -> Response:
        job = self._client_job(request)
        if job.run_id == self.live.run_id:
            self.live.cancel(job.job_id)
        self.store.delete(job.id)
        return Response(status_code=204)

    async def pulse_job(self, request: Request) -> Response:
        self._quantum_computer(request)
        raise ApiError(400, "pulse-level (run) jobs are not simulated by this server; submit circuit jobs",
                       "invalid_operation")

    def routes(self) -> list[Route]:
        table: list[tuple[str, Handler, str]] = [
            ("/about", self.about, "GET"),
            ("/quantum-computers", self.quantum_computers, "GET"),
            ("/quantum-computers/{qc}/health", self.health, "GET"),
            ("/quantum-computers/{qc}/artifacts/about", self.station_about, "GET"),
            ("/quantum-computers/{qc}/artifacts/static-quantum-architectures", self.static_architecture, "GET"),
            ("/calibration-sets/{qc}/{calibration_set}/dynamic-quantum-architecture", self.dynamic_architecture,
             "GET"),
            ("/jobs/{qc}/circuit", self.submit_circuit, "POST"),
            ("/jobs/{qc}/run", self.pulse_job, "POST"),
            ("/jobs/{job_id}", self.job, "GET"),
            ("/jobs/{job_id}", self.delete, "DELETE"),
            ("/jobs/{job_id}/payload", self.payload, "GET"),
            ("/jobs/{job_id}/artifacts/measurement_counts", self.measurement_counts, "GET"),
            ("/jobs/{job_id}/artifacts/measurements", self.measurements, "GET"),
            ("/jobs/{job_id}/cancel", self.cancel, "POST"),
        ]
        return [Route(PREFIX + path, self.guarded(handler), methods=[method]) for path, handler, method in table]


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    message = "not found" if error.status_code == 404 else str(error.detail)
    return error_response(error.status_code, f"{request.method} {request.url.path}: {message}",
                          "not_found" if error.status_code == 404 else None)


def make_app(live: LiveStation, store: ServeStore, config: ApiConfig) -> Starlette:
    """The ASGI application: the routes, and the clock task for as long as it runs."""
    api = Api(live, store, config)

    async def clock() -> None:
        while live.failure is None:
            try:
                live.advance()
            except Exception:
                traceback.print_exc(file=sys.stderr)
                print(f"stationsim serve: {live.failure}; stored jobs are still served", file=sys.stderr)
            await asyncio.sleep(TICK)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(clock())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            live.close()

    return Starlette(routes=api.routes(), exception_handlers={HTTPException: _http_error}, lifespan=lifespan)
