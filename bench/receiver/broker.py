"""The benchmark's own view of RabbitMQ: declare and delete a variant's names, count its queue.

Every variant publishes into the same wxface topology (``Topology(prefix)``: a quorum work queue
with at-least-once dead-lettering), each under a prefix of its own that is deleted afterwards.
A phase counts only if the work queue holds exactly as many messages as it got ``success``.
"""

from __future__ import annotations

import asyncio
import time

import aio_pika
from aio_pika.abc import AbstractChannel

from shared.amqp.topology import Topology


class BenchBroker:
    """One connection and channel for the runner's bookkeeping (not for the load)."""

    def __init__(self, channel: AbstractChannel) -> None:
        self._channel = channel

    @classmethod
    async def connect(cls, url: str) -> tuple[BenchBroker, aio_pika.abc.AbstractConnection]:
        """A broker view and the connection to close when done."""
        connection = await aio_pika.connect(url)
        return cls(await connection.channel()), connection

    async def declare(self, topology: Topology) -> None:
        """Declare the variant's exchanges, queues and bindings."""
        await topology.declare(self._channel)

    async def delete(self, topology: Topology) -> None:
        """Delete everything ``declare`` created."""
        await topology.delete(self._channel)

    async def depth(self, queue: str) -> int:
        """Messages ready in ``queue``."""
        declared = await self._channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count
        return int(count or 0)

    async def purge(self, queue: str) -> None:
        """Drop every message in ``queue``."""
        declared = await self._channel.declare_queue(queue, passive=True)
        await declared.purge()

    async def settle(self, queue: str, expected: int, within_s: float = 10.0) -> int:
        """The depth of ``queue`` once it equals ``expected`` or stopped changing for 2.5 s."""
        deadline = time.monotonic() + within_s
        depth, stable_since = await self.depth(queue), time.monotonic()
        while depth != expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # polling a count: nothing to wait on
            now = await self.depth(queue)
            if now != depth:
                depth, stable_since = now, time.monotonic()
            elif time.monotonic() - stable_since > 2.5:  # longer than a spool relay rescan
                break
        return depth
