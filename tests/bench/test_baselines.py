"""Tests of baselines (b) and (c) on the real RabbitMQ: a push is verified, queued, answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bench.receiver import aio_baseline, flask_baseline
from bench.receiver.broker import BenchBroker
from bench.receiver.pushes import sign_pushes
from shared.amqp.topology import Topology

pytestmark = pytest.mark.broker

Client = TestClient[web.Request, web.Application]


async def test_aiohttp_baseline_queues_each_push(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    amqp_url: str,
    bench_topology: tuple[BenchBroker, Topology],
) -> None:
    """(b) answers success for two pushes and both are in the work queue; a forgery is 401."""
    broker, topology = bench_topology
    client = await aiohttp_client(aio_baseline.create_app(amqp_url, topology.prefix))
    pushes = sign_pushes(2, "ab")
    for push in pushes:
        async with client.post(push.target, data=push.body) as response:
            assert (response.status, await response.text()) == (200, "success")
    async with client.post(pushes[0].target, data=pushes[1].body) as response:
        assert response.status == 401
    assert await broker.settle(topology.verify, 2) == 2


async def test_flask_baseline_queues_each_push(
    amqp_url: str, bench_topology: tuple[BenchBroker, Topology]
) -> None:
    """(c) answers success for two pushes and both are in the work queue; a forgery is 401."""
    broker, topology = bench_topology
    app = flask_baseline.create_app(amqp_url, topology.prefix)
    client = app.test_client()
    pushes = sign_pushes(2, "fb")
    try:
        for push in pushes:
            response = client.post(push.target, data=push.body)
            assert (response.status_code, response.get_data()) == (200, b"success")
        assert client.post(pushes[0].target, data=pushes[1].body).status_code == 401
    finally:
        app.extensions[flask_baseline.EXTENSION].close()
    assert await broker.settle(topology.verify, 2) == 2
