"""A RabbitMQ connection that comes back on its own.

:func:`keep_connected` is the one reconnect loop of wxface (the publisher and the worker's
consumer both run it): connect, hand the connection to ``serve`` until it returns or the broker
goes away, clean up, back off with jitter, and again — until ``stopping`` is set. Its
connections read their frames with :class:`shared.amqp.frames.FrameReader`.
:func:`until_closed` is what a ``serve`` awaits: the first of the connection, a channel or an
extra event closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractConnection

from shared.amqp.frames import use_frame_reader
from shared.log import get_logger

log = get_logger(__name__)

# what a broken or vanished broker raises through aio-pika / aiormq
BROKER_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPError,
    ConnectionError,
    OSError,
    RuntimeError,
    TimeoutError,
)
CONNECT_TIMEOUT_S = 5.0


async def keep_connected(
    url: str,
    serve: Callable[[AbstractConnection], Awaitable[None]],
    stopping: asyncio.Event,
    *,
    on_lost: Callable[[], None],
    max_backoff_s: float = 5.0,
) -> None:
    """Run ``serve`` on a fresh connection each time the last one ends, until ``stopping``."""
    use_frame_reader()
    attempt = 0
    while not stopping.is_set():
        try:
            connection = await aio_pika.connect(url, timeout=CONNECT_TIMEOUT_S)
        except BROKER_ERRORS as exc:
            attempt += 1
            log.warning("broker_connect_failed", error=type(exc).__name__, attempt=attempt)
            await backoff(stopping, attempt, max_backoff_s)
            continue
        attempt = 0
        try:
            await serve(connection)
        except BROKER_ERRORS as exc:
            log.warning("broker_connection_lost", error=type(exc).__name__)
        finally:
            on_lost()
            with contextlib.suppress(*BROKER_ERRORS):
                await connection.close()
        await backoff(stopping, 1, max_backoff_s)


async def backoff(stopping: asyncio.Event, attempt: int, max_s: float) -> None:
    """Sleep an exponential, jittered delay for ``attempt``, or until ``stopping`` is set."""
    delay = min(max_s, 0.1 * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), delay)


async def until_closed(
    connection: AbstractConnection, channel: AbstractChannel, *also: asyncio.Event
) -> str | None:
    """Wait until the connection or the channel closes, or any of ``also`` is set.

    A close that none of ``also`` asked for is the broker's doing (a channel error, a restart,
    a lost socket), and the caller is about to reconnect: it is logged as a warning with the
    broker's reason, so that a channel RabbitMQ closed does not pass unnoticed, and what
    closed is returned ("connection" or "channel") for the caller to count; None otherwise.
    """
    connection_closed = asyncio.ensure_future(connection.closed())
    channel_closed = asyncio.ensure_future(channel.closed())
    watched = [
        connection_closed,
        channel_closed,
        *(asyncio.ensure_future(event.wait()) for event in also),
    ]
    try:
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for fut in watched:
            fut.cancel()
    if any(event.is_set() for event in also):
        return None
    if connection_closed.done() and not connection_closed.cancelled():
        underlay = connection.transport.connection if connection.transport else None
        log.warning("broker_connection_closed", reason=_close_reason(underlay))
        return "connection"
    try:
        underlay_channel = await channel.get_underlay_channel()
    except BROKER_ERRORS:  # never opened: no reason to give
        underlay_channel = None
    log.warning("broker_channel_closed", reason=_close_reason(underlay_channel))
    return "channel"


def _close_reason(
    closed: aiormq.abc.AbstractConnection | aiormq.abc.AbstractChannel | None,
) -> str:
    """Why an aiormq connection or channel closed: its exception as the broker sent it (the
    reply code and text, such as "unknown delivery tag 1647"), or "closed" without one."""
    closing = None if closed is None else closed.closing
    if closing is None or not closing.done() or closing.cancelled():
        return "unknown"
    exc = closing.exception()
    return "closed" if exc is None else f"{type(exc).__name__}: {exc}"
