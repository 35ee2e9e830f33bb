"""Which deliveries on one channel can be acknowledged, and with which frames.

Acks are batched with ``multiple=True`` up to the highest tag whose predecessors are all
settled, so a busy worker sends one ack frame for many messages. A slow message at the front
must not hold every later ack (and so the whole prefetch window) hostage: once more than
``max_held`` settled tags wait behind it, they are acknowledged one by one.

A ``multiple`` ack is only ever sent for a tag that is still outstanding: RabbitMQ treats an
unknown tag as a channel error, and a requeued (nacked) tag is no longer outstanding. Delivery
tags on a channel are 1, 2, 3 …, so the window needs no registration of arrivals, and the
order in which handler tasks happen to start cannot ack a message nobody has handled.

:class:`AckSender` puts a window's frames on the wire, and in the order they were decided: a
``multiple`` ack that overtook an earlier single or ``multiple`` ack would make that one name a
tag the broker no longer knows, and RabbitMQ closes the channel for it (every unacked message
is then redelivered and decided again). aiormq's connection write queue holds ten frames and
does not keep its waiting writers in order, so one task per frame could overtake each other
once the socket falls behind; the sender is one task that writes whatever has gathered since
its last write as one frame batch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import aiormq
from aiormq.abc import ChannelFrame
from pamqp.commands import Basic

from shared.amqp.connection import BROKER_ERRORS
from shared.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AckFrames:
    """The ack frames to send after a settlement."""

    upto: int | None = None  # one ack with multiple=True up to and including this tag
    singles: tuple[int, ...] = field(default=())  # single acks


class AckWindow:
    """The settled delivery tags of one channel that are not acknowledged yet."""

    def __init__(self, max_held: int = 16) -> None:
        self._max_held = max(1, max_held)
        self._front = 1  # lowest tag not settled yet
        self._settled: set[int] = set()  # settled tags above the front
        self._held: set[int] = set()  # settled for an ack, still outstanding at the broker

    def settle(self, tag: int, *, acked: bool) -> AckFrames:
        """The delivery is done: ``acked`` for an ack, False when it was nacked already."""
        self._settled.add(tag)
        if acked:
            self._held.add(tag)
        upto = None
        while self._front in self._settled:
            self._settled.discard(self._front)
            if self._front in self._held:
                self._held.discard(self._front)
                upto = self._front
            self._front += 1
        singles: tuple[int, ...] = ()
        if len(self._held) > self._max_held:
            singles = tuple(sorted(self._held))
            self._held.clear()  # they stay in _settled, so the prefix walk passes them later
        return AckFrames(upto, singles)


class AckSender:
    """Acks and nacks the deliveries of one channel, in order, coalescing each loop turn's."""

    def __init__(self, channel: aiormq.Channel, max_held: int) -> None:
        self._channel = channel
        self._window = AckWindow(max_held)
        self._frames: list[Basic.Ack | Basic.Nack] = []  # decided, not yet written, in order
        self._upto: int | None = None  # the multiple ack that ends the next write
        self._writer: asyncio.Task[None] | None = None

    def ack(self, tag: int) -> None:
        """The delivery's outcome is settled: acknowledge it (now or with later ones)."""
        self._apply(self._window.settle(tag, acked=True))

    def nack(self, tag: int) -> None:
        """Hand the delivery back to the queue (requeued)."""
        self._frames.append(Basic.Nack(delivery_tag=tag, requeue=True))
        self._apply(self._window.settle(tag, acked=False))

    async def drain(self) -> None:
        """Return once every frame decided so far is on the connection's write queue."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    def _apply(self, frames: AckFrames) -> None:
        self._frames.extend(Basic.Ack(delivery_tag=tag) for tag in frames.singles)
        if frames.upto is not None:
            self._upto = frames.upto
        if self._writer is None and (self._frames or self._upto is not None):
            # starts on the next loop turn, so every settlement of this one joins the write
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        try:
            while self._frames or self._upto is not None:
                if self._channel.is_closed:
                    return  # the broker hands these messages back by itself
                batch, self._frames = self._frames, []
                # after the singles and nacks decided before it: a multiple ack names a tag
                # still outstanding, and covers none of theirs that is
                if self._upto is not None:
                    batch.append(Basic.Ack(delivery_tag=self._upto, multiple=True))
                    self._upto = None
                frame = ChannelFrame.marshall(channel_number=self._channel.number, frames=batch)
                await self._channel.write_queue.put(frame)
        except BROKER_ERRORS as exc:
            log.debug("ack_not_sent", error=type(exc).__name__)
        finally:
            self._writer = None
