"""The worker's Prometheus metrics, in a registry of the process's own (no global state).

Labels carry only bounded, non-personal values: outcomes, reasons, endpoints, WeChat errcodes,
retry causes, dead-letter causes and which broker link lost what. Never an out_seq_no, openid,
name or ID number.
"""

from __future__ import annotations

from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

M = TypeVar("M", bound=MetricWrapperBase)

# WeChat answers in 0.1-1 s, and push→outcome is held to its latency + 50 ms: steps of 50-250
# ms there, so that a percentile near that target can be read off the histogram
_WECHAT_RANGE = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.75, 1)
# from a few ms (a busy queue drained at once) to the credential's five-minute life and past it
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, *_WECHAT_RANGE, 2.5, 5, 10, 30, 60, 120, 300, 600)
_TOKEN_ENDPOINTS = frozenset({"stable_token", "token"})  # the client's names for token fetches
_CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, *_WECHAT_RANGE, 2.5, 5, 10)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)  # messages; 128 is the largest batch
# a store batch or a broker confirm: about a millisecond, tens of ms when the machine is busy
_STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class WorkerMetrics:
    """Every metric the worker exports; one instance per process (or per test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.outcomes = Counter(
            "wxface_worker_outcomes", "Outcome events published, by outcome and reason",
            ["outcome", "reason"], registry=r,
        )  # fmt: skip
        self.messages = Counter(
            "wxface_worker_messages", "Work messages handled, by what became of them",
            ["disposition"], registry=r,
        )  # fmt: skip
        self.wechat_calls = Counter(
            "wxface_worker_wechat_calls", "WeChat API calls, by endpoint and errcode",
            ["endpoint", "errcode"], registry=r,
        )  # fmt: skip
        self.wechat_seconds = Histogram(
            "wxface_worker_wechat_call_seconds", "WeChat API call latency",
            ["endpoint"], buckets=_CALL_BUCKETS, registry=r,
        )  # fmt: skip
        self.retries = Counter(
            "wxface_worker_retries", "Retries scheduled, by cause", ["cause"], registry=r
        )
        self.gave_up = Counter(
            "wxface_worker_retries_exhausted", "Credentials whose life ran out while retrying",
            registry=r,
        )  # fmt: skip
        self.dead_letters = Counter(
            "wxface_worker_dead_letters", "Messages dead-lettered, by cause", ["cause"], registry=r
        )
        self.broker_closes = Counter(
            "wxface_worker_broker_closes",
            "Channels and connections RabbitMQ closed (each then reopened), by link and what",
            ["link", "what"], registry=r,
        )  # fmt: skip
        self.token_refreshes = Counter(
            "wxface_worker_token_refreshes", "Access-token fetches", registry=r
        )
        self.swept = Counter(
            "wxface_worker_sessions_expired", "Sessions expired by the sweep", registry=r
        )
        self.republished = Counter(
            "wxface_worker_expiries_republished",
            "Expiry events published again from the outbox (their first publish went unconfirmed)",
            registry=r,
        )
        self.purged = Counter(
            "wxface_worker_sessions_purged", "Sessions purged after their retention", registry=r
        )
        self.time_in_queue = Histogram(
            "wxface_worker_time_in_queue_seconds", "From receipt of the push to its consumption",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.push_to_outcome = Histogram(
            "wxface_worker_push_to_outcome_seconds",
            "From receipt of the push to its confirmed outcome",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.store_batch = Histogram(
            "wxface_worker_store_batch_size",
            "Messages per store batch, by kind (read: session reads, decide: decisions)",
            ["kind"], buckets=_BATCH_BUCKETS, registry=r,
        )  # fmt: skip
        self.store_seconds = Histogram(
            "wxface_worker_store_batch_seconds",
            "Time a store batch took, from its sending to the store's answer, by kind",
            ["kind"], buckets=_STEP_BUCKETS, registry=r,
        )  # fmt: skip
        self.confirm_seconds = Histogram(
            "wxface_worker_publish_confirm_seconds",
            "From publishing a message (outcome, expiry, retry, dead letter) to RabbitMQ's confirm",
            buckets=_STEP_BUCKETS, registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "wxface_worker_in_flight", "Messages being handled right now", registry=r
        )
        self.backlogged = Gauge(
            "wxface_worker_backlogged",
            "1 while every slot of the prefetch window holds a message, and for a second after: "
            "the queue is waiting for this worker, and decisions linger "
            "WXFACE_WORKER_BACKLOG_LINGER_MS",
            registry=r,
        )
        self._children: dict[tuple[int, tuple[str, ...]], MetricWrapperBase] = {}

    def child(self, metric: M, *labels: str) -> M:
        """``metric.labels(*labels)``, bound once and reused (labelling costs on the hot path)."""
        key = (id(metric), labels)
        bound = self._children.get(key)
        if bound is None:
            bound = self._children[key] = metric.labels(*labels)
        return bound  # type: ignore[return-value]  # stored under this metric's id

    def observe_wechat_call(self, endpoint: str, errcode: int, seconds: float) -> None:
        """Observer hook for the WeChat client: one call's endpoint, errcode and latency."""
        self.child(self.wechat_calls, endpoint, str(errcode)).inc()
        self.child(self.wechat_seconds, endpoint).observe(seconds)
        if endpoint in _TOKEN_ENDPOINTS and errcode == 0:
            self.token_refreshes.inc()

    def observe_store_batch(self, kind: str, size: int, seconds: float) -> None:
        """Hook for the batching store: one batch of ``size`` messages, ``seconds`` at the store."""
        self.child(self.store_batch, kind).observe(size)
        self.child(self.store_seconds, kind).observe(seconds)

    def broker_closed(self, link: str, what: str) -> None:
        """Hook for the consumer and the publisher (``link``): RabbitMQ closed a ``what``
        (channel or connection) they were using; they reopen it themselves."""
        self.broker_closes.labels(link, what).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
