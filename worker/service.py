"""One worker process's resources, started in dependency order and stopped in reverse.

WeChat client → store → publisher → consumer + sweep + retention → health server.
:meth:`WorkerService.stop` first stops consuming and drains in-flight messages (handing back
what does not finish in ``shutdown_timeout_s``), then closes everything else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
from datetime import timedelta

from aiohttp import web

from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.errors import StoreError
from shared.log import get_logger
from shared.settings import WorkerSettings
from shared.store.base import Store, open_store
from shared.wechat.client import WechatClient
from worker.batch import MAX_BATCH, BatchingStore
from worker.consumer import Consumer, StopSummary
from worker.handler import Handler, HandlerDeps
from worker.health import create_health_app
from worker.metrics import WorkerMetrics
from worker.retention import Retention
from worker.retry import RetryPolicy
from worker.sweep import Sweeper

log = get_logger(__name__)

CONFIRM_TIMEOUT_S = 15.0


def process_name() -> str:
    """``host:pid``, recorded as ``decided_by`` with every decision."""
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerService:
    """Everything ``python -m worker`` runs; :meth:`start` once, :meth:`stop` once."""

    def __init__(self, settings: WorkerSettings, *, decided_by: str | None = None) -> None:
        self.settings = settings
        self.topology = Topology(settings.amqp_prefix)
        self.metrics = WorkerMetrics()
        self.decided_by = decided_by or process_name()
        self._stack = contextlib.AsyncExitStack()
        self._store: Store | None = None
        self._publisher: Publisher | None = None
        self._consumer: Consumer | None = None
        self._runner: web.AppRunner | None = None

    @property
    def store(self) -> Store:
        """The open state store."""
        assert self._store is not None, "start() first"
        return self._store

    @property
    def http_port(self) -> int:
        """The port the health server listens on (useful with port 0)."""
        assert self._runner is not None, "start() first"
        port: int = self._runner.addresses[0][1]
        return port

    async def start(self) -> None:
        """Open every resource and start consuming."""
        s = self.settings
        # a kept-alive connection for every concurrent call
        wechat = WechatClient.from_settings(
            s, observer=self.metrics.observe_wechat_call, connections=s.worker_concurrency
        )
        self._stack.push_async_callback(wechat.close)
        self._store = await open_store(s.database_url, s.data_key.get_secret_value())
        self._stack.push_async_callback(self._store.close)
        url = s.amqp_url.get_secret_value()
        # quorum-queue confirms wait for fsync: under a burst they can take seconds
        self._publisher = Publisher(
            url, self.topology, confirm_timeout_s=CONFIRM_TIMEOUT_S,
            on_confirm=self.metrics.confirm_seconds.observe,
            on_broker_close=functools.partial(self.metrics.broker_closed, "publisher"),
        )  # fmt: skip
        await self._publisher.start()
        self._stack.push_async_callback(self._publisher.close)
        handler = Handler(self._handler_deps(wechat))
        self._consumer = Consumer(
            url, self.topology, handler, self.metrics,
            prefetch=s.worker_prefetch, concurrency=s.worker_concurrency,
        )  # fmt: skip
        # read when scraped: the hot path keeps a plain count
        self.metrics.in_flight.set_function(lambda: float(self._handling()))
        self.metrics.backlogged.set_function(lambda: float(self._backlogged()))
        sweeper = self._sweeper()
        await sweeper.start()
        self._stack.push_async_callback(sweeper.stop)
        retention = Retention(self.store, timedelta(days=s.session_retention_days),
                              on_purged=self.metrics.purged.inc)  # fmt: skip
        await retention.start()
        self._stack.push_async_callback(retention.stop)
        await self._consumer.start()
        await self._serve_health()
        log.info("worker_started", prefix=s.amqp_prefix, decided_by=self.decided_by)

    def _handler_deps(self, wechat: WechatClient) -> HandlerDeps:
        s = self.settings
        assert self._publisher is not None
        return HandlerDeps(
            appid=s.appid, topology=self.topology, store=self._batching_store(), wechat=wechat,
            publisher=self._publisher, policy=RetryPolicy(self.topology.retry_tiers_s),
            metrics=self.metrics, credential_ttl_s=s.credential_ttl_s,
            decided_by=self.decided_by, patience_s=s.worker_infra_patience_s,
        )  # fmt: skip

    def _batching_store(self) -> BatchingStore:
        s = self.settings
        # a batch of every message in flight cannot grow: it need not wait out the linger
        return BatchingStore(self.store, max_batch=min(MAX_BATCH, s.worker_concurrency),
                             linger_s=s.worker_batch_linger_ms / 1000,
                             backlog_linger_s=s.worker_backlog_linger_ms / 1000,
                             backlogged=self._backlogged,
                             on_batch=self.metrics.observe_store_batch)  # fmt: skip

    def _sweeper(self) -> Sweeper:
        s = self.settings
        assert self._publisher is not None
        return Sweeper(
            appid=s.appid, topology=self.topology, store=self.store, publisher=self._publisher,
            metrics=self.metrics, decided_by=self.decided_by,
            interval_s=s.worker_sweep_interval_s, batch=s.worker_sweep_batch,
        )  # fmt: skip

    async def _serve_health(self) -> None:
        checks = {"consumer": self._consumer_ready, "publisher": self._publisher_ready,
                  "store": self._store_ready}  # fmt: skip
        runner = web.AppRunner(create_health_app(self.metrics, checks), access_log=None)
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        s = self.settings
        await web.TCPSite(runner, s.worker_http_host, s.worker_http_port).start()
        self._runner = runner

    async def wait_ready(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until consuming and able to publish; False when ``timeout`` passed first."""
        assert self._consumer is not None, "start() first"
        assert self._publisher is not None
        consuming = await self._consumer.wait_ready(timeout)
        return consuming and await self._publisher.wait_ready(timeout)

    def _handling(self) -> int:
        return 0 if self._consumer is None else self._consumer.handling

    def _backlogged(self) -> bool:
        return self._consumer is not None and self._consumer.backlogged

    async def _consumer_ready(self) -> bool:
        return self._consumer is not None and self._consumer.ready

    async def _publisher_ready(self) -> bool:
        return self._publisher is not None and self._publisher.ready

    async def _store_ready(self) -> bool:
        try:
            await self.store.ping()
        except StoreError:
            return False
        return True

    async def stop(self) -> StopSummary:
        """Stop consuming, drain within the shutdown timeout, close everything."""
        summary = StopSummary(finished=0, handed_back=0)
        if self._consumer is not None:
            summary = await self._consumer.stop(self.settings.shutdown_timeout_s)
            self._consumer = None
        await self._stack.aclose()
        log.info("worker_stopped", finished=summary.finished, handed_back=summary.handed_back)
        return summary
