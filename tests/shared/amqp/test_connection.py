"""Tests of shared.amqp.connection: a close the broker made is said, with its reason."""

from __future__ import annotations

import asyncio

import aio_pika
import pytest
from structlog.testing import capture_logs

from shared.amqp.connection import until_closed

pytestmark = pytest.mark.broker


async def test_a_channel_the_broker_closed_is_logged_with_its_reason(amqp_url: str) -> None:
    """RabbitMQ closes a channel that acks a delivery it never made: until_closed returns
    "channel" and warns with the broker's words, as a worker's log must before it reconnects."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        raw = await channel.get_underlay_channel()
        with capture_logs() as logs:
            watching = asyncio.create_task(until_closed(connection, channel))
            await raw.basic_ack(4242)
            closed = await asyncio.wait_for(watching, 10)
    finally:
        await connection.close()
    assert closed == "channel"
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["broker_channel_closed"]
    assert "unknown delivery tag 4242" in warnings[0]["reason"]


async def test_a_close_that_was_asked_for_is_not_a_warning(amqp_url: str) -> None:
    """One of the caller's events (stopping) ends the wait quietly."""
    connection = await aio_pika.connect(amqp_url)
    stopping = asyncio.Event()
    try:
        channel = await connection.channel()
        with capture_logs() as logs:
            watching = asyncio.create_task(until_closed(connection, channel, stopping))
            stopping.set()
            closed = await asyncio.wait_for(watching, 10)
    finally:
        await connection.close()
    assert closed is None
    assert logs == []
