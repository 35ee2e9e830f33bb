"""Tests of the worker's metrics: label children bound once and counted in the exposition."""

from __future__ import annotations

from worker.metrics import WorkerMetrics


def test_child_is_bound_once_and_counts_into_the_metric() -> None:
    """child() hands back the same labelled child each time, and its counts are exported."""
    metrics = WorkerMetrics()
    first = metrics.child(metrics.outcomes, "verified", "")
    assert metrics.child(metrics.outcomes, "verified", "") is first
    assert metrics.child(metrics.outcomes, "rejected", "not_passed") is not first
    assert metrics.child(metrics.messages, "verified") is not first
    first.inc()
    metrics.child(metrics.outcomes, "verified", "").inc()
    assert b'wxface_worker_outcomes_total{outcome="verified",reason=""} 2.0' in metrics.render()
