"""The relay: moves spooled work items to RabbitMQ, in order, once the broker is back.

A background task per receiver process. At start-up it picks up segments left behind by a
previous run (or a dead sibling process); afterwards it wakes on every spool append and every
``rescan_s``. A segment is deleted only after every record in it was confirmed by the broker;
a failure leaves it in place for the next round (a re-sent record has the same ``message_id``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from receiver.spool import ClaimedSegment, Spool
from shared.amqp.publisher import Publisher
from shared.errors import PublishError, WorkItemError
from shared.log import get_logger
from shared.work import WorkItem

log = get_logger(__name__)

_WINDOW = 256  # publishes in flight at once while relaying


class Relay:
    """Relays ``spool`` through ``publisher``; :meth:`start` / :meth:`stop` own its task."""

    def __init__(
        self,
        spool: Spool,
        publisher: Publisher,
        *,
        rescan_s: float = 2.0,
        on_relayed: Callable[[int], None] | None = None,
    ) -> None:
        self._spool = spool
        self._publisher = publisher
        self._rescan_s = rescan_s
        self._on_relayed = on_relayed
        self._task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()  # set when a round found nothing left to relay

    def start(self) -> None:
        """Start the background task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="spool-relay")

    async def stop(self) -> None:
        """Stop the background task (a segment being relayed stays for the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            if await self._publisher.wait_ready(self._rescan_s):
                self._spool.appended.clear()
                if await self.relay_once():
                    self.idle.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._spool.appended.wait(), self._rescan_s)
            self.idle.clear()

    async def relay_once(self) -> bool:
        """Relay every claimable segment; True when all of them went through."""
        await self._spool.seal()
        for segment in self._spool.claim():
            relayed = False
            try:
                relayed = await self._relay_segment(segment)
            finally:
                self._spool.release(segment, relayed=relayed)
            if not relayed:
                return False
        return True

    async def _relay_segment(self, segment: ClaimedSegment) -> bool:
        try:
            for start in range(0, len(segment.records), _WINDOW):
                chunk = segment.records[start : start + _WINDOW]
                await asyncio.gather(*(self._relay_record(r) for r in chunk))
        except PublishError as exc:
            log.warning("spool_relay_interrupted", segment=segment.path.name, error=str(exc))
            return False
        log.info("spool_segment_relayed", segment=segment.path.name, records=len(segment.records))
        if self._on_relayed is not None:
            self._on_relayed(len(segment.records))
        return True

    async def _relay_record(self, record: bytes) -> None:
        try:
            item = WorkItem.decode(record)
        except WorkItemError:
            # the CRC matched, so this was written by an incompatible version: keep going
            log.error("spool_record_unreadable", size=len(record))
            return
        await self._publisher.publish_work(item)
