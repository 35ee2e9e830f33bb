"""The benchmark's downstream service: a queue on ``identity.#`` that timestamps each outcome.

It reads only the CloudEvent's ``id`` (the message_id), ``subject`` (the out_seq_no), ``type``
and ``time`` (when the decision was made), so the bare loop's events count the same way as the
worker's. A second event for a session is a duplicate: with the same id, a republication (the
contract allows it, but in a benchmark it means a delivery was handed back or a channel lost);
with another id, a second decision about one credential, which must never happen. It consumes
through aiormq's own consumer, as the worker does, without aio-pika's per-message wrapping: the
benchmark shares the cores with what it measures, so its own cost per message is kept low.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aiormq.abc import DeliveredMessage

from shared.amqp.topology import Topology


def queue_name(topology: Topology) -> str:
    """The benchmark's own quorum queue on the identity exchange."""
    return f"{topology.prefix}.bench-downstream"


@dataclass(frozen=True, slots=True)
class Arrival:
    """One outcome event as it reached downstream."""

    out_seq_no: str
    event_id: str
    outcome: str
    decided_at: float  # unix seconds, the event's ``time``
    arrived_at: float  # unix seconds


@dataclass
class Collector:
    """Collects arrivals until ``expected`` distinct sessions have one."""

    expected: int = 0
    arrivals: dict[str, Arrival] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: int = 0  # duplicates with another event id than the session's first
    outcomes: Counter[str] = field(default_factory=Counter)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, count: int) -> None:
        """Start a phase: forget earlier arrivals, wait for ``count`` new ones."""
        self.expected, self.arrivals, self.duplicates, self.conflicts = count, {}, 0, 0
        self.outcomes = Counter()
        self.done.clear()

    def on_message(self, message: DeliveredMessage) -> None:
        """Record one event (no_ack consumer: nothing to settle)."""
        arrival = parse(message.body, time.time())
        first = self.arrivals.get(arrival.out_seq_no)
        if first is not None:
            self.duplicates += 1
            if first.event_id != arrival.event_id:
                self.conflicts += 1
            return
        self.arrivals[arrival.out_seq_no] = arrival
        self.outcomes[arrival.outcome] += 1
        if len(self.arrivals) >= self.expected:
            self.done.set()


def parse(body: bytes, arrived_at: float) -> Arrival:
    """The parts of a CloudEvent body the benchmark reads."""
    event = orjson.loads(body)
    decided = datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00")).timestamp()
    outcome = str(event["type"]).rsplit(".", 1)[-1]
    return Arrival(str(event["subject"]), str(event["id"]), outcome, decided, arrived_at)


async def bind(
    connection: AbstractRobustConnection, topology: Topology, collector: Collector
) -> AbstractChannel:
    """Declare the queue on ``identity.#`` and consume it into ``collector``."""
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1000)
    exchange = await channel.declare_exchange(topology.identity, "topic", durable=True)
    queue = await channel.declare_queue(
        queue_name(topology), durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(exchange, "identity.#")

    async def consume(message: DeliveredMessage) -> None:
        collector.on_message(message)

    raw = await channel.get_underlay_channel()
    await raw.basic_consume(queue.name, consume, no_ack=True)
    return channel
