"""Reports of a run: the per-stage summary table printed by the command line and by ``stationsim report``, and
the content of ``summary.json``.

A figure that cannot be computed (no simulated time, no job served, a wall time never recorded because the run
did not finish) is printed as ``-`` or with the reason, never as ``nan``; a run read back incomplete says so in
its first line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from sim.model.status import STAGE_LABELS
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
        f"{'stage':<18}{'jobs':>6}{'servers':>8}{'util':>11} | {'wait: ' + ' '.join(f'{k:>8}' for k in STAT_NAMES)}"
        f" | {'service: ' + ' '.join(f'{k:>8}' for k in STAT_NAMES)}",
    ]
    for stage, row in summary["stages"].items():
        label = STAGE_LABELS.get(stage, stage)
        lines.append(f"{label:<18}{row['count']:>6}{_servers(row['servers']):>8}{_utilisation(row):>11} | "
                     f"      {_stats(row['wait'])} |          {_stats(row['service'])}")
    if summary["failed_by_stage"]:
        lines.insert(2, "failed by stage: " + ", ".join(f"{STAGE_LABELS.get(k, k)} {v:,}"
                                                        for k, v in summary["failed_by_stage"].items()))
    if summary["events"]:
        lost = f"; work lost to restarts {format_seconds(summary['lost_work'])}" if summary["restarts"] else ""
        lines.insert(2, "events: " + ", ".join(f"{k} {v:,}" for k, v in summary["events"].items()) + lost)
    throughput = summary["throughput_per_hour"]
    shares = summary["instrument_time"]
    lines += ["", f"{'':<35}" + " ".join(f"{k:>8}" for k in STAT_NAMES),
              f"turnaround (received -> terminal): {_stats(summary['turnaround'])}",
              f"throughput: {throughput:.1f} ready jobs/h" if math.isfinite(throughput) else f"throughput: {NO_TIME}"]
    availability = summary.get("availability") or {}
    if availability.get("instruments"):
        lines += availability_lines(availability["instruments"])
    else:
        lines.append("instrument time: " + (", ".join(f"{kind.replace('_', ' ')} {_percent(share)}"
                                                      for kind, share in shares.items()) if shares else NO_TIME))
    for title, groups in (("job class", summary.get("classes")), ("user", summary.get("users"))):
        if groups:
            lines += ["", *group_table(title, groups)]
    return "\n".join(lines)


def _percent(share: float) -> str:
    """A share for people: ``62.3%``, ``0%`` for an exact zero (and its rounding error), ``-`` if unknown."""
    if not math.isfinite(share):
        return "-"
    return "0%" if abs(share) < 1e-12 else f"{100 * share:.1f}%"


INSTRUMENT_SHARES = (("user_jobs", "user jobs"), ("calibrating", "calibrating"), ("maintenance", "maintenance"),
                     ("down", "down"), ("service_down", "service down"), ("idle", "idle"))


def availability_lines(instruments: dict[str, dict[str, float]]) -> list[str]:
    """How the instruments spent the run (``sim.results.availability``): one line for the pool and, with more
    than one instrument, one for each; the shares that were not zero, then the available time and the
    utilisation of it (user jobs over available time), beside the plain utilisation of the table above."""
    def line(name: str, shares: dict[str, float]) -> str:
        parts = [f"{label} {_percent(shares[key])}" for key, label in INSTRUMENT_SHARES
                 if key in shares and abs(shares[key]) >= 1e-12]
        return (f"  {name}: " + ", ".join(parts) + f" | available {_percent(shares.get('available', math.nan))}"
                f", of which used by user jobs {_percent(shares.get('utilisation_of_available', math.nan))}")

    names = [n for n in instruments if n != "all"]
    lines = ["instrument time (shares of the run, adding up to 100%):"]
    if "all" in instruments and len(names) != 1:
        lines.append(line("all instruments", instruments["all"]))
    lines += [line(name, instruments[name]) for name in names]
    return lines


def group_table(title: str, groups: dict[str, dict[str, Any]]) -> list[str]:
    """Per job class (or user): jobs and how they ended, then the mean, p95 and max of turnaround, of the wait
    for an instrument and of service (summed over the stages)."""
    width = max(len(title), *(len(name) for name in groups)) + 2
    stats = ("mean", "p95", "max")
    parts = (("turnaround", "turnaround: "), ("execution_wait", "instrument wait: "), ("service", "service: "))

    def segment(label: str, cells: list[str]) -> str:
        return f" | {label}" + " ".join(f"{c:>8}" for c in cells)

    lines = [f"{title:<{width}}{'jobs':>8}{'ready':>8}{'failed':>8}{'aborted':>8}"
             + "".join(segment(label, list(stats)) for _, label in parts)]
    for name, row in groups.items():
        jobs = row["jobs"]
        cells = "".join(segment(" " * len(label), [_seconds(row[key][k]) for k in stats]) for key, label in parts)
        lines.append(f"{name:<{width}}{jobs['submitted']:>8,}{jobs['ready']:>8,}{jobs['failed']:>8,}"
                     f"{jobs['aborted']:>8,}{cells}")
    return lines


def json_ready(value: Any) -> Any:
    """NaN and infinity have no JSON form: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float) and abs(value) < 1e-12:
        return 0.0  # the rounding error of an exact zero (a share computed as 1 minus its parts)
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    return value


def summary_json(result: RunResult, summary: dict[str, Any], database: str) -> dict[str, Any]:
    """``summary.json``: which run of which database it describes, whether that run is complete, its figures."""
    document: dict[str, Any] = json_ready({"run_id": result.run_id, "database": database,
                                           "complete": result.complete, "jobs_written": result.jobs_written,
                                           **summary})
    return document
