"""Every exchange and queue name, derived from ``WXFACE_AMQP_PREFIX``, declared in one place.

The arguments are data (:meth:`Topology.exchange_specs`, :meth:`Topology.queue_specs`) so the
receiver, the worker and the deploy definitions share one source of truth.
:meth:`Topology.declare` is idempotent: every process calls it at start-up.

RabbitMQ 3.10 notes: quorum queues take ``x-delivery-limit``, ``x-message-ttl`` (3.10+) and
``x-dead-letter-strategy=at-least-once`` (3.10+), which requires ``x-overflow=reject-publish``.
Per-message TTL does not work for delays (expiry happens at the head), so every retry tier is
its own queue with a fixed ``x-message-ttl`` that dead-letters back into the intake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

VERIFY_ROUTING_KEY = "verify"
DEFAULT_DELIVERY_LIMIT = 10
DEFAULT_RETRY_TIERS_S: tuple[int, ...] = (1, 5, 15, 60)


@dataclass(frozen=True)
class ExchangeSpec:
    """A durable exchange."""

    name: str
    type: str  # "direct" | "topic" | "fanout"


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue, its arguments and its bindings ``(exchange, routing_key)``."""

    name: str
    arguments: dict[str, Any]
    bindings: tuple[tuple[str, str], ...] = field(default=())


class _Channel(Protocol):
    """The part of ``aio_pika.abc.AbstractChannel`` used here."""

    async def declare_exchange(self, name: str, type: Any, *, durable: bool) -> Any: ...

    async def declare_queue(self, name: str, *, durable: bool, arguments: Any) -> Any: ...

    async def queue_delete(self, queue_name: str) -> Any: ...

    async def exchange_delete(self, exchange_name: str) -> Any: ...


@dataclass(frozen=True)
class Topology:
    """The names of one wxface deployment (one prefix)."""

    prefix: str
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT
    retry_tiers_s: tuple[int, ...] = DEFAULT_RETRY_TIERS_S

    @property
    def intake(self) -> str:
        """Direct exchange the receiver and the business API publish work to."""
        return f"{self.prefix}.intake"

    @property
    def verify(self) -> str:
        """The work queue (quorum) the worker consumes."""
        return f"{self.prefix}.verify"

    @property
    def dlx(self) -> str:
        """Dead-letter exchange (fanout)."""
        return f"{self.prefix}.dlx"

    @property
    def dead(self) -> str:
        """Dead-letter queue (quorum)."""
        return f"{self.prefix}.dead"

    @property
    def identity(self) -> str:
        """Output topic exchange (routing keys ``identity.<outcome>``)."""
        return f"{self.prefix}.identity"

    def retry_queue(self, delay_s: int) -> str:
        """The retry tier with this delay; publish to it through the default exchange."""
        if delay_s not in self.retry_tiers_s:
            raise ValueError(f"no retry tier of {delay_s}s (tiers: {self.retry_tiers_s})")
        return f"{self.prefix}.retry.{delay_s}s"

    def exchange_specs(self) -> list[ExchangeSpec]:
        """Every exchange, in declaration order."""
        return [
            ExchangeSpec(self.intake, "direct"),
            ExchangeSpec(self.dlx, "fanout"),
            ExchangeSpec(self.identity, "topic"),
        ]

    def queue_specs(self) -> list[QueueSpec]:
        """Every queue with its arguments and bindings, in declaration order."""
        verify = QueueSpec(
            self.verify,
            {
                **_QUORUM_AT_LEAST_ONCE,
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self.dlx,
            },
            ((self.intake, VERIFY_ROUTING_KEY),),
        )
        dead = QueueSpec(self.dead, {"x-queue-type": "quorum"}, ((self.dlx, ""),))
        return [verify, dead, *(self._retry_spec(s) for s in self.retry_tiers_s)]

    def _retry_spec(self, delay_s: int) -> QueueSpec:
        return QueueSpec(
            self.retry_queue(delay_s),
            {
                **_QUORUM_AT_LEAST_ONCE,
                "x-message-ttl": delay_s * 1000,
                "x-dead-letter-exchange": self.intake,
                "x-dead-letter-routing-key": VERIFY_ROUTING_KEY,
            },
        )

    async def declare(self, channel: _Channel) -> None:
        """Declare every exchange, queue and binding; safe to repeat."""
        exchanges = {}
        for ex in self.exchange_specs():
            exchanges[ex.name] = await channel.declare_exchange(ex.name, ex.type, durable=True)
        for spec in self.queue_specs():
            queue = await channel.declare_queue(spec.name, durable=True, arguments=spec.arguments)
            for exchange, routing_key in spec.bindings:
                await queue.bind(exchanges[exchange], routing_key=routing_key)

    async def delete(self, channel: _Channel) -> None:
        """Delete everything :meth:`declare` created (test clean-up)."""
        for spec in self.queue_specs():
            await channel.queue_delete(spec.name)
        for ex in self.exchange_specs():
            await channel.exchange_delete(ex.name)


_QUORUM_AT_LEAST_ONCE: Mapping[str, Any] = MappingProxyType(
    {
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
)
