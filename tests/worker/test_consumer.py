"""The consumer's prefetch window, against the real broker: when it counts as a backlog."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import aio_pika.abc

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


@dataclass
class Rig:
    """A consumer with a window of two on the real broker, its held handler, and a way in."""

    consumer: Consumer
    handler: HeldHandler
    channel: aio_pika.abc.AbstractChannel
    topology: Topology

    async def enqueue(self, *bodies: bytes) -> None:
        """Publish each body to the work queue."""
        for body in bodies:
            await self.channel.default_exchange.publish(
                aio_pika.Message(body), self.topology.verify
            )

    async def taken(self, n: int) -> None:
        """Wait until the handler has taken ``n`` deliveries."""

        async def check() -> bool | None:
            return True if len(self.handler.taken) == n else None

        await eventually(check, 30, f"{n} deliveries taken")


@contextlib.asynccontextmanager
async def consuming(amqp_url: str, prefix: str, backlog_memory_s: float) -> AsyncIterator[Rig]:
    """A ready consumer of ``prefix``'s work queue (prefetch 2), stopped and deleted after."""
    topology = Topology(prefix)
    handler = HeldHandler()
    consumer = Consumer(
        amqp_url, topology, handler, WorkerMetrics(), prefetch=2, concurrency=2,
        backlog_memory_s=backlog_memory_s,
    )  # fmt: skip
    await consumer.start()
    connection = await aio_pika.connect(amqp_url)
    try:
        assert await consumer.wait_ready(30)
        yield Rig(consumer, handler, await connection.channel(), topology)
    finally:
        handler.release.set()
        await consumer.stop(5)
        await topology.delete(await connection.channel())
        await connection.close()


async def test_a_full_window_is_a_backlog(amqp_url: str, unique_prefix: str) -> None:
    """Every slot of the window holding a message not yet handled: backlogged; a free slot, or
    an empty queue once all are handled: not (here with no memory of a full window)."""
    async with consuming(amqp_url, unique_prefix, backlog_memory_s=0.0) as rig:
        consumer = rig.consumer
        assert not consumer.backlogged
        await rig.enqueue(b"1")
        await rig.taken(1)
        assert not consumer.backlogged  # one of two slots taken
        await rig.enqueue(b"2", b"3")
        await rig.taken(2)
        assert consumer.backlogged  # both slots taken, the third waiting in the queue
        rig.handler.release.set()

        async def drained() -> bool | None:
            return True if len(rig.handler.taken) == 3 and not consumer.backlogged else None

        await eventually(drained, 30, "all three handled, the window empty")


async def test_a_backlog_outlasts_the_dip_after_a_wave(amqp_url: str, unique_prefix: str) -> None:
    """Once the window was full, the worker counts as backlogged for the memory's length, even
    with free slots: the moment between a wave of acks and the broker's refill."""
    async with consuming(amqp_url, unique_prefix, backlog_memory_s=3600.0) as rig:
        consumer = rig.consumer
        assert not consumer.backlogged  # never full yet
        await rig.enqueue(b"1", b"2")
        await rig.taken(2)
        rig.handler.release.set()

        async def idle() -> bool | None:
            return True if consumer.handling == 0 else None

        await eventually(idle, 30, "both handled")
        assert consumer.backlogged  # every slot free, but the window was full a moment ago
