"""Retention: sessions untouched for ``WXFACE_SESSION_RETENTION_DAYS`` are purged periodically.

Only the sessions go; the decision log (credential ledger and every decision) outlives them,
so a credential seen before the purge is still recognised as used. Safe with many workers:
each runs the same ``DELETE … WHERE updated_at < cut-off``, which is idempotent, so two
workers purging at once at worst find nothing left to delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared.errors import StoreError
from shared.log import get_logger

log = get_logger(__name__)

# an hourly pass is plenty for a retention counted in days, and cheap on an indexed column
PURGE_INTERVAL_S = 3600.0


class SessionPurger(Protocol):
    """The part of the state store retention needs."""

    async def purge_sessions(self, older_than: datetime) -> int:
        """Delete sessions last updated before ``older_than``; return how many."""
        ...


class Retention:
    """Purges sessions older than ``retention`` every ``interval_s`` (start, then stop)."""

    def __init__(
        self,
        store: SessionPurger,
        retention: timedelta,
        *,
        interval_s: float = PURGE_INTERVAL_S,
        clock: Callable[[], float] = time.time,
        on_purged: Callable[[int], None] | None = None,
    ) -> None:
        self._store, self._retention = store, retention
        self._interval_s, self._clock, self._on_purged = interval_s, clock, on_purged
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def cutoff(self) -> datetime:
        """Sessions last updated before this instant are past retention."""
        return datetime.fromtimestamp(self._clock(), UTC) - self._retention

    async def purge_once(self) -> int:
        """Delete every session past retention; return how many went."""
        purged = await self._store.purge_sessions(self.cutoff())
        if purged:
            log.info("sessions_purged", count=purged, retention_days=self._retention.days)
        if self._on_purged is not None:
            self._on_purged(purged)
        return purged

    async def start(self) -> None:
        """Purge once now (a failure is logged, not raised), then every ``interval_s``."""
        if self._task is None:
            await self._pass()
            self._task = asyncio.create_task(self._run(), name="session-retention")

    async def stop(self) -> None:
        """Finish the current pass and stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _pass(self) -> None:
        try:
            await self.purge_once()
        except StoreError as exc:
            log.warning("purge_failed", error=exc.code)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
            if self._stopping.is_set():
                return
            await self._pass()
