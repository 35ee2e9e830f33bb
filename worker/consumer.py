"""The AMQP shell around the handler: consume ``{prefix}.verify``, ack, reconnect, drain.

One connection and one channel with a prefetch window; each delivery runs as its own task,
at most ``concurrency`` at a time, through :class:`worker.handler.Handler`. A delivery is acked
only after the handler returned (its outcome stored and confirmed by the broker), in batches
and in order (:class:`worker.acks.AckSender`); :class:`~worker.patience.HandBackError` or an
unexpected error returns it unacked (nack + requeue) so it is tried again — and counts toward
the queue's delivery limit, which ends a poison message in the dead-letter queue.

When the broker goes away the connection is re-established with bounded back-off; handlers
still running for the old channel finish, and their acks are dropped (the broker redelivers
those messages, and the handler decides them to the same outcome again). :meth:`Consumer.stop`
stops consuming, waits up to a timeout for in-flight messages, cancels the rest (handed back
unacked when the channel closes) and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol, cast

import aiormq
from aio_pika.abc import AbstractConnection
from aiormq.abc import AbstractChannel, DeliveredMessage

from shared.amqp.connection import BROKER_ERRORS, keep_connected, until_closed
from shared.amqp.topology import Topology
from shared.log import get_logger
from worker.acks import AckSender
from worker.handler import Delivery, Disposition
from worker.metrics import WorkerMetrics

log = get_logger(__name__)

HANDED_BACK = "handed_back"
# how long a full window still counts as a backlog (see Consumer.backlogged)
BACKLOG_MEMORY_S = 1.0


class MessageHandler(Protocol):
    """What the consumer runs for each delivery (``worker.handler.Handler``)."""

    async def handle(self, delivery: Delivery) -> Disposition:
        """Settle one delivery; raise to have it handed back."""
        ...


@dataclass(frozen=True, slots=True)
class StopSummary:
    """What :meth:`Consumer.stop` did with the messages in flight."""

    finished: int
    handed_back: int


class Consumer:
    """Consumes the work queue until stopped; run :meth:`start`, then :meth:`stop`."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        handler: MessageHandler,
        metrics: WorkerMetrics,
        *,
        prefetch: int,
        concurrency: int,
        max_backoff_s: float = 5.0,
        backlog_memory_s: float = BACKLOG_MEMORY_S,
    ) -> None:
        self._url = url
        self._topology = topology
        self._handler = handler
        self._metrics = metrics
        self._prefetch = prefetch
        self._slots = asyncio.Semaphore(concurrency)
        self._max_backoff_s = max_backoff_s
        self._backlog_memory_s = backlog_memory_s
        self._tasks: set[asyncio.Task[Any]] = set()
        self._full_at = -math.inf  # time.monotonic() when the window was last full
        self._handling = 0
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._release = asyncio.Event()
        self._consuming: tuple[AbstractChannel, str] | None = None
        self._sink: AckSender | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """True while consuming."""
        return self._ready.is_set()

    @property
    def backlogged(self) -> bool:
        """True while every slot of the prefetch window holds a message not yet handled, and
        for ``backlog_memory_s`` after it last did.

        The broker refills a freed slot at once while the queue has messages, so a full window
        means they are waiting for this worker; at a rate it carries, slots stay free. In a
        backlog the window still dips below full for a moment after each wave of acks, until
        the broker's refill arrives, and the store batches of the refilled wave start in that
        dip: without the memory they would take the longer linger of a worker with room to
        spare (BENCHMARKS.md, session 15).
        """
        if len(self._tasks) >= self._prefetch:
            return True
        return time.monotonic() - self._full_at < self._backlog_memory_s

    @property
    def handling(self) -> int:
        """How many messages are in the handler now (each holds one of the concurrency slots)."""
        return self._handling

    async def wait_ready(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Wait until consuming; False when ``timeout`` passed first."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Start the connection loop in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="amqp-consumer")

    async def stop(self, timeout: float) -> StopSummary:  # noqa: ASYNC109
        """Stop consuming, finish in-flight messages within ``timeout``, hand back the rest."""
        self._stopping.set()
        await self._cancel_consumer()
        in_flight = set(self._tasks)
        done: set[asyncio.Task[Any]] = set()
        if in_flight:
            done, _ = await asyncio.wait(in_flight, timeout=timeout)
        left = [t for t in in_flight if t not in done]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)
        if self._sink is not None:
            await self._sink.drain()
        self._release.set()
        if self._task is not None:
            await self._task
            self._task = None
        summary = StopSummary(finished=len(done), handed_back=len(left))
        log.info("consumer_stopped", finished=summary.finished, handed_back=summary.handed_back)
        return summary

    async def _cancel_consumer(self) -> None:
        if self._consuming is not None:
            raw, tag = self._consuming
            with contextlib.suppress(*BROKER_ERRORS):
                await raw.basic_cancel(tag)
            self._consuming = None

    async def _run(self) -> None:
        await keep_connected(
            self._url, self._serve, self._stopping,
            on_lost=self._lost, max_backoff_s=self._max_backoff_s,
        )  # fmt: skip

    def _lost(self) -> None:
        self._ready.clear()
        self._consuming = None

    async def _serve(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=self._prefetch)
        await self._topology.declare(channel)
        raw = cast(aiormq.Channel, await channel.get_underlay_channel())
        sink = AckSender(raw, max(1, self._prefetch // 4))
        self._sink = sink
        if self._stopping.is_set():
            return
        # aiormq's own consumer: one task per delivery, no aio-pika IncomingMessage wrapping
        ok = await raw.basic_consume(
            self._topology.verify, functools.partial(self._on_message, sink)
        )
        assert ok.consumer_tag is not None, "ConsumeOk names the consumer"
        self._consuming = (raw, ok.consumer_tag)
        self._ready.set()
        log.info("consumer_started", queue=self._topology.verify, prefetch=self._prefetch)
        closed = await until_closed(connection, channel, self._release)
        if closed is not None:
            self._metrics.broker_closed("consumer", closed)

    async def _on_message(self, sink: AckSender, message: DeliveredMessage) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            if len(self._tasks) >= self._prefetch:
                self._full_at = time.monotonic()
        try:
            disposition = await self._handle(message)
        finally:
            if task is not None:
                self._tasks.discard(task)
        tag = message.delivery_tag
        if tag is None:
            return
        if disposition is None:
            sink.nack(tag)
            self._metrics.child(self._metrics.messages, HANDED_BACK).inc()
        else:
            sink.ack(tag)
            self._metrics.child(self._metrics.messages, disposition.value).inc()

    async def _handle(self, message: DeliveredMessage) -> Disposition | None:
        props = message.header.properties
        delivery = Delivery(message.body, props.message_id, props.headers or {})
        async with self._slots:
            self._handling += 1
            try:
                return await self._handler.handle(delivery)
            except Exception as exc:  # top of the consumer loop: hand it back
                log.error("message_handed_back", error=type(exc).__name__, exc_info=True)
                return None
            finally:
                self._handling -= 1
