"""Durable acceptance of a work item: broker confirm, or the local spool when it is down.

:meth:`Intake.accept` returns only once the item is durable: confirmed by RabbitMQ, or (broker
unreachable, publish not confirmed in time) fsync'd to the spool. Otherwise it raises
:class:`shared.errors.NotDurableError`, and the receiver must not say ``success``. Concurrent
calls publish concurrently (pipelined on one channel) and share spool fsyncs.
"""

from __future__ import annotations

from enum import StrEnum

from receiver.spool import Spool
from shared.amqp.publisher import Publisher
from shared.errors import NotDurableError, PublishError, SpoolError
from shared.log import get_logger
from shared.work import WorkItem

log = get_logger(__name__)


class Via(StrEnum):
    """Where an accepted item went (a metric label)."""

    BROKER = "broker"
    SPOOL = "spool"


class Intake:
    """Publisher first, spool as fall-back."""

    def __init__(self, publisher: Publisher, spool: Spool) -> None:
        self._publisher = publisher
        self._spool = spool

    async def accept(self, item: WorkItem) -> Via:
        """Make ``item`` durable; raise NotDurableError when neither path can."""
        if self._publisher.ready:
            try:
                await self._publisher.publish_work(item)
            except PublishError as exc:
                log.warning("publish_failed_spooling", error=str(exc))
            else:
                return Via.BROKER
        try:
            await self._spool.append(item.encode())
        except SpoolError as exc:
            log.error("push_not_durable", error=str(exc))
            raise NotDurableError("cannot store the push durably right now") from exc
        return Via.SPOOL
