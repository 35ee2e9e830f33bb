"""Tests of shared.amqp.topology: names, arguments and idempotent declaration on RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel

from shared.amqp.topology import VERIFY_ROUTING_KEY, Topology


@pytest.fixture
async def channel(amqp_url: str) -> AsyncIterator[AbstractChannel]:
    """A channel on the shared broker, closed afterwards."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield await connection.channel()


def test_names_follow_the_prefix() -> None:
    """Every exchange and queue name starts with the prefix and has the documented role."""
    topo = Topology("acme")
    names = [e.name for e in topo.exchange_specs()] + [q.name for q in topo.queue_specs()]
    assert all(n.startswith("acme.") for n in names)
    assert (topo.intake, topo.verify, topo.dlx, topo.dead, topo.identity) == (
        "acme.intake",
        "acme.verify",
        "acme.dlx",
        "acme.dead",
        "acme.identity",
    )
    assert topo.retry_queue(5) == "acme.retry.5s"


def test_work_queues_are_quorum_with_limit_and_dead_letters() -> None:
    """The verify queue is a quorum queue with a delivery limit and at-least-once dead-lettering."""
    topo = Topology("acme", delivery_limit=7)
    verify = next(q for q in topo.queue_specs() if q.name == topo.verify)
    assert verify.arguments["x-queue-type"] == "quorum"
    assert verify.arguments["x-delivery-limit"] == 7
    assert verify.arguments["x-dead-letter-exchange"] == "acme.dlx"
    assert verify.arguments["x-dead-letter-strategy"] == "at-least-once"
    assert verify.arguments["x-overflow"] == "reject-publish"
    assert verify.bindings == (("acme.intake", VERIFY_ROUTING_KEY),)


def test_retry_tiers_expire_back_into_the_intake() -> None:
    """Each retry tier has a fixed TTL and dead-letters to the intake with the verify key."""
    topo = Topology("acme", retry_tiers_s=(2, 30))
    tiers = {q.name: q.arguments for q in topo.queue_specs() if ".retry." in q.name}
    assert set(tiers) == {"acme.retry.2s", "acme.retry.30s"}
    assert tiers["acme.retry.30s"]["x-message-ttl"] == 30_000
    assert tiers["acme.retry.2s"]["x-dead-letter-exchange"] == "acme.intake"
    assert tiers["acme.retry.2s"]["x-dead-letter-routing-key"] == VERIFY_ROUTING_KEY
    with pytest.raises(ValueError, match="no retry tier"):
        topo.retry_queue(3)


@pytest.mark.broker
async def test_declare_is_idempotent_and_routes(
    channel: AbstractChannel, unique_prefix: str
) -> None:
    """Declaring twice succeeds, and a message to the intake lands in the verify queue."""
    topo = Topology(unique_prefix)
    try:
        await topo.declare(channel)
        await topo.declare(channel)
        intake = await channel.get_exchange(topo.intake)
        await intake.publish(aio_pika.Message(b"{}"), routing_key=VERIFY_ROUTING_KEY)
        queue = await channel.get_queue(topo.verify)
        message = await queue.get(timeout=5)
        assert message.body == b"{}"
        await message.ack()
    finally:
        await topo.delete(channel)


@pytest.mark.broker
async def test_retry_tier_expires_into_the_verify_queue(
    channel: AbstractChannel, unique_prefix: str
) -> None:
    """A message in a 1 s retry tier reappears in the verify queue after its TTL."""
    topo = Topology(unique_prefix, retry_tiers_s=(1,))
    try:
        await topo.declare(channel)
        await channel.default_exchange.publish(
            aio_pika.Message(b"retry-me"), routing_key=topo.retry_queue(1)
        )
        queue = await channel.get_queue(topo.verify)
        async with queue.iterator(timeout=10) as messages:
            async for message in messages:
                assert message.body == b"retry-me"
                await message.ack()
                break
    finally:
        await topo.delete(channel)
