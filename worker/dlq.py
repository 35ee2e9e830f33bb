"""Dead letters: list them, and redrive them into the intake once their cause is fixed.

``list`` reads ``{prefix}.dead`` without consuming it (the messages are got unacked and handed
back when the channel closes). ``redrive`` moves each dead letter back to ``{prefix}.intake``
with a confirm and only then acks it, stripping the dead-letter and retry headers so it starts
afresh. Redrive is idempotent: a second run finds nothing to move, and a message redriven twice
(a crash between confirm and ack) is decided once, because the worker decides each credential
once and republishes the same ``message_id``.

Nothing printed here is personal data: message ids, causes, errcodes, out_seq_no and flow.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from shared.amqp.topology import VERIFY_ROUTING_KEY, Topology
from shared.work import WorkItem, WorkItemError
from worker.handler import ATTEMPT_HEADER, DEAD_CAUSE_HEADER, DEAD_ERRCODE_HEADER

_DROPPED_HEADERS = frozenset({ATTEMPT_HEADER, DEAD_CAUSE_HEADER, DEAD_ERRCODE_HEADER, "x-death",
                              "x-first-death-exchange", "x-first-death-queue",
                              "x-first-death-reason", "x-delivery-count"})  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeadLetterInfo:
    """What an operator needs to see about one dead letter."""

    message_id: str
    cause: str
    errcode: int | None
    out_seq_no: str | None
    flow: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)


def describe(message: AbstractIncomingMessage) -> DeadLetterInfo:
    """The operator's view of a dead letter (never its body)."""
    headers = message.headers or {}
    errcode = headers.get(DEAD_ERRCODE_HEADER)
    try:
        item: WorkItem | None = WorkItem.decode(message.body)
    except WorkItemError:
        item = None
    return DeadLetterInfo(
        message_id=message.message_id or hashlib.sha256(message.body).hexdigest()[:32],
        cause=str(headers.get(DEAD_CAUSE_HEADER) or _broker_reason(headers)),
        errcode=errcode if isinstance(errcode, int) else None,
        out_seq_no=None if item is None else item.out_seq_no,
        flow=None if item is None else item.flow.value,
    )


def _broker_reason(headers: dict[str, Any]) -> str:
    """Why RabbitMQ itself dead-lettered a message (e.g. the delivery limit)."""
    reason = headers.get("x-first-death-reason")
    if isinstance(reason, bytes):
        reason = reason.decode("utf-8", "replace")
    return f"broker:{reason}" if isinstance(reason, str) and reason else "unknown"


async def list_dead(url: str, topology: Topology, limit: int = 1000) -> list[DeadLetterInfo]:
    """Up to ``limit`` dead letters, oldest first, left in the queue."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(topology.dead, ensure=True)
        found: list[DeadLetterInfo] = []
        while len(found) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            found.append(describe(message))
        return found  # closing the channel hands every message back, unacked
    finally:
        await connection.close()


async def redrive(url: str, topology: Topology, limit: int | None = None) -> list[DeadLetterInfo]:
    """Move the dead letters present now (at most ``limit``) back to the intake.

    Only as many messages as the queue held at the start are moved, so a message that fails
    again and returns to the queue during the run is not redriven in a loop.
    """
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.declare_queue(topology.dead, passive=True)
        present = queue.declaration_result.message_count or 0
        budget = present if limit is None else min(limit, present)
        moved: list[DeadLetterInfo] = []
        while len(moved) < budget:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            await _republish(channel, topology, message)
            await message.ack()
            moved.append(describe(message))
        return moved
    finally:
        await connection.close()


async def _republish(
    channel: AbstractChannel, topology: Topology, message: AbstractIncomingMessage
) -> None:
    headers = {k: v for k, v in (message.headers or {}).items() if k not in _DROPPED_HEADERS}
    exchange = await channel.get_exchange(topology.intake, ensure=False)
    await exchange.publish(
        aio_pika.Message(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type or "application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=headers or None,
        ),
        routing_key=VERIFY_ROUTING_KEY,
        mandatory=True,
    )
