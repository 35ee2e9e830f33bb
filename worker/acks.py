"""Which deliveries on one channel can be acknowledged, and with which frames.

Pure. Acks are batched with ``multiple=True`` up to the highest tag whose predecessors are all
settled, so a busy worker sends one ack frame for many messages. A slow message at the front
must not hold every later ack (and so the whole prefetch window) hostage: once more than
``max_held`` settled tags wait behind it, they are acknowledged one by one.

A ``multiple`` ack is only ever sent for a tag that is still outstanding: RabbitMQ treats an
unknown tag as a channel error, and a requeued (nacked) tag is no longer outstanding. Delivery
tags on a channel are 1, 2, 3 …, so the window needs no registration of arrivals, and the
order in which handler tasks happen to start cannot ack a message nobody has handled.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
