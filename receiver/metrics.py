"""The receiver's Prometheus metrics, on a registry of the app's own (no global state).

Labels carry only codes and route templates, never personal data. Multi-process note: each
receiver process exposes its own counters; scrape them per process (or sum across processes).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ReceiverMetrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ReceiverMetrics:
    """Every metric the receiver exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.accepted = Counter(
            "wxface_push_accepted",
            "Pushes answered success, by event kind and where they went (broker/spool/none).",
            ["kind", "via"],
            registry=r,
        )
        self.refused = Counter(
            "wxface_push_refused", "Pushes refused, by error code.", ["reason"], registry=r
        )
        self.duplicates = Counter(
            "wxface_push_duplicates", "Repeats of accepted pushes (not enqueued).", registry=r
        )
        self.spool_bytes = Gauge(
            "wxface_spool_depth_bytes", "Bytes of spooled pushes not yet relayed.", registry=r
        )
        self.spool_relayed = Counter(
            "wxface_spool_relayed", "Spooled pushes relayed to RabbitMQ.", registry=r
        )
        self.broker_closes = Counter(
            "wxface_broker_closes",
            "Channels and connections RabbitMQ closed under the publisher (each then reopened).",
            ["what"],
            registry=r,
        )
        self.confirm_seconds = Histogram(
            "wxface_publish_confirm_seconds",
            "Time from publish to broker confirm.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.request_seconds = Histogram(
            "wxface_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )

        # labelled children by label values: a labels() lookup per request costs more than it does
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._accepted_children: dict[tuple[str, str], Any] = {}

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """One request's latency under its route template, method and status."""
        key = (route, method, status)
        child = self._request_children.get(key)
        if child is None:
            child = self.request_seconds.labels(route, method, str(status))
            self._request_children[key] = child
        child.observe(seconds)

    def count_accepted(self, kind: str, via: str) -> None:
        """One push answered ``success``."""
        child = self._accepted_children.get((kind, via))
        if child is None:
            child = self._accepted_children[(kind, via)] = self.accepted.labels(kind, via)
        child.inc()

    def render(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
