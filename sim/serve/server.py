"""``stationsim serve``: load the scenario, open the database (cleaning up after a dead server), start the live
station, submit again the jobs a restart requeued, and serve the API with uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import json
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sim.scenario.scenario import Scenario
from sim.serve.app import ApiConfig, make_app
from sim.serve.circuits import RequestError, parse_job
from sim.serve.live import LiveConfig, LiveStation
from sim.serve.persistence import ClientJob, ServeStore

DATABASE = "results.sqlite"


class ServeError(Exception):
    """The server cannot start: the message says why (a port in use, a database it cannot open)."""


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    out: Path | None = None
    """The folder of the persistent queue (``results.sqlite``); None keeps nothing."""
    live: LiveConfig = field(default_factory=LiveConfig)
    api: ApiConfig = field(default_factory=ApiConfig)


def requeue(live: LiveStation, store: ServeStore, jobs: list[ClientJob]) -> None:
    """Submit again, from the start and under the same id, every client job a restart requeued."""
    for old in jobs:
        try:
            job = parse_job(json.loads(old.payload))
        except (RequestError, ValueError):  # it was accepted once, so this cannot happen; keep the old record
            continue
        job_id = live.submit(job, job.rejection(live.architecture))
        note = (f"Requeued after a server restart: submitted again as job {job_id} of run {live.run_id} "
                f"(it was job {old.job_id} of run {old.run_id}) and run from the start.")
        store.add_client_job(ClientJob(old.id, live.run_id, job_id, old.created, old.payload, old.results,
                                       [*old.messages, note], deleted=False))
        store.write(live.workload, live.station.records, live.now, force=[job_id])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def serve(scenario: Scenario, config: ServeConfig) -> int:
    import uvicorn

    sock = _bind(config.host, config.port)
    path: Path | str = ":memory:" if config.out is None else config.out / DATABASE
    try:
        store = ServeStore(path)
    except Exception as error:
        sock.close()
        raise ServeError(f"{path}: cannot open the results database: {error}") from None
    again = store.clean_up_dead_runs(scenario.faults.restarts.policy)
    live = LiveStation(scenario, config.live, store)
    requeue(live, store, again)
    host, port = sock.getsockname()[:2]
    kept = f"jobs kept in {path}" if config.out is not None else "nothing kept (no --out)"
    print(f"stationsim serve: scenario {scenario.name!r} at http://{host}:{port} (API under /api/v1/), run "
          f"{live.run_id}, speed {config.live.speed:g}, background load {'on' if config.live.background else 'off'}, "
          f"{kept}{f'; {len(again)} requeued jobs submitted again' if again else ''}; Ctrl-C stops it",
          flush=True)
    app = make_app(live, store, config.api)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False))
    started = time.monotonic()
    try:
        server.run(sockets=[sock])  # until SIGINT or SIGTERM (re-raised once uvicorn has shut down cleanly)
    finally:
        sock.close()
        store.close()
        state = "complete" if live.closed else "not marked complete (the server did not shut down cleanly)"
        print(f"stationsim serve: stopped after {time.monotonic() - started:.1f} s; run {live.run_id} is {state}",
              file=sys.stderr)
    return 0
