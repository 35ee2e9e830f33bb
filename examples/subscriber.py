"""A downstream subscriber of wxface identity events: bind, consume, de-duplicate, ack.

Run it next to a wxface deployment::

    python examples/subscriber.py --prefix wxface --queue my-service.identity

It declares its own durable quorum queue bound to the ``{prefix}.identity`` topic exchange
(routing key ``identity.#`` by default), prints one line per distinct outcome and acknowledges
every message after handling it. wxface re-publishes the same decision with the same
``message_id`` after a crash, so the subscriber remembers the ids it has handled (a bounded
memory; a real service would keep them next to the data it changes, in the same transaction)
and acknowledges a repeat without handling it again. Only aio-pika and the standard library are
needed: copy it into your own service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import OrderedDict
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"


class RecentIds:
    """The last ``capacity`` message ids handled (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: str) -> None:
        """Remember ``message_id``, forgetting the oldest one beyond the capacity."""
        self._ids[message_id] = None
        self._ids.move_to_end(message_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


class Subscriber:
    """Handles each distinct event once; stops after ``max_events`` distinct ones (0: never)."""

    def __init__(self, seen: RecentIds, max_events: int = 0) -> None:
        self.seen = seen
        self.handled = 0
        self.max_events = max_events
        self.done = asyncio.Event()

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Handle, then ack; ack a repeat unhandled; reject (no requeue) what is unreadable."""
        message_id = message.message_id
        if message_id is None:
            emit({"event": "rejected", "why": "no message_id"})
            await message.reject(requeue=False)
            return
        if message_id in self.seen:
            emit({"event": "duplicate", "message_id": message_id})
            await message.ack()
            return
        try:
            summary = summarize(message.body)
        except ValueError as exc:
            emit({"event": "rejected", "message_id": message_id, "why": str(exc)})
            await message.reject(requeue=False)
            return
        emit({"event": "handled", "message_id": message_id, **summary})  # your work goes here
        self.seen.add(message_id)
        await message.ack()
        self._count()

    def _count(self) -> None:
        self.handled += 1
        if self.max_events and self.handled >= self.max_events:
            self.done.set()


def summarize(body: bytes) -> dict[str, Any]:
    """The fields of an outcome event this example prints (no personal data is in it)."""
    try:
        event = json.loads(body)
        data = event["data"]
        return {
            "type": event["type"],
            "out_seq_no": event["subject"],
            "outcome": data["outcome"],
            "reason": data["reason"],
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not an outcome event ({type(exc).__name__})") from exc


def emit(line: dict[str, Any]) -> None:
    """One JSON line on stdout."""
    print(json.dumps(line), flush=True)


async def run(args: argparse.Namespace) -> None:
    """Declare the queue and binding, consume until a signal or ``--max-events``."""
    subscriber = Subscriber(RecentIds(args.remember), args.max_events)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, subscriber.done.set)
    connection = await aio_pika.connect_robust(args.url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=args.prefetch)
        exchange = await channel.declare_exchange(
            f"{args.prefix}.identity", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            args.queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(exchange, routing_key=args.binding_key)
        tag = await queue.consume(subscriber.on_message)
        emit({"event": "ready", "queue": args.queue, "binding_key": args.binding_key})
        await subscriber.done.wait()
        with contextlib.suppress(aio_pika.exceptions.AMQPError):
            await queue.cancel(tag)
    emit({"event": "stopped", "handled": subscriber.handled})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="Consume wxface identity events.")
    parser.add_argument("--url", default=DEFAULT_URL, help="AMQP URL of the RabbitMQ")
    parser.add_argument("--prefix", default="wxface", help="the deployment's WXFACE_AMQP_PREFIX")
    parser.add_argument("--queue", required=True, help="your own queue, e.g. my-service.identity")
    parser.add_argument("--binding-key", default="identity.#", help="e.g. identity.verified")
    parser.add_argument("--prefetch", type=int, default=32)
    parser.add_argument("--remember", type=int, default=100_000, help="message ids remembered")
    parser.add_argument("--max-events", type=int, default=0, help="stop after N (0: never)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run until stopped."""
    asyncio.run(run(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
