"""Compacting a finished run's records changes nothing a reader sees: every bundled scenario's holdings, job and
transition tables, times, statuses and summary are the same, value for value and dtype for dtype, before and
after; the compacted records keep less, stay read-only, and pickle and copy into the same records."""

from __future__ import annotations

import copy
import json
import pickle
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import sim
from sim.model.compaction import CompactHoldings, StatusCodes, compact_records, compact_workload, narrowest
from sim.model.records import Holder, Holdings, HoldingsTable, Outcome
from sim.model.station import Station
from sim.model.workload import sample_workload
from sim.results.run import RunResult
from sim.scenario.streams import RandomStreams

SCENARIOS = sorted(path for path in (Path(__file__).resolve().parents[1] / "scenarios").glob("*.toml")
                   if "scenario" not in tomllib.loads(path.read_text(encoding="utf-8")))  # sweep files name one
JOBS = 400
STAGES = ("validation", "calibration", "compilation", "save_metadata", "execution", "post_processing")
TROUBLE: dict[str, Any] = {
    "aborts": {"probability": 0.1, "delay": {"dist": "exponential", "mean": "30s"}},
    "failures": {stage: {"probability": 0.02, "after_end": 0.2} for stage in STAGES},
    "hardware.execution_timeout": "1min",
    "hardware.faults": {"error_probability": 0.03, "hang_probability": 0.01, "reset_after_hang": "10s",
                        "mean_time_between_outages": "20min", "mean_repair_time": "2min"},
    "calibration": {"times_of_day": ["00:10", "00:30", "00:50", "01:10"], "duration": "2min"},
    "restarts": {"mean_time_between": "15min", "downtime": "1min", "policy": "requeue"},
}
"""Every kind of trouble, often enough that 400 jobs meet each: rows of every outcome and non-job holder."""


def _runs() -> dict[str, sim.Scenario | Path]:
    runs: dict[str, sim.Scenario | Path] = {path.stem: path for path in SCENARIOS}
    folder = SCENARIOS[0].parent
    baseline, overload = sim.load_scenario(folder / "baseline.toml"), sim.load_scenario(folder / "overload.toml")
    runs["trouble_requeue"] = baseline.with_values(TROUBLE)
    runs["trouble_fail"] = baseline.with_values({**TROUBLE, "restarts": {**TROUBLE["restarts"], "policy": "fail"}})
    runs["cut_short"] = overload.with_values({"run.horizon": "3min"})  # holdings still open at the end
    return runs


RUNS = _runs()
WALL_CLOCK = ("wall_seconds", "jobs_per_second")
"""The summary's figures of the machine, not of the run."""


def uncompacted(scenario: sim.Scenario | Path) -> RunResult:
    """The run of ``scenario`` with its records as the run wrote them: what ``simulate`` runs, without its
    compaction at the end."""
    scenario = scenario if isinstance(scenario, sim.Scenario) else sim.load_scenario(scenario)
    streams = RandomStreams(scenario.run.seed)
    workload = sample_workload(scenario, JOBS, streams)
    station = Station(scenario, workload, streams)
    station.start()
    station.run(until=scenario.run.horizon)
    return RunResult(scenario=scenario, seed=scenario.run.seed, workload=workload, records=station.records,
                     sim_time=station.env.now, wall_seconds=0.0)


def compacted(result: RunResult) -> RunResult:
    """``result`` compacted as ``simulate`` compacts it: its records in place, its workload anew."""
    compact_records(result.records)
    return replace(result, workload=compact_workload(result.workload))


def assert_identical(before: npt.NDArray[Any], after: npt.NDArray[Any], what: str) -> None:
    """Same dtype, shape and values; floats bit for bit (NaN is NaN, -0.0 is not 0.0)."""
    assert after.dtype == before.dtype, what
    assert after.shape == before.shape, what
    if before.dtype == np.float64:
        assert np.array_equal(before.view(np.int64), after.view(np.int64)), what
    else:
        assert before.tolist() == after.tolist(), what


def assert_same_table(before: HoldingsTable, after: HoldingsTable, what: str) -> None:
    for name in Holdings.COLUMNS:
        assert_identical(getattr(before, name), getattr(after, name), f"{what}.{name}")


def readings(result: RunResult) -> dict[str, Any]:
    """What readers get from a result: every table and column, as copies taken now."""
    records = result.records
    out: dict[str, Any] = {
        "times": np.array(result.times), "final_status": result.records.final_status(),
        "status": [int(code) for code in records.status], "status_counts": result.status_counts(),
        "summary": json.dumps({k: v for k, v in result.summary().items() if k not in WALL_CLOCK}, sort_keys=True,
                              default=str),
        "holdings": records.holdings_tables(result.sim_time),
        "lengths": {name: len(h) for name, h in records.holdings.items()},
        "open": {name: h.open() for name, h in records.holdings.items()},
        "slices": {name: [h.closed(first, stop) for first, stop in ((0, 0), (3, 11), (-7, None), (5, 2), (0, None))]
                   for name, h in records.holdings.items()},
    }
    out.update({f"jobs.{k}": v for k, v in result.job_columns().items()})
    out.update({f"transitions.{k}": v for k, v in result.transition_columns().items()})
    return out


