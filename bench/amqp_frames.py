"""``python -m bench amqp_frames``: CPU per message through aiormq's frame receiver and wxface's.

Against the real RabbitMQ (``--amqp-url``), in this process, for ``--rounds`` alternating rounds
on uvloop, with each receiver in turn (:class:`shared.amqp.frames.FrameReader`, or aiormq's own):
1. publish ``--messages`` persistent JSON messages (content type, delivery mode and message id,
   as wxface's publishers send them) to a queue of the run's own, ``--window`` unconfirmed at a
   time: the receiver reads a ``basic.ack`` per message;
2. consume them with a prefetch of ``--window``, acking every 16th with ``multiple``: the
   receiver reads a ``basic.deliver``, a content header and a body per message.
Each phase prints this process's CPU µs per message. Both receivers run the same aiormq
channel code above them, so the difference is the receiver's.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import aiormq
import aiormq.connection
import uvloop
from aiormq.abc import DeliveredMessage
from pamqp.commands import Basic

from shared.amqp.frames import CONTENT_TYPE, PERSISTENT, FrameReader

RECEIVERS: dict[str, type[aiormq.connection.FrameReceiver]] = {
    "aiormq": aiormq.connection.FrameReceiver,
    "wxface": FrameReader,
}
ACK_EVERY = 16
BODY = b'{"appid": "wx0000000000000000", "out_seq_no": "%032d", "verify_result": "%s"}'


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench amqp_frames", description=__doc__)
    p.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    p.add_argument("--messages", type=int, default=20000, help="per phase and round")
    p.add_argument("--window", type=int, default=64, help="unconfirmed publishes; prefetch")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if min(args.messages, args.window, args.rounds) < 1:
        p.error("--messages, --window and --rounds must be at least 1")
    return args


def main(argv: list[str]) -> int:
    """Entry point."""
    return uvloop.run(run(parse_args(argv)))


async def run(args: argparse.Namespace) -> int:
    """Alternate the receivers; print CPU µs per message of each phase and round."""
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in RECEIVERS}
    for round_ in range(1, args.rounds + 1):
        for name, receiver in RECEIVERS.items():
            publish_us, consume_us = await _round(args, receiver)
            totals[name][0] += publish_us
            totals[name][1] += consume_us
            print(
                f"round {round_}: {name:7} publish {publish_us:5.1f} µs, "
                f"consume {consume_us:5.1f} µs CPU per message",
                flush=True,
            )
    (pub_a, con_a), (pub_w, con_w) = totals["aiormq"], totals["wxface"]
    print(f"wxface / aiormq, all rounds: publish {pub_w / pub_a:.2f}, consume {con_w / con_a:.2f}")
    return 0


async def _round(
    args: argparse.Namespace, receiver: type[aiormq.connection.FrameReceiver]
) -> tuple[float, float]:
    installed = aiormq.connection.FrameReceiver
    aiormq.connection.FrameReceiver = receiver  # type: ignore[misc]  # read by connect()
    try:
        connection = await aiormq.connect(args.amqp_url)
    finally:
        aiormq.connection.FrameReceiver = installed  # type: ignore[misc]
    try:
        channel = await connection.channel(publisher_confirms=True)
        name = f"wxbench-frames-{uuid.uuid4().hex[:8]}"
        declared = await channel.queue_declare(name, exclusive=True)
        queue = declared.queue
        assert queue is not None, "the broker names the queue"
        publish_us = await _publish(channel, queue, args.messages, args.window)
        consume_us = await _consume(channel, queue, args.messages, args.window)
        await channel.queue_delete(queue)
    finally:
        await connection.close()
    return publish_us, consume_us


async def _publish(channel: aiormq.abc.AbstractChannel, queue: str, n: int, window: int) -> float:
    slots = asyncio.Semaphore(window)

    async def one(i: int) -> None:
        async with slots:
            properties = Basic.Properties(
                content_type=CONTENT_TYPE, delivery_mode=PERSISTENT, message_id=uuid.uuid4().hex
            )
            body = BODY % (i, b"v" * 40)
            confirm = await channel.basic_publish(body, routing_key=queue, properties=properties)
            assert isinstance(confirm, Basic.Ack), confirm

    started = time.process_time()
    await asyncio.gather(*(one(i) for i in range(n)))
    return (time.process_time() - started) / n * 1e6


async def _consume(channel: aiormq.abc.AbstractChannel, queue: str, n: int, window: int) -> float:
    await channel.basic_qos(prefetch_count=window)
    received = 0
    done = asyncio.get_running_loop().create_future()

    async def on_message(message: DeliveredMessage) -> None:
        nonlocal received
        received += 1
        tag = message.delivery_tag
        assert tag is not None, "a consumed message has a tag"
        if received % ACK_EVERY == 0 or received == n:
            await channel.basic_ack(tag, multiple=True)
        if received == n and not done.done():
            done.set_result(None)

    started = time.process_time()
    ok = await channel.basic_consume(queue, on_message)
    await asyncio.wait_for(done, 120)
    cpu = time.process_time() - started
    assert ok.consumer_tag is not None, "ConsumeOk names the consumer"
    await channel.basic_cancel(ok.consumer_tag)
    return cpu / n * 1e6
