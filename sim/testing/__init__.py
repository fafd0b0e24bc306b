"""A kit for regression-testing scheduler logic with pytest against the simulator.

Scheduler developers change the order in which queued jobs reach the instrument and want to prove, in their own
test suite, that nothing else broke. Everything here is a plain function (import it), and the pytest plugin
``sim.testing.plugin`` (registered as ``stationsim`` under ``pytest11``, so installed with the package) adds
fixtures around it:

- ``run(scenario, policy, jobs=..., seed=...)``: simulate a scenario under a policy in one call
  (``sim.testing.running``);
- ``assert_invariants(result)``: every lifecycle invariant of ``sim.results.invariants`` (nothing lost, statuses in
  order, one job per instrument at a time, ...);
- ordering assertions (``sim.testing.ordering``): ``assert_fifo_order``, ``assert_priority_order``,
  ``assert_aging_order``, ``assert_shortest_first``, ``assert_no_overtaking`` (any rank),
  ``assert_windows_respected``, ``assert_shares``, ``assert_recalibrations_respected``;
- ``compare(scenario, a, b, replications=...)``: a paired comparison of two policies on common random numbers,
  with confidence intervals of the differences (``sim.testing.comparison``);
- ``assert_matches_golden(result, path)``: golden summaries (``sim.testing.golden``);
- ``sim.testing.strategies``: hypothesis strategies of valid scenarios, workloads and scheduler tables (needs
  ``hypothesis``, imported only there).

A regression test in a few lines::

    from sim.testing import assert_invariants, assert_priority_order, run

    def test_my_policy_keeps_priorities():
        result = run("scenarios/scheduler_comparison.toml", "mypackage.policies:Mine", jobs=5_000)
        assert_invariants(result)
        assert_priority_order(result)
"""

from sim.results.invariants import assert_invariants, check
from sim.testing.comparison import METRICS, Comparison, MetricComparison, compare
from sim.testing.golden import FIGURES, assert_matches_golden, golden_figures
from sim.testing.ordering import (
    Overtaking,
    assert_aging_order,
    assert_fifo_order,
    assert_no_overtaking,
    assert_priority_order,
    assert_recalibrations_respected,
    assert_shares,
    assert_shortest_first,
    assert_windows_respected,
    expected_execution,
    instrument_shares,
    overtakings,
)
from sim.testing.running import as_scenario, run, with_policy

__all__ = [
    "FIGURES",
    "METRICS",
    "Comparison",
    "MetricComparison",
    "Overtaking",
    "as_scenario",
    "assert_aging_order",
    "assert_fifo_order",
    "assert_invariants",
    "assert_matches_golden",
    "assert_no_overtaking",
    "assert_priority_order",
    "assert_recalibrations_respected",
    "assert_shares",
    "assert_shortest_first",
    "assert_windows_respected",
    "check",
    "compare",
    "expected_execution",
    "golden_figures",
    "instrument_shares",
    "overtakings",
    "run",
    "with_policy",
]
