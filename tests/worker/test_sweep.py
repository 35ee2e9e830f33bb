"""The expiry sweep on the real broker and both stores: published once, and again after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.store import NewSession, Store
from shared.vocabulary import Flow, Outcome, Reason
from tests.polling import eventually
from tests.shared.store import conftest as store_fixtures
from tests.worker.fakes import FakePublisher, Published
from worker.metrics import WorkerMetrics
from worker.outcome import OutcomeEvent
from worker.ports import EventPublisher
from worker.sweep import LEASE_S, Sweeper, Swept

pytestmark = pytest.mark.broker

APPID = "wx-sweep-test"
INTERVAL_S = 0.2

# the store suite's throw-away databases: every test here runs on SQLite and on PostgreSQL
backend = store_fixtures.backend
make_database = store_fixtures.make_database
database = store_fixtures.database
store = store_fixtures.store


@dataclass(frozen=True)
class Delivered:
    """One message as a downstream queue received it."""

    message_id: str | None
    routing_key: str | None
    body: bytes


@dataclass
class Downstream:
    """The broker side of a test: a confirmed publisher and a queue on ``identity.#``."""

    publisher: Publisher
    queue: asyncio.Queue[Delivered] = field(default_factory=asyncio.Queue)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Record and ack one message."""
        await self.queue.put(Delivered(message.message_id, message.routing_key, message.body))
        await message.ack()

    async def next(self) -> Delivered:
        """The next message (fails after 10 s)."""
        return await asyncio.wait_for(self.queue.get(), 10)


@pytest.fixture
async def downstream(amqp_url: str, unique_prefix: str) -> AsyncIterator[Downstream]:
    """A publisher on the test's own prefix and a queue bound to its identity exchange."""
    topology = Topology(unique_prefix)
    publisher = Publisher(amqp_url, topology)
    await publisher.start()
    connection = await aio_pika.connect(amqp_url)
    try:
        assert await publisher.wait_ready(30)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(topology.identity, "topic", durable=True)
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, "identity.#")
        result = Downstream(publisher)
        await queue.consume(result.on_message)
        yield result
    finally:
        await publisher.close()
        await topology.delete(await connection.channel())
        await connection.close()


def sweeper(
    store: Store,
    publisher: EventPublisher,
    topology: Topology,
    *,
    ahead_s: float = 0.0,
    metrics: WorkerMetrics | None = None,
) -> Sweeper:
    """A sweeper (a worker of its own) whose clock runs ``ahead_s`` ahead of real time."""
    return Sweeper(
        appid=APPID, topology=topology, store=store, publisher=publisher,
        metrics=metrics or WorkerMetrics(), decided_by=f"sweeper-{uuid.uuid4().hex[:6]}",
        interval_s=INTERVAL_S, batch=10, clock=lambda: time.time() + ahead_s,
    )  # fmt: skip


async def overdue(store: Store, flow: Flow = Flow.LEGACY) -> str:
    """A session past its expiry; its out_seq_no."""
    out_seq_no = "seq-" + uuid.uuid4().hex[:12]
    await store.create_session(
        NewSession(out_seq_no=out_seq_no, flow=flow, openid="o-sweep",
                   expires_at=datetime.now(UTC) - timedelta(seconds=60))
    )  # fmt: skip
    return out_seq_no


def republished(metrics: WorkerMetrics) -> float | None:
    """The expiries-republished counter."""
    return metrics.registry.get_sample_value("wxface_worker_expiries_republished_total")


async def unpublished(store: Store) -> list[str]:
    """The message_ids left in the outbox, whatever their lease (this takes them)."""
    far = datetime.now(UTC) + timedelta(days=1)
    return [e.message_id for e in await store.take_unpublished_expiries(far, far, 100)]


async def first_attempt(publisher: FakePublisher) -> Published:
    """The first publish the fake was asked for."""

    async def attempted() -> Published | None:
        return publisher.attempted[0] if publisher.attempted else None

    return await eventually(attempted, 10, "a publish attempt")


