"""The ``stationsim`` command line.

    stationsim run SCENARIO [--jobs N] [--seed S] [--out DIR]   run one simulation, print the per-stage table
    stationsim validate SCENARIO                                check a scenario file without running it

Bad input (a missing file, bad TOML, an unknown key, a wrong type, a bad value) prints one line naming the
file, the key and what was expected, and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.config import ScenarioError
from sim.report import summary_table, write_summary_json
from sim.simulation import load_scenario, simulate
from sim.store import connect, write_run

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """Bad input given on the command line itself."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a seed of zero or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    from sim import __version__

    parser = argparse.ArgumentParser(prog="stationsim", description="Discrete-event simulation of a quantum "
                                     "computer's job-execution service (IQM Station Control's job executor).")
    parser.add_argument("--version", action="version", version=f"stationsim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one simulation and print the per-stage summary")
    run.add_argument("scenario", type=Path, help="scenario TOML file")
    run.add_argument("--jobs", type=_positive_int, help="jobs to submit (default: the scenario's run.jobs)")
    run.add_argument("--seed", type=_seed, help="random seed (default: the scenario's run.seed)")
    run.add_argument("--out", type=Path, help="folder for results.sqlite and summary.json")
    validate = commands.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path, help="scenario TOML file")
    return parser


def _prepare_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out: expected a folder, but this is a file")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _run(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    out = _prepare_out(args.out) if args.out else None
    result = simulate(scenario, seed=args.seed, jobs=args.jobs)
    summary = result.summary()
    print(summary_table(summary))
    if out is not None:
        connection = connect(out / "results.sqlite")
        try:
            write_run(connection, result)
        finally:
            connection.close()
        write_summary_json(summary, out / "summary.json")
        print(f"\nwrote {out / 'results.sqlite'} and {out / 'summary.json'}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    devices = ", ".join(d.name for d in scenario.hardware.devices)
    print(f"{args.scenario}: valid scenario {scenario.name!r}: {scenario.run.jobs:,} jobs, "
          f"{len(scenario.workload)} job classes, policy {scenario.scheduler.policy}, instruments: {devices}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"run": _run, "validate": _validate}
    try:
        return handlers[args.command](args)
    except (ScenarioError, UsageError) as error:
        print(f"stationsim: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


def entry_point() -> None:
    sys.exit(main())
