"""A kit for regression-testing scheduler logic with pytest against the simulator.

Scheduler developers change the order in which queued jobs reach the instrument and want to prove, in their own
test suite, that nothing else broke. Everything here is a plain function (import it), and the pytest plugin
``sim.testing.plugin`` (registered as ``stationsim`` under ``pytest11``, so installed with the package) adds
fixtures around it:

- ``run(scenario, policy, jobs=..., seed=...)``: simulate a scenario under a policy in one call
  (``sim.testing.running``); a policy that raises, breaks the protocol or stalls the station raises
  ``PolicyError`` with the one line the command line prints; ``context_of(result)`` and ``policy_of(result)``
  rebuild the run's ``QueueContext`` and its policy, to ask the policy what it promised;
- ``assert_invariants(result)``: every lifecycle invariant of ``sim.results.invariants`` (nothing lost, statuses in
  order, one job per instrument at a time, ...);
- ordering assertions (``sim.testing.ordering``): ``assert_fifo_order``, ``assert_priority_order``,
  ``assert_aging_order``, ``assert_shortest_first``, ``assert_no_overtaking`` (any rank, or the policy's own
  key: ``rank=policy_of(result).key``), ``assert_windows_respected``, ``assert_shares``,
  ``assert_recalibrations_respected``, and the helpers under them: ``overtakings``, ``entry_rank``,
  ``key_rank``, ``window_violations``, ``recalibration_overruns``, ``recompiled``;
- ``compare(scenario, a, b, replications=..., a_options=..., b_options=..., extra_metrics=...)``: a paired
  comparison of two policies on common random numbers, with confidence intervals of the differences
  (``sim.testing.comparison``), with metrics of one's own or the named ones of ``sim.testing.metrics``
  (``deadline_misses``, ``class_wait``);
- ``assert_matches_golden(result, path)``: golden summaries of a run, or of any dict of named numbers
  (``sim.testing.golden``);
- ``sim.testing.strategies``: hypothesis strategies of valid scenarios, workloads and scheduler tables (needs
  ``hypothesis``, imported only there).

A regression test in a few lines::

    from sim.testing import assert_invariants, assert_priority_order, run

    def test_my_policy_keeps_priorities():
        result = run("scenarios/scheduler_comparison.toml", "mypackage.policies:Mine", jobs=5_000)
        assert_invariants(result)
        assert_priority_order(result)
"""

from sim.policies import PolicyError
from sim.results.invariants import assert_invariants, check
from sim.testing.comparison import METRICS, Comparison, Metric, MetricComparison, compare
from sim.testing.golden import FIGURES, assert_matches_golden, golden_figures
from sim.testing.metrics import NAMED_METRICS, class_wait, deadline_misses
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
    entry_rank,
    expected_execution,
    instrument_shares,
    key_rank,
    overtakings,
    recalibration_overruns,
    recompiled,
    window_violations,
)
from sim.testing.running import as_scenario, context_of, policy_of, run, with_policy

__all__ = [
    "FIGURES",
    "METRICS",
    "NAMED_METRICS",
    "Comparison",
    "Metric",
    "MetricComparison",
    "Overtaking",
    "PolicyError",
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
    "class_wait",
    "compare",
    "context_of",
    "deadline_misses",
    "entry_rank",
    "expected_execution",
    "golden_figures",
    "instrument_shares",
    "key_rank",
    "overtakings",
    "policy_of",
    "recalibration_overruns",
    "recompiled",
    "run",
    "window_violations",
    "with_policy",
]
