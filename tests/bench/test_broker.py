"""Tests of the benchmark's broker view on the real RabbitMQ: depth, settle, purge."""

from __future__ import annotations

import aio_pika
import pytest

from bench.receiver.broker import BenchBroker
from shared.amqp.topology import VERIFY_ROUTING_KEY, Topology

pytestmark = pytest.mark.broker


async def _publish(amqp_url: str, topology: Topology, n: int) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(topology.intake)
        for i in range(n):
            await exchange.publish(aio_pika.Message(f"{i}".encode()), VERIFY_ROUTING_KEY)
    finally:
        await connection.close()


async def test_depth_settle_and_purge(
    amqp_url: str, bench_topology: tuple[BenchBroker, Topology]
) -> None:
    """Published messages are counted in the work queue; purge empties it."""
    broker, topology = bench_topology
    await _publish(amqp_url, topology, 3)
    assert await broker.settle(topology.verify, 3) == 3
    await broker.purge(topology.verify)
    assert await broker.depth(topology.verify) == 0


async def test_settle_reports_a_shortfall(bench_topology: tuple[BenchBroker, Topology]) -> None:
    """When fewer messages arrive than expected, settle returns the real depth."""
    broker, topology = bench_topology
    assert await broker.settle(topology.verify, 5, within_s=3) == 0