def assert_same_readings(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            assert_identical(value, after[key], key)
        elif key == "holdings":
            assert value.keys() == after[key].keys()
            for pool, table in value.items():
                assert_same_table(table, after[key][pool], f"holdings[{pool}]")
        elif key == "slices":
            for pool, tables in value.items():
                for i, table in enumerate(tables):
                    assert_same_table(table, after[key][pool][i], f"{pool}.closed slice {i}")
        else:
            assert value == after[key], key


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[dict[str, Any], RunResult]]:
    """Each run's readings before compaction and its compacted result."""
    out = {}
    for name, scenario in RUNS.items():
        result = uncompacted(scenario)
        assert not any(isinstance(h, CompactHoldings) for h in result.records.holdings.values())
        out[name] = (readings(result), compacted(result))
    return out


@pytest.mark.parametrize("name", RUNS)
def test_compaction_changes_nothing_a_reader_sees(runs: dict[str, tuple[dict[str, Any], RunResult]],
                                                  name: str) -> None:
    before, result = runs[name]
    assert all(isinstance(h, CompactHoldings) for h in result.records.holdings.values())
    assert isinstance(result.records.status, StatusCodes)
    assert_same_readings(before, readings(result))


def test_the_fault_paths_are_kept_as_exceptions_and_the_rest_read_from_the_times(
        runs: dict[str, tuple[dict[str, Any], RunResult]]) -> None:
    """The runs above hold both kinds of row, derived job holdings and rows kept whole (every outcome but
    RETURNED, every holder that is not a job, open holdings), so both ways of reading back are compared."""
    _, trouble = runs["trouble_requeue"]
    holdings = trouble.records.holdings
    assert all(isinstance(h, CompactHoldings) and 0 < h.exceptions < len(h) / 4 for h in holdings.values())
    execution = holdings["execution"].closed()
    assert set(execution.outcome.tolist()) >= {Outcome.DONE, Outcome.FAILED, Outcome.ABORTED, Outcome.RESTART,
                                               Outcome.OUTAGE, Outcome.TIMEOUT}
    assert set(execution.holder[execution.holder < 0].tolist()) == {Holder.CALIBRATION, Holder.OUTAGE, Holder.RESET}
    _, cut = runs["cut_short"]
    assert any(cut.records.holdings[name].open() for name in STAGES)
    assert (cut.holdings["execution"].outcome == Outcome.OPEN).any()


def test_compacted_records_keep_less(runs: dict[str, tuple[dict[str, Any], RunResult]]) -> None:
    _, result = runs["baseline"]
    records = result.records
    for holdings in records.holdings.values():
        assert isinstance(holdings, CompactHoldings)
        kept = sum(a.nbytes for a in vars(holdings).values() if isinstance(a, np.ndarray) and a is not records.times)
        assert kept <= 2 * len(holdings) + 32 * holdings.exceptions  # a byte for the server, one for the job
    assert records.instrument.itemsize == 1
    assert isinstance(records.status, StatusCodes)
    assert records.status.itemsize == 1
    assert result.workload.job_class.itemsize == 1
    assert result.workload.shots.dtype == np.int64  # counted with: stays as wide as it was


def test_compacted_times_are_read_only_and_a_deep_copy_is_independent(
        runs: dict[str, tuple[dict[str, Any], RunResult]]) -> None:
    before, result = runs["trouble_requeue"]
    with pytest.raises(ValueError, match="read-only"):
        result.records.times[0, 0] = 1.0
    with pytest.raises(TypeError, match="read-only"):
        result.records.holdings["execution"].rows.extend((0.0,) * 5)
    copied = copy.deepcopy(result.records)
    assert not any(isinstance(h, CompactHoldings) for h in copied.holdings.values())
    copied.times[:] = np.nan  # the copy is writable, and its holdings are its own
    copied.holdings["validation"].rows.extend((0.0, 1.0, 2.0, 3.0, 0.0))
    for name, table in before["holdings"].items():
        assert_same_table(table, result.records.holdings[name].table(result.sim_time), name)
        if name != "validation":
            assert_same_table(table, copied.holdings[name].table(result.sim_time), f"copy {name}")
    assert copied.status == before["status"]


def test_a_pickled_compacted_result_reads_the_same(runs: dict[str, tuple[dict[str, Any], RunResult]]) -> None:
    before, result = runs["trouble_fail"]
    again = pickle.loads(pickle.dumps(result))
    assert isinstance(again.records.holdings["compilation"], CompactHoldings)
    assert not again.records.times.flags.writeable
    assert_same_readings(before, readings(again))
    compact_records(again.records)  # twice: nothing changes
    assert_same_readings(before, readings(again))


def test_narrowest_holds_every_value() -> None:
    for values, dtype in (([], np.int8), ([-128, 127], np.int8), ([128], np.int16), ([-32769], np.int32),
                          ([2**31], np.int64), ([-(2**63), 2**63 - 1], np.int64)):
        narrowed = narrowest(np.array(values, dtype=np.int64))
        assert narrowed.dtype == dtype
        assert narrowed.tolist() == values


def test_status_codes_behave_like_the_list() -> None:
    codes = StatusCodes([0, 15, -1, 17])
    assert codes == [0, 15, -1, 17]
    assert [0, 15, -1, 17] == codes  # noqa: SIM300  # the list on the left: the reflected comparison
    assert codes != [0, 15, -1]
    assert type(codes[1]) is int
    assert list(codes) == [0, 15, -1, 17]
    assert np.asarray(codes, dtype=np.int64).tolist() == [0, 15, -1, 17]
    against_numpy: Any = codes == np.array([0, 1, -1, 17])  # element by element, as for the list
    assert against_numpy.tolist() == [True, False, True, True]
    assert pickle.loads(pickle.dumps(codes)) == codes
    assert isinstance(copy.deepcopy(codes), StatusCodes)
