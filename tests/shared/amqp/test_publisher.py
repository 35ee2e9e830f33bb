"""Tests of shared.amqp.publisher: confirmed, persistent, mandatory publishing that reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aio_pika
import pytest

from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.errors import PublishError
from shared.vocabulary import Flow
from shared.work import WorkItem
from tests.private_broker import PrivateBroker, free_port

pytestmark = pytest.mark.broker


def _item(n: int = 1) -> WorkItem:
    return WorkItem(
        kind="push",
        flow=Flow.LEGACY,
        appid="wx1234567890abcdef",
        out_seq_no=f"seq{n:05d}",
        verify_result=f"cred-{n}",
        received_at=1.0,
    )


@pytest.fixture
async def publisher(amqp_url: str, unique_prefix: str) -> AsyncIterator[Publisher]:
    """A connected publisher on a unique prefix; its topology is deleted afterwards."""
    latencies: list[float] = []
    pub = Publisher(
        amqp_url, Topology(unique_prefix), confirm_timeout_s=10, on_confirm=latencies.append
    )
    await pub.start()
    assert await pub.wait_ready(10)
    yield pub
    await pub.close()
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await pub.topology.delete(await connection.channel())


async def _drain(
    url: str, queue_name: str, expect: int
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    async with connection:
        queue = await (await connection.channel()).get_queue(queue_name)
        while len(got) < expect:
            message = await queue.get(timeout=5, fail=False)
            if message is None:
                break
            await message.ack()
            got.append(message)
    return got


async def test_publish_work_is_confirmed_persistent_and_identified(
    publisher: Publisher, amqp_url: str
) -> None:
    """A published work item arrives persistent, as JSON, with its deterministic message_id."""
    item = _item()
    await publisher.publish_work(item)
    [message] = await _drain(amqp_url, publisher.topology.verify, 1)
    assert WorkItem.decode(message.body) == item
    assert message.message_id == item.message_id()
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.content_type == "application/json"


async def test_concurrent_publishes_are_all_confirmed(publisher: Publisher, amqp_url: str) -> None:
    """Hundreds of concurrent publishes on one channel are each confirmed and each delivered."""
    await asyncio.gather(*(publisher.publish_work(_item(n)) for n in range(300)))
    got = await _drain(amqp_url, publisher.topology.verify, 300)
    assert len({m.message_id for m in got}) == 300


async def test_unroutable_message_is_an_error(publisher: Publisher) -> None:
    """A message no queue is bound for raises instead of being dropped silently."""
    with pytest.raises(PublishError):
        await publisher.publish(publisher.topology.intake, "nowhere", b"{}", "m-1")


async def test_publish_without_broker_fails_fast(unique_prefix: str) -> None:
    """While the broker is unreachable, publish raises at once rather than hanging."""
    pub = Publisher(f"amqp://guest:guest@127.0.0.1:{free_port()}/", Topology(unique_prefix))
    await pub.start()
    try:
        assert not await pub.wait_ready(0.3)
        with pytest.raises(PublishError, match="not connected"):
            await pub.publish_work(_item())
    finally:
        await pub.close()


@pytest.mark.slow
async def test_reconnects_after_broker_restart(
    private_broker: PrivateBroker, unique_prefix: str
) -> None:
    """After the broker's app stops and starts again, the publisher reconnects on its own."""
    pub = Publisher(private_broker.url, Topology(unique_prefix), max_backoff_s=0.5)
    await pub.start()
    try:
        assert await pub.wait_ready(10)
        try:
            await asyncio.to_thread(private_broker.stop_app)
            with pytest.raises(PublishError):
                await pub.publish_work(_item())
        finally:
            await asyncio.to_thread(private_broker.start_app)
        assert await pub.wait_ready(20)
        await pub.publish_work(_item(2))
    finally:
        await pub.close()


async def test_one_unroutable_message_fails_only_itself(publisher: Publisher) -> None:
    """In a batch of concurrent publishes, only the unroutable one raises; the rest confirm."""
    topology = publisher.topology
    calls = [publisher.publish_work(_item(n)) for n in range(20)]
    calls.insert(10, publisher.publish(topology.intake, "nowhere", b"{}", "m-unroutable"))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[10], PublishError)
    assert all(r is None for i, r in enumerate(results) if i != 10)


async def test_nacked_messages_raise_and_the_accepted_ones_confirm(
    publisher: Publisher, amqp_url: str, unique_prefix: str
) -> None:
    """A broker nack (a full queue rejecting publishes) fails exactly the refused messages."""
    exchange, queue = f"{unique_prefix}.nack-x", f"{unique_prefix}.nack-q"
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        x = await channel.declare_exchange(exchange, aio_pika.ExchangeType.DIRECT)
        q = await channel.declare_queue(
            queue, arguments={"x-max-length": 3, "x-overflow": "reject-publish"}
        )
        await q.bind(x, "k")
        try:
            calls = [publisher.publish(exchange, "k", b"{}", f"m-{n}") for n in range(10)]
            results = await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await q.delete(if_unused=False, if_empty=False)
            await x.delete()
    assert sum(r is None for r in results) == 3
    assert all(isinstance(r, PublishError) for r in results if r is not None)


async def test_confirm_not_in_time_is_an_error(amqp_url: str, unique_prefix: str) -> None:
    """A publish whose confirm does not arrive within the confirm timeout raises PublishError."""
    pub = Publisher(amqp_url, Topology(unique_prefix), confirm_timeout_s=1e-6)
    await pub.start()
    try:
        assert await pub.wait_ready(10)
        with pytest.raises(PublishError, match="TimeoutError"):
            await pub.publish_work(_item())
    finally:
        await pub.close()
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await pub.topology.delete(await connection.channel())
