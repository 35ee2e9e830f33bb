"""Fixtures of the worker tests: the WeChat stand-in, the end-to-end wiring, a running worker."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import aiohttp
import pytest
from aio_pika.abc import AbstractChannel
from aiohttp.test_utils import TestServer

from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.settings import WorkerSettings
from shared.store.base import open_store
from shared.wechat.client import WechatClient
from standin.app import create_standin_app
from standin.config import StandinConfig
from tests.worker.rig import (
    APPID,
    DATA_KEY,
    E2E,
    SECRET,
    Downstream,
    bind_downstream,
    downstream_queue,
    standin_parts,
)
from worker.service import WorkerService

ServerFactory = Callable[[aiohttp.web.Application], Awaitable[TestServer]]


def api_base(server: TestServer) -> str:
    """The stand-in's base URL."""
    return str(server.make_url("")).rstrip("/")


def worker_settings(
    amqp_url: str, prefix: str, db: Path, base: str, **extra: Any
) -> WorkerSettings:
    """Settings of an in-process test worker (health port chosen by the OS)."""
    values: dict[str, Any] = {
        "appid": APPID, "appsecret": SECRET, "data_key": DATA_KEY, "amqp_url": amqp_url,
        "amqp_prefix": prefix, "database_url": f"sqlite:///{db}", "wechat_api_base": base,
        "worker_http_port": 0, "worker_sweep_interval_s": 0.2, "worker_prefetch": 16,
        "worker_concurrency": 16, "shutdown_timeout_s": 5.0, "worker_infra_patience_s": 5.0,
    }  # fmt: skip
    values.update(extra)
    return WorkerSettings(**values)


@contextlib.asynccontextmanager
async def wiring(amqp_url: str, prefix: str, db: Path, server: TestServer) -> AsyncIterator[E2E]:
    """Store, intake publisher, downstream queue and registration client; removed afterwards."""
    topology = Topology(prefix)
    store = await open_store(f"sqlite:///{db}", DATA_KEY)
    intake = Publisher(amqp_url, topology)
    await intake.start()
    connection = await aio_pika.connect_robust(amqp_url)
    consuming: AbstractChannel | None = None
    wechat = WechatClient(api_base(server), APPID, SECRET)
    try:
        assert await intake.wait_ready(30)
        downstream = Downstream()
        consuming = await bind_downstream(connection, topology, downstream)
        state, face = standin_parts(server.app)
        yield E2E(topology, store, state, face, wechat, intake, downstream)
    finally:
        if consuming is not None:
            await consuming.close()
        await intake.close()
        await wechat.close()
        channel = await connection.channel()
        await channel.queue_delete(downstream_queue(topology))
        await topology.delete(channel)
        await connection.close()
        await store.close()


@pytest.fixture
async def standin_server(aiohttp_server: ServerFactory) -> TestServer:
    """The WeChat stand-in on a local port."""
    return await aiohttp_server(create_standin_app(StandinConfig(appid=APPID, secret=SECRET)))


@pytest.fixture
async def e2e(
    amqp_url: str, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> AsyncIterator[E2E]:
    """A running in-process worker service, inside the wiring (stopped before it is removed)."""
    db = tmp_path / "wx.db"
    async with wiring(amqp_url, unique_prefix, db, standin_server) as e:
        settings = worker_settings(amqp_url, unique_prefix, db, api_base(standin_server))
        worker = WorkerService(settings)
        await worker.start()
        try:
            assert await worker.wait_ready(30)
            yield dataclasses.replace(e, health_port=worker.http_port)
        finally:
            await worker.stop()
