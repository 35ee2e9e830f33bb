"""Fixtures for the benchmark's tests: a bench broker view on a unique, deleted topology."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bench.receiver.broker import BenchBroker
from shared.amqp.topology import Topology


@pytest.fixture
async def bench_topology(
    amqp_url: str, unique_prefix: str
) -> AsyncIterator[tuple[BenchBroker, Topology]]:
    """A declared wxface topology under this test's prefix, deleted afterwards."""
    broker, connection = await BenchBroker.connect(amqp_url)
    topology = Topology(unique_prefix)
    await broker.declare(topology)
    try:
        yield broker, topology
    finally:
        await broker.delete(topology)
        await connection.close()
