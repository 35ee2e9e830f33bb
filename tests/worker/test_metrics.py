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


def test_store_batches_are_exported_by_kind_size_and_time() -> None:
    """Each reported store batch counts once in its kind's size and time histograms."""
    metrics = WorkerMetrics()
    metrics.observe_store_batch("read", 3, 0.002)
    metrics.observe_store_batch("read", 40, 0.02)
    metrics.observe_store_batch("decide", 1, 0.004)
    text = metrics.render()
    assert b'wxface_worker_store_batch_size_bucket{kind="read",le="4.0"} 1.0' in text
    assert b'wxface_worker_store_batch_size_count{kind="read"} 2.0' in text
    assert b'wxface_worker_store_batch_size_sum{kind="read"} 43.0' in text
    assert b'wxface_worker_store_batch_size_count{kind="decide"} 1.0' in text
    assert b'wxface_worker_store_batch_seconds_bucket{kind="read",le="0.0025"} 1.0' in text
    assert b'wxface_worker_store_batch_seconds_bucket{kind="read",le="0.025"} 2.0' in text
    assert b'wxface_worker_store_batch_seconds_bucket{kind="decide",le="0.005"} 1.0' in text


def test_push_to_outcome_resolves_wechat_latency_plus_50_ms() -> None:
    """With WeChat at 100 ms, outcomes at 120 ms and at 170 ms fall in different buckets."""
    metrics = WorkerMetrics()
    metrics.push_to_outcome.observe(0.12)
    metrics.push_to_outcome.observe(0.17)
    text = metrics.render()
    assert b'wxface_worker_push_to_outcome_seconds_bucket{le="0.15"} 1.0' in text
    assert b'wxface_worker_push_to_outcome_seconds_bucket{le="0.2"} 2.0' in text
