"""The expiry sweep: sessions still open after their expiry end as expired / session_expired.

Safe with many workers: ``Store.claim_expired`` hands each overdue session to exactly one
caller and logs its decision under a deterministic message_id, which the sweeper then publishes
with a confirm (waiting out a broker outage for as long as the process lives). The one window
in which an expiry event can be lost is a crash between the claim's commit and the broker's
confirm; the session's status and the decision log still say ``expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime

from shared.amqp.topology import Topology
from shared.errors import PublishError, StoreError
from shared.log import get_logger
from shared.store.model import Session
from shared.vocabulary import Reason
from worker.metrics import WorkerMetrics
from worker.outcome import SESSION_EXPIRED_MARK, OutcomeEvent, outcome_message_id
from worker.patience import HandBackError, Patience
from worker.ports import EventPublisher, SessionStore

log = get_logger(__name__)


class Sweeper:
    """Expires overdue sessions every ``interval_s`` (run :meth:`start`, then :meth:`stop`)."""

    def __init__(
        self,
        *,
        appid: str,
        topology: Topology,
        store: SessionStore,
        publisher: EventPublisher,
        metrics: WorkerMetrics,
        decided_by: str,
        interval_s: float,
        batch: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._appid, self._topology, self._store = appid, topology, store
        self._publisher, self._metrics, self._decided_by = publisher, metrics, decided_by
        self._interval_s, self._batch, self._clock = interval_s, batch, clock
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def message_id(self, out_seq_no: str) -> str:
        """The id of a session's expiry decision (the same in every worker)."""
        return outcome_message_id(self._appid, out_seq_no, SESSION_EXPIRED_MARK)

    async def sweep_once(self) -> int:
        """Claim and publish one batch of expired sessions; return how many."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        claimed = await self._store.claim_expired(
            now, self._batch, self._decided_by, self.message_id
        )
        await asyncio.gather(*(self._publish(s, now) for s in claimed))
        if claimed:
            self._metrics.swept.inc(len(claimed))
            log.info("sessions_expired", count=len(claimed))
        return len(claimed)

    async def _publish(self, session: Session, decided_at: datetime) -> None:
        reason = Reason.SESSION_EXPIRED
        event = OutcomeEvent(
            message_id=self.message_id(session.out_seq_no),
            appid=self._appid,
            out_seq_no=session.out_seq_no,
            openid=session.openid,
            flow=session.flow,
            outcome=reason.outcome,
            reason=reason,
            wechat_code=None,
            time=decided_at,
        )
        body, key = event.encode(), event.routing_key
        exchange, patience = self._topology.identity, Patience(self._interval_s, self._clock)
        while True:
            try:
                await patience.run(
                    lambda: self._publisher.publish(exchange, key, body, event.message_id)
                )
                break
            except HandBackError:
                log.error("expiry_not_published", outcome_id=event.message_id)
                if self._stopping.is_set():
                    return
        self._metrics.outcomes.labels(event.outcome.value, reason.value).inc()

    async def start(self) -> None:
        """Start sweeping in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="expiry-sweep")

    async def stop(self) -> None:
        """Finish the current batch and stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                while await self.sweep_once() >= self._batch:
                    pass  # a full batch: more may be waiting
            except (StoreError, PublishError) as exc:
                log.warning("sweep_failed", error=exc.code)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
