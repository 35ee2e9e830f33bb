"""The benchmark's wiring: stand-in, store, broker names, downstream queue, intake publisher.

:func:`open_rig` brings everything up under a fresh prefix and, on the way out, stops the
processes it started and deletes every queue and exchange it (or a worker) declared.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import aiohttp
from aio_pika.abc import AbstractRobustConnection

from bench.child import Child
from bench.cpu import BENCH, POSTGRES, RABBITMQ, STANDIN, SUBJECT, postgres_pids, rabbitmq_pid
from bench.worker import downstream
from bench.worker.children import WorkerLaunch, start_standin
from bench.worker.downstream import Collector
from bench.worker.seed import APPID, DATA_KEY, SECRET, Credential, Seeder
from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.store.base import open_store
from shared.vocabulary import Flow

CONFIRM_TIMEOUT_S = 60.0  # a burst's confirms queue behind quorum-queue fsyncs


@dataclass
class Rig:
    """Everything a phase needs besides the processes under test."""

    amqp_url: str
    topology: Topology
    workdir: Path
    standin: Child
    api_base: str
    seeder: Seeder
    publisher: Publisher
    collector: Collector
    database_url: str
    rabbitmq: int | None = field(default=None)
    subject: list[int] = field(default_factory=list)  # pids of the processes under test
    metrics: list[str] = field(default_factory=list)  # their /metrics URLs (workers only)
    seeded: int = 0

    def launch(
        self,
        prefetch: int,
        batch_linger_ms: float | None = None,
        backlog_linger_ms: float | None = None,
    ) -> WorkerLaunch:
        """How to start a worker against this rig (None: the worker's default linger)."""
        return WorkerLaunch(
            self.amqp_url, self.topology.prefix, self.database_url, self.api_base,
            APPID, SECRET, DATA_KEY, prefetch, batch_linger_ms, backlog_linger_ms,
        )  # fmt: skip

    def groups(self) -> Mapping[str, list[int]]:
        """The process groups whose CPU each phase reports."""
        groups = {
            SUBJECT: list(self.subject), STANDIN: [self.standin.pid],
            RABBITMQ: [self.rabbitmq] if self.rabbitmq else [], BENCH: [os.getpid()],
        }  # fmt: skip
        if self.database_url.startswith("postgresql"):
            groups[POSTGRES] = postgres_pids()  # the processes alive at the phase's start
        return groups

    async def seed(self, count: int, flow: Flow = Flow.LEGACY) -> list[Credential]:
        """``count`` fresh completed sessions of ``flow``."""
        tag = f"b{self.seeded:02d}{self.topology.prefix[-6:]}"
        self.seeded += 1
        return await self.seeder.seed(tag, count, flow)


@contextlib.asynccontextmanager
async def open_rig(
    amqp_url: str, workdir: Path, latency_ms: float, database_url: str
) -> AsyncIterator[Rig]:
    """A rig under a fresh prefix on an empty store; everything it declared is deleted after."""
    topology = Topology(f"wxbench-worker-{uuid.uuid4().hex[:8]}")
    standin, api_base = await start_standin(workdir, latency_ms)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(standin.stop)
        store = await open_store(database_url, DATA_KEY)
        stack.push_async_callback(store.close)
        connection = await aio_pika.connect_robust(amqp_url)
        stack.push_async_callback(connection.close)
        stack.push_async_callback(_delete_names, connection, topology)
        channel = await connection.channel()
        await topology.declare(channel)
        collector = Collector()
        consuming = await downstream.bind(connection, topology, collector)
        stack.push_async_callback(consuming.close)
        publisher = Publisher(amqp_url, topology, confirm_timeout_s=CONFIRM_TIMEOUT_S)
        await publisher.start()
        stack.push_async_callback(publisher.close)
        await publisher.wait_ready(30)
        http = await stack.enter_async_context(aiohttp.ClientSession())
        seeder = Seeder(http, api_base, store)
        stack.push_async_callback(seeder.close)
        yield Rig(
            amqp_url, topology, workdir, standin, api_base, seeder,
            publisher, collector, database_url, rabbitmq_pid(),
        )  # fmt: skip


async def _delete_names(connection: AbstractRobustConnection, topology: Topology) -> None:
    channel = await connection.channel()
    await channel.queue_delete(downstream.queue_name(topology))
    await topology.delete(channel)
    await channel.close()
