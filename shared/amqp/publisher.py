"""Confirmed, persistent, mandatory publishing, with a connection that comes back on its own.

:class:`Publisher` keeps one connection and one confirm-mode channel, re-established by a
background task with bounded back-off whenever the broker goes away. Publishing is pipelined
and coalesced: the messages concurrent callers publish in one event-loop tick are written to
the socket together (one write instead of one per message), and each caller then awaits the
broker's confirm for its own delivery tag. A publish succeeds only when RabbitMQ confirmed
*that* message and it was routable; otherwise it raises :class:`shared.errors.PublishError`
(nack, basic.return, confirm timeout, channel or connection lost), at once when the broker is
known to be down.

The coalescing writes through aiormq's channel internals (its delivery-tag counter,
confirmation map and write queue, exactly as its ``basic_publish`` uses them), so the aiormq
version is pinned in ``pyproject.toml``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import aiormq
from aio_pika.abc import AbstractConnection
from aiormq.abc import ChannelFrame
from pamqp import frame
from pamqp.body import ContentBody
from pamqp.commands import Basic

from shared.amqp.connection import BROKER_ERRORS, keep_connected, until_closed
from shared.amqp.frames import header_frame
from shared.amqp.topology import VERIFY_ROUTING_KEY, Topology
from shared.errors import PublishError
from shared.log import get_logger
from shared.work import WorkItem

log = get_logger(__name__)

# (frames, message_id, confirmation) of the messages waiting for one write
_Batch = list[tuple[bytes, str, "asyncio.Future[Any]"]]


class _Pipeline:
    """Coalesces one channel's publishes: each loop tick's messages reach the socket in one write.

    Callers marshal their own frames and get a confirmation future registered with aiormq's
    channel (so its reader resolves it on ack / nack / basic.return, and a closing channel
    rejects it). A flush task assigns delivery tags in the order the frames enter the
    connection's write queue, under the channel's lock, as ``basic_publish`` does.
    """

    def __init__(self, channel: aiormq.Channel, confirm_timeout_s: float) -> None:
        self._channel = channel
        self._confirm_timeout_s = confirm_timeout_s
        self._pending: _Batch = []
        self._waiting: list[asyncio.Future[Any]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._methods: dict[tuple[str, str], bytes] = {}

    def submit(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any] | None,
    ) -> asyncio.Future[Any]:
        """Queue one message for the next write; the future resolves with its confirmation."""
        channel = self._channel
        if channel.is_closed:
            raise PublishError("channel closed")
        frames = [self._method(exchange, routing_key)]
        frames.append(header_frame(channel.number, len(body), message_id, headers))
        step = channel.max_content_size
        frames.extend(
            frame.marshal(ContentBody(body[i : i + step]), channel.number)
            for i in range(0, len(body), step)
        )
        confirmation = channel.create_future()
        if not self._pending:  # a new batch: one timer bounds every message in it
            self._waiting = []  # the timer keeps only the futures, not the frames
            loop = asyncio.get_running_loop()
            loop.call_later(self._confirm_timeout_s, _expire, self._waiting)
        self._pending.append((b"".join(frames), message_id, confirmation))
        self._waiting.append(confirmation)
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())
        return confirmation

    def _method(self, exchange: str, routing_key: str) -> bytes:
        method = self._methods.get((exchange, routing_key))
        if method is None:
            publish = Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=True)
            method = frame.marshal(publish, self._channel.number)
            self._methods[(exchange, routing_key)] = method
        return method

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._write(batch)
                except BROKER_ERRORS as exc:
                    _expire([confirmation for _, _, confirmation in batch], exc)
        finally:
            self._flusher = None

    async def _write(self, batch: _Batch) -> None:
        channel = self._channel
        async with channel.lock:
            payload = self._register(batch)
            if payload:
                await channel.write_queue.put(ChannelFrame(payload, should_close=False))

    def _register(self, batch: _Batch) -> bytes:
        """Give each still-wanted message its delivery tag; the bytes to write, in tag order."""
        channel, parts = self._channel, []
        for payload, message_id, confirmation in batch:
            if confirmation.done():  # cancelled by its caller, or the channel already closed
                continue
            channel.delivery_tag += 1
            tag = channel.delivery_tag
            channel.confirmations[tag] = confirmation
            channel.message_id_delivery_tag[message_id] = tag
            confirmation.add_done_callback(functools.partial(_forget, channel, message_id, tag))
            parts.append(payload)
        return b"".join(parts)


def _forget(channel: aiormq.Channel, message_id: str, tag: int, _: object) -> None:
    if channel.message_id_delivery_tag.get(message_id) == tag:
        del channel.message_id_delivery_tag[message_id]


def _expire(confirmations: list[asyncio.Future[Any]], exc: BaseException | None = None) -> None:
    for confirmation in confirmations:
        if not confirmation.done():
            confirmation.set_exception(exc or TimeoutError())


class Publisher:
    """One process's confirmed publisher; run :meth:`start` once, :meth:`close` at exit."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        *,
        confirm_timeout_s: float = 2.0,
        max_backoff_s: float = 5.0,
        on_confirm: Callable[[float], None] | None = None,
        on_broker_close: Callable[[str], None] | None = None,
    ) -> None:
        self._url = url
        self._topology = topology
        self._confirm_timeout_s = confirm_timeout_s
        self._max_backoff_s = max_backoff_s
        self._on_confirm = on_confirm
        self._on_broker_close = on_broker_close
        self._pipeline: _Pipeline | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def topology(self) -> Topology:
        """The names this publisher declared."""
        return self._topology

    @property
    def ready(self) -> bool:
        """True while a confirm channel is open."""
        return self._ready.is_set()

    async def wait_ready(self, within_s: float | None = None) -> bool:
        """Wait until connected; False when ``within_s`` passed first."""
        try:
            await asyncio.wait_for(self._ready.wait(), within_s)
        except TimeoutError:
            return False
        return True

    async def start(self) -> None:
        """Start the connection loop in the background (returns without waiting for it)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="amqp-publisher")

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish_work(self, item: WorkItem) -> None:
        """Publish a work item to the intake (routing key ``verify``) and await its confirm."""
        await self.publish(
            self._topology.intake, VERIFY_ROUTING_KEY, item.encode(), item.message_id()
        )

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish persistent + mandatory and return once RabbitMQ confirmed this message."""
        pipeline = self._pipeline
        if pipeline is None or not self._ready.is_set():
            raise PublishError("broker not connected")
        started = time.perf_counter()
        try:
            confirm = await pipeline.submit(exchange, routing_key, body, message_id, headers)
        except BROKER_ERRORS as exc:
            raise PublishError(f"publish not confirmed: {type(exc).__name__}") from exc
        if not isinstance(confirm, Basic.Ack):
            raise PublishError("publish not acknowledged")
        if self._on_confirm is not None:
            self._on_confirm(time.perf_counter() - started)

    async def _run(self) -> None:
        await keep_connected(
            self._url, self._serve, self._stopping,
            on_lost=self._lost, max_backoff_s=self._max_backoff_s,
        )  # fmt: skip

    def _lost(self) -> None:
        self._ready.clear()
        self._pipeline = None

    async def _serve(self, connection: AbstractConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await self._topology.declare(channel)
        underlay = cast(aiormq.Channel, await channel.get_underlay_channel())
        self._pipeline = _Pipeline(underlay, self._confirm_timeout_s)
        self._ready.set()
        log.info("broker_connected", prefix=self._topology.prefix)
        closed = await until_closed(connection, channel)
        if closed is not None and self._on_broker_close is not None:
            self._on_broker_close(closed)
