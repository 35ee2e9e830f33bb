"""The consumer's prefetch window, against the real broker: when it counts as a backlog."""

from __future__ import annotations

import asyncio

import aio_pika

from shared.amqp.topology import Topology
from tests.polling import eventually
from worker.consumer import Consumer
from worker.handler import Delivery, Disposition
from worker.metrics import WorkerMetrics


class HeldHandler:
    """Takes each delivery and holds it until released."""

    def __init__(self) -> None:
        self.taken: list[bytes] = []
        self.release = asyncio.Event()

    async def handle(self, delivery: Delivery) -> Disposition:
        """Count the delivery, wait for the release, decide."""
        self.taken.append(delivery.body)
        await self.release.wait()
        return Disposition.DECIDED


async def test_a_full_window_is_a_backlog(amqp_url: str, unique_prefix: str) -> None:
    """Every slot of the window holding a message not yet handled: backlogged; a free slot, or
    an empty queue once all are handled: not (here with no memory of a full window)."""
    topology = Topology(unique_prefix)
    handler = HeldHandler()
    consumer = Consumer(
        amqp_url, topology, handler, WorkerMetrics(), prefetch=2, concurrency=2,
        backlog_memory_s=0.0,
    )  # fmt: skip
    await consumer.start()
    connection = await aio_pika.connect(amqp_url)
    try:
        assert await consumer.wait_ready(30)
        channel = await connection.channel()

        async def enqueue(body: bytes) -> None:
            await channel.default_exchange.publish(aio_pika.Message(body), topology.verify)

        async def taken(n: int) -> bool | None:
            return True if len(handler.taken) == n else None

        assert not consumer.backlogged
        await enqueue(b"1")
        await eventually(lambda: taken(1), 30, "the first delivery")
        assert not consumer.backlogged  # one of two slots taken
        await enqueue(b"2")
        await enqueue(b"3")
        await eventually(lambda: taken(2), 30, "the second delivery")
        assert consumer.backlogged  # both slots taken, the third waiting in the queue
        handler.release.set()

        async def drained() -> bool | None:
            return True if len(handler.taken) == 3 and not consumer.backlogged else None

        await eventually(drained, 30, "all three handled, the window empty")
    finally:
        handler.release.set()
        await consumer.stop(5)
        await topology.delete(await connection.channel())
        await connection.close()


async def test_a_backlog_outlasts_the_dip_after_a_wave(amqp_url: str, unique_prefix: str) -> None:
    """Once the window was full, the worker counts as backlogged for the memory's length, even
    with free slots: the moment between a wave of acks and the broker's refill."""
    topology = Topology(unique_prefix)
    handler = HeldHandler()
    consumer = Consumer(
        amqp_url, topology, handler, WorkerMetrics(), prefetch=2, concurrency=2,
        backlog_memory_s=3600.0,
    )  # fmt: skip
    await consumer.start()
    connection = await aio_pika.connect(amqp_url)
    try:
        assert await consumer.wait_ready(30)
        assert not consumer.backlogged  # never full yet
        channel = await connection.channel()
        for body in (b"1", b"2"):
            await channel.default_exchange.publish(aio_pika.Message(body), topology.verify)

        async def taken_both() -> bool | None:
            return True if len(handler.taken) == 2 else None

        async def idle_after_full() -> bool | None:
            return True if consumer.handling == 0 else None

        await eventually(taken_both, 30, "both slots taken")
        handler.release.set()
        await eventually(idle_after_full, 30, "both handled")
        assert consumer.backlogged  # every slot free, but the window was full a moment ago
    finally:
        handler.release.set()
        await consumer.stop(5)
        await topology.delete(await connection.channel())
        await connection.close()
