"""Reports of a run: the per-stage summary table printed by the command line, and ``summary.json``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sim.scenario.units import format_seconds

STAT_NAMES = ("mean", "p50", "p95", "p99", "max")


def _stats(stats: dict[str, float]) -> str:
    return " ".join(f"{format_seconds(stats[k]):>8}" for k in STAT_NAMES)


def _servers(servers: float) -> str:
    return "inf" if math.isinf(servers) else f"{servers:g}"


def _utilisation(row: dict[str, Any]) -> str:
    if math.isnan(row["utilisation"]):
        return f"{row['mean_busy']:.2f} busy"
    return f"{100 * row['utilisation']:.1f}%"


def summary_table(summary: dict[str, Any]) -> str:
    """The per-stage table: jobs served, servers, utilisation, then wait and service statistics."""
    jobs = summary["jobs"]
    days = summary["sim_time"] / 86400
    lines = [
        f"scenario {summary['scenario']}, seed {summary['seed']}: {jobs['submitted']:,} jobs over "
        f"{format_seconds(summary['sim_time'])} simulated ({days:.2f} d), {summary['wall_seconds']:.2f} s wall "
        f"({summary['jobs_per_second']:,.0f} jobs/s)",
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
    lines += ["", f"{'':<35}" + " ".join(f"{k:>8}" for k in STAT_NAMES),
              f"turnaround (received -> terminal): {_stats(summary['turnaround'])}",
              f"throughput: {summary['throughput_per_hour']:.1f} ready jobs/h",
              "instrument time: " + ", ".join(f"{kind.replace('_', ' ')} {100 * share:.1f}%"
                                              for kind, share in summary["instrument_time"].items())]
    return "\n".join(lines)


def _json_ready(value: Any) -> Any:
    """NaN and infinity have no JSON form: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def write_summary_json(summary: dict[str, Any], path: Path) -> None:
    """Write ``summary.json`` atomically: a reader never sees half a file."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(_json_ready(summary), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
