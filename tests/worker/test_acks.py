"""Tests of the ack window and sender: batched acks that never cover an unhandled or unknown
delivery, and reach the broker in the order they were decided."""

from __future__ import annotations

import asyncio
import random
from typing import cast

import aiormq
from aiormq.abc import ChannelFrame, DeliveredMessage
from hypothesis import given, settings
from hypothesis import strategies as st
from pamqp import frame
from pamqp.commands import Basic

from worker.acks import AckFrames, AckSender, AckWindow


def test_in_order_settlements_ack_up_to_each() -> None:
    """Settling the front delivery acks it with multiple=True."""
    window = AckWindow()
    assert window.settle(1, acked=True) == AckFrames(upto=1)
    assert window.settle(2, acked=True) == AckFrames(upto=2)


def test_a_gap_holds_later_acks_until_it_closes() -> None:
    """A later delivery is not acked while an earlier one is still being handled."""
    window = AckWindow()
    assert window.settle(3, acked=True) == AckFrames()
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(1, acked=True) == AckFrames(upto=3)


def test_multiple_ack_never_names_a_nacked_tag() -> None:
    """A nacked delivery is passed over; the ack names the highest acked tag."""
    window = AckWindow()
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(3, acked=False) == AckFrames()
    assert window.settle(1, acked=True) == AckFrames(upto=2)
    assert window.settle(4, acked=False) == AckFrames()


def test_a_slow_front_does_not_hold_the_whole_window() -> None:
    """Beyond max_held settled deliveries behind a slow one, they are acked one by one."""
    window = AckWindow(max_held=2)
    assert window.settle(2, acked=True) == AckFrames()
    assert window.settle(3, acked=True) == AckFrames()
    assert window.settle(4, acked=True) == AckFrames(singles=(2, 3, 4))
    assert window.settle(1, acked=True) == AckFrames(upto=1)
    assert window.settle(5, acked=True) == AckFrames(upto=5)


@given(
    order=st.permutations(range(1, 41)),
    nacked=st.sets(st.integers(min_value=1, max_value=40)),
    max_held=st.integers(min_value=1, max_value=8),
)
def test_every_delivery_is_settled_exactly_once_at_the_broker(
    order: list[int], nacked: set[int], max_held: int
) -> None:
    """Played against a model broker: no ack for an unknown or unhandled tag, none left over."""
    window, outstanding, handled = AckWindow(max_held), set(range(1, 41)), set()
    for tag in order:
        handled.add(tag)
        if tag in nacked:
            outstanding.remove(tag)  # the nack frame goes out first
        frames = window.settle(tag, acked=tag not in nacked)
        for single in frames.singles:
            assert single in outstanding
            assert single in handled
            outstanding.remove(single)
        if frames.upto is not None:
            assert frames.upto in outstanding
            covered = {t for t in outstanding if t <= frames.upto}
            assert covered <= handled
            outstanding -= covered
    assert outstanding == set()


class _SlowWire:
    """The parts of an aiormq channel AckSender writes to, read by a model broker.

    The write queue holds ten frames, as aiormq's does, and the broker reads it at its own
    pace, so that writers have to wait for room: the situation in which frames written by
    several tasks could overtake each other.
    """

    number = 1

    def __init__(self, delivered: int, rng: random.Random) -> None:
        self.write_queue: asyncio.Queue[ChannelFrame] = asyncio.Queue(maxsize=10)
        self.is_closed = False
        self.outstanding = set(range(1, delivered + 1))
        self.errors: list[str] = []
        self._rng = rng

    async def read(self) -> None:
        """Settle each frame as RabbitMQ does; record what RabbitMQ would close the channel for."""
        while True:
            wire = (await self.write_queue.get()).payload
            while wire:
                used, _, method = frame.unmarshal(wire)
                wire = wire[used:]
                self._settle(method)
            self.write_queue.task_done()
            for _ in range(self._rng.randint(0, 3)):
                await asyncio.sleep(0)  # a socket that falls behind now and then

    def _settle(self, method: object) -> None:
        assert isinstance(method, Basic.Ack | Basic.Nack)
        tag = method.delivery_tag
        if tag not in self.outstanding:
            self.errors.append(f"unknown delivery tag {tag}")
        elif method.multiple:
            self.outstanding -= {t for t in self.outstanding if t <= tag}
        else:
            self.outstanding.discard(tag)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), max_held=st.integers(1, 8))
def test_frames_keep_their_order_on_a_slow_wire(seed: int, max_held: int) -> None:
    """Many settlements per loop turn, a write queue that is often full: every frame names an
    outstanding tag, and each delivery is settled at the broker exactly once."""
    rng = random.Random(seed)
    tags = list(range(1, 201))
    rng.shuffle(tags)
    tags.sort(key=lambda t: t + rng.randint(0, 30))  # roughly in order, as handlers finish

    async def run() -> _SlowWire:
        wire = _SlowWire(len(tags), rng)
        reader = asyncio.create_task(wire.read())
        sender = AckSender(cast(aiormq.Channel, wire), max_held)
        for tag in tags:
            if rng.random() < 0.05:
                sender.nack(tag)
            else:
                sender.ack(tag)
            if rng.random() < 0.3:
                await asyncio.sleep(0)  # the next handlers finish in a later loop turn
        await sender.drain()
        await wire.write_queue.join()
        reader.cancel()
        return wire

    wire = asyncio.run(run())
    assert wire.errors == []
    assert wire.outstanding == set()


async def test_the_sender_s_frames_settle_every_delivery_at_rabbitmq(
    amqp_url: str, unique_prefix: str
) -> None:
    """Against the real broker: 300 deliveries settled in a shuffled order with a few nacks
    (requeued, then acked on redelivery) leave the channel open and the queue empty."""
    rng = random.Random(7)
    connection = await aiormq.connect(amqp_url)
    queue = f"{unique_prefix}.acks"
    try:
        channel = await connection.channel()
        await channel.queue_declare(queue, auto_delete=False)
        for i in range(300):
            await channel.basic_publish(str(i).encode(), routing_key=queue)
        await channel.basic_qos(prefetch_count=400)
        sender = AckSender(cast(aiormq.Channel, channel), max_held=8)
        deliveries: asyncio.Queue[DeliveredMessage] = asyncio.Queue()

        async def collect(message: DeliveredMessage) -> None:
            deliveries.put_nowait(message)

        await channel.basic_consume(queue, collect)
        first = [await asyncio.wait_for(deliveries.get(), 10) for _ in range(300)]
        rng.shuffle(first)
        nacked = 0
        for message in first:
            assert message.delivery_tag is not None
            if rng.random() < 0.05:
                sender.nack(message.delivery_tag)
                nacked += 1
            else:
                sender.ack(message.delivery_tag)
            if rng.random() < 0.2:
                await asyncio.sleep(0)  # a yield, not a wait: the rest in a later loop turn
        for _ in range(nacked):
            again = await asyncio.wait_for(deliveries.get(), 10)
            assert again.redelivered
            assert again.delivery_tag is not None
            sender.ack(again.delivery_tag)
        await sender.drain()
        # a round trip on the same channel: the broker answers it only after the acks before
        # it, and an ack it refused would have closed the channel (raising here)
        await channel.basic_qos(prefetch_count=400)
        assert not channel.is_closed
        await channel.close()
        probe = await connection.channel()
        declared = await probe.queue_declare(queue, passive=True)
        assert declared.message_count == 0  # nothing was left unacked and handed back
        await probe.queue_delete(queue)
    finally:
        await connection.close()