async def crash_after_claim(
    store: Store, topology: Topology, how: str
) -> tuple[Sweeper, Published]:
    """A sweeper claims, then dies (``cancelled``) or stops (``stopped``) before any confirm."""
    unconfirmed = FakePublisher(failures=1_000_000)
    crashing = sweeper(store, unconfirmed, topology)
    if how == "cancelled":
        task = asyncio.create_task(crashing.sweep_once())
        attempt = await first_attempt(unconfirmed)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    else:
        await crashing.start()
        attempt = await first_attempt(unconfirmed)
        await crashing.stop()
    return crashing, attempt


async def test_a_sweep_publishes_each_expiry_once_and_marks_it_published(
    store: Store, downstream: Downstream
) -> None:
    """A normal sweep publishes the stored decision once; later sweeps republish nothing."""
    topology = downstream.publisher.topology
    out_seq_no = await overdue(store, Flow.V2)
    metrics = WorkerMetrics()
    first = sweeper(store, downstream.publisher, topology, metrics=metrics)
    assert await first.sweep_once() == Swept(republished=0, expired=1)
    got = await downstream.next()
    event = OutcomeEvent.decode(got.body)
    [logged] = await store.decisions_for(out_seq_no)
    assert (got.message_id, got.routing_key) == (first.message_id(out_seq_no), "identity.expired")
    assert (event.message_id, event.out_seq_no, event.flow) == (got.message_id, out_seq_no, Flow.V2)
    assert (event.outcome, event.reason, event.time) == (
        Outcome.EXPIRED,
        Reason.SESSION_EXPIRED,
        logged.decided_at,
    )
    assert await unpublished(store) == []
    later = sweeper(store, downstream.publisher, topology, ahead_s=LEASE_S * 3, metrics=metrics)
    assert await later.sweep_once() == Swept(republished=0, expired=0)
    marker = await overdue(store)
    assert await later.sweep_once() == Swept(republished=0, expired=1)
    # one channel, one queue: a second copy of the first event would have come before this one
    assert (await downstream.next()).message_id == later.message_id(marker)
    assert republished(metrics) == 0


@pytest.mark.parametrize("how", ["cancelled", "stopped"])
async def test_an_expiry_lost_between_claim_and_confirm_is_published_by_another_sweeper(
    store: Store, downstream: Downstream, how: str
) -> None:
    """After a crash between claim and confirm, one later sweeper sends the same event exactly."""
    topology = downstream.publisher.topology
    out_seq_no = await overdue(store)
    crashed, attempt = await crash_after_claim(store, topology, how)
    assert attempt.message_id == crashed.message_id(out_seq_no)
    assert downstream.queue.empty()
    too_soon = sweeper(store, downstream.publisher, topology)
    assert await too_soon.sweep_once() == Swept(republished=0, expired=0)  # still leased
    metrics = [WorkerMetrics(), WorkerMetrics()]
    rescuers = [
        sweeper(store, downstream.publisher, topology, ahead_s=LEASE_S + 1, metrics=m)
        for m in metrics
    ]
    swept = await asyncio.gather(*(r.sweep_once() for r in rescuers))
    assert sorted(s.republished for s in swept) == [0, 1]  # the lease: one of them took it
    got = await downstream.next()
    assert (got.message_id, got.routing_key, got.body) == (
        attempt.message_id,
        attempt.routing_key,
        attempt.body,
    )
    assert sorted(republished(m) or 0.0 for m in metrics) == [0, 1]
    assert await unpublished(store) == []
    marker = await overdue(store)
    final = sweeper(store, downstream.publisher, topology, ahead_s=LEASE_S * 3)
    assert await final.sweep_once() == Swept(republished=0, expired=1)
    assert (await downstream.next()).message_id == final.message_id(marker)
