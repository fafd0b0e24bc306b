"""The ``serve`` subcommand: the simulated station over IQM's HTTP API.

    stationsim serve SCENARIO [--host 127.0.0.1] [--port 8000] [--speed X] [--out DIR] [--token T]
                              [--no-background]

It needs the ``serve`` extra (``pip install 'stationsim[serve]'``); without it, one line says so (exit 2).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from sim.cli.args import UsageError, out_folder, prepare_out, whole_number
from sim.cli.output import Terminated


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a speed-up greater than 0, such as 60, got {text!r}")
    return value


def add_serve_command(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="serve the simulated station over IQM's HTTP API (/api/v1/) for "
                                "iqm-client and Qiskit")
    serve.add_argument("scenario", type=Path, help="scenario TOML file")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this "
                       "machine only)")
    serve.add_argument("--port", type=whole_number(0, "a port", 65535), default=8000,
                       help="port to listen on (default: 8000; 0 picks a free one)")
    serve.add_argument("--speed", type=speed, default=1.0, help="simulated seconds per wall second (default: 1, "
                       "real time; 60: a wall second is a simulated minute)")
    serve.add_argument("--out", type=out_folder, help="folder for results.sqlite: the persistent queue (jobs "
                       "survive a restart of the server on the same folder)")
    serve.add_argument("--token", help="require 'Authorization: Bearer TOKEN' on every request")
    serve.add_argument("--no-background", dest="background", action="store_false",
                       help="leave out the scenario's own arrivals (only client jobs)")


def serve_command(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("stationsim serve needs the serve extra: pip install 'stationsim[serve]'") from None
    from sim.serve.app import ApiConfig
    from sim.serve.live import LiveConfig
    from sim.serve.server import ServeConfig, ServeError, serve
    from sim.simulation import load_scenario

    scenario = load_scenario(args.scenario)
    out = prepare_out(args.out) if args.out is not None else None
    if args.token is not None and not args.token.strip():
        raise UsageError("--token: expected a token, got an empty one")
    config = ServeConfig(host=args.host, port=args.port, out=out,
                         live=LiveConfig(speed=args.speed, background=args.background),
                         api=ApiConfig(token=args.token))
    try:
        return serve(scenario, config)
    except ServeError as error:
        raise UsageError(str(error)) from None
    except (KeyboardInterrupt, Terminated):  # how a server is stopped: it has shut down and said so
        return 0


SERVE_COMMANDS = {"serve": serve_command}
