"""Reports of a run: the per-stage summary table printed by the command line and by ``stationsim report``, and
the content of ``summary.json``.

A figure that cannot be computed (no simulated time, no job served, a wall time never recorded because the run
did not finish) is printed as ``-`` or with the reason, never as ``nan``; a run read back incomplete says so in
its first line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sim.scenario.units import format_seconds

if TYPE_CHECKING:
    from sim.results.run import RunResult

STAT_NAMES = ("mean", "p50", "p95", "p99", "max")
NO_TIME = "n/a (no simulated time)"


def _seconds(value: float) -> str:
    return format_seconds(value) if math.isfinite(value) else "-"


def _stats(stats: dict[str, float]) -> str:
    return " ".join(f"{_seconds(stats[k]):>8}" for k in STAT_NAMES)


def _servers(servers: float) -> str:
    return "inf" if math.isinf(servers) else f"{servers:g}"


def _utilisation(row: dict[str, Any]) -> str:
    if math.isfinite(row["utilisation"]):
        return f"{100 * row['utilisation']:.1f}%"
    if math.isfinite(row["mean_busy"]):
        return f"{row['mean_busy']:.2f} busy"
    return "-"


def _headline(summary: dict[str, Any]) -> str:
    jobs = summary["jobs"]
    sim_time = summary["sim_time"]
    if summary.get("complete", True):
        what = f"{jobs['submitted']:,} jobs"
        wall = (f"{summary['wall_seconds']:.2f} s wall ({summary['jobs_per_second']:,.0f} jobs/s)"
                if math.isfinite(summary["wall_seconds"]) and summary["wall_seconds"] > 0 else "wall time -")
    else:
        what = f"{jobs['written']:,} of {jobs['submitted']:,} jobs written (incomplete: the figures are of these)"
        wall = "no wall time (the run did not finish)"
    return (f"scenario {summary['scenario']}, seed {summary['seed']}: {what} over {_seconds(sim_time)} simulated "
            f"({sim_time / 86400:.2f} d), {wall}")


def summary_table(summary: dict[str, Any]) -> str:
    """The per-stage table: jobs served, servers, utilisation, then wait and service statistics."""
    jobs = summary["jobs"]
    lines = [
        _headline(summary),
        f"jobs: {jobs['received']:,} received, {jobs['ready']:,} ready, {jobs['failed']:,} failed, "
        f"{jobs['aborted']:,} aborted, {jobs['in_flight']:,} in flight",
        "",
        f"{'stage':<16}{'jobs':>8}{'servers':>8}{'util':>11} | {'wait: ' + ' '.join(f'{k:>8}' for k in STAT_NAMES)}"
        f" | {'service: ' + ' '.join(f'{k:>8}' for k in STAT_NAMES)}",
    ]
    for stage, row in summary["stages"].items():
        lines.append(f"{stage:<16}{row['count']:>8}{_servers(row['servers']):>8}{_utilisation(row):>11} | "
                     f"      {_stats(row['wait'])} |          {_stats(row['service'])}")
    if summary["failed_by_stage"]:
        lines.insert(2, "failed by stage: " + ", ".join(f"{k} {v:,}" for k, v in summary["failed_by_stage"].items()))
    if summary["events"]:
        lost = f"; work lost to restarts {format_seconds(summary['lost_work'])}" if summary["restarts"] else ""
        lines.insert(2, "events: " + ", ".join(f"{k} {v:,}" for k, v in summary["events"].items()) + lost)
    throughput = summary["throughput_per_hour"]
    shares = summary["instrument_time"]
    lines += ["", f"{'':<35}" + " ".join(f"{k:>8}" for k in STAT_NAMES),
              f"turnaround (received -> terminal): {_stats(summary['turnaround'])}",
              f"throughput: {throughput:.1f} ready jobs/h" if math.isfinite(throughput) else f"throughput: {NO_TIME}",
              "instrument time: " + (", ".join(f"{kind.replace('_', ' ')} {100 * share:.1f}%"
                                               for kind, share in shares.items()) if shares else NO_TIME)]
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """NaN and infinity have no JSON form: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    return value


def summary_json(result: RunResult, summary: dict[str, Any], database: str) -> dict[str, Any]:
    """``summary.json``: which run of which database it describes, whether that run is complete, its figures."""
    document: dict[str, Any] = json_ready({"run_id": result.run_id, "database": database,
                                           "complete": result.complete, "jobs_written": result.jobs_written,
                                           **summary})
    return document
