"""The expiry sweep: sessions still open after their expiry end as expired / session_expired.

Every expiry event is published at least once, even when a worker dies half-way.
``Store.claim_expired`` hands each overdue session to exactly one caller and, in one
transaction, logs its decision under a deterministic message_id and puts it in the store's
expiry outbox, leased to that caller. The sweeper publishes the event with a confirm (waiting
out a broker outage for as long as the process lives) and only then takes the batch out of the
outbox, in one statement. A worker that dies in between leaves its entries behind: every sweep
round, in any worker, first takes the entries whose lease is older than ``lease_s`` (leasing
them to itself, so normally one worker republishes each) and publishes them again, rebuilt
from the stored row: same message_id, same body byte for byte (``time`` is the stored decision
time). A duplicate (a confirm slower than the lease, a crash between the confirm and the
outbox update) is harmless: downstream de-duplicates on the message_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.amqp.topology import Topology
from shared.errors import PublishError, StoreError
from shared.log import get_logger
from shared.store.model import Session, UnpublishedExpiry
from shared.vocabulary import Reason
from worker.metrics import WorkerMetrics
from worker.outcome import SESSION_EXPIRED_MARK, OutcomeEvent, outcome_message_id
from worker.patience import HandBackError, Patience
from worker.ports import EventPublisher, ExpiryStore

log = get_logger(__name__)

# well past a normal publish (the worker's confirm timeout is 15 s), so the worker that claimed
# an expiry is the one that publishes it; and a lost event is still out within about a minute
LEASE_S = 60.0


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep round did: expiries published again from the outbox, sessions expired."""

    republished: int
    expired: int

    def full(self, batch: int) -> bool:
        """True when either step took a whole batch, so more may be waiting."""
        return max(self.republished, self.expired) >= batch


class Sweeper:
    """Expires overdue sessions every ``interval_s`` (run :meth:`start`, then :meth:`stop`)."""

    def __init__(
        self,
        *,
        appid: str,
        topology: Topology,
        store: ExpiryStore,
        publisher: EventPublisher,
        metrics: WorkerMetrics,
        decided_by: str,
        interval_s: float,
        batch: int,
        lease_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._appid, self._topology, self._store = appid, topology, store
        self._publisher, self._metrics, self._decided_by = publisher, metrics, decided_by
        self._interval_s, self._batch, self._clock = interval_s, batch, clock
        self._lease = timedelta(seconds=lease_s)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def message_id(self, out_seq_no: str) -> str:
        """The id of a session's expiry decision (the same in every worker)."""
        return outcome_message_id(self._appid, out_seq_no, SESSION_EXPIRED_MARK)

    async def sweep_once(self) -> Swept:
        """Republish one batch of unconfirmed expiries, then claim and publish one new batch."""
        return Swept(await self._republish(), await self._expire())

    async def _republish(self) -> int:
        now = self._now()
        due = await self._store.take_unpublished_expiries(now, now - self._lease, self._batch)
        if due:
            published = await self._publish_all(due)
            self._metrics.republished.inc(published)
            log.warning("expiries_republished", count=published, taken=len(due))
        return len(due)

    async def _expire(self) -> int:
        now = self._now()
        claimed = await self._store.claim_expired(
            now, self._batch, self._decided_by, self.message_id
        )
        await self._publish_all([self._entry(s, now) for s in claimed])
        if claimed:
            self._metrics.swept.inc(len(claimed))
            log.info("sessions_expired", count=len(claimed))
        return len(claimed)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _entry(self, session: Session, decided_at: datetime) -> UnpublishedExpiry:
        """The outbox entry the claim stored for ``session`` (built without reading it back)."""
        return UnpublishedExpiry(
            message_id=self.message_id(session.out_seq_no),
            out_seq_no=session.out_seq_no,
            flow=session.flow,
            openid=session.openid,
            decided_at=decided_at,
        )

    async def _publish_all(self, entries: Sequence[UnpublishedExpiry]) -> int:
        """Publish each; take the confirmed ones out of the outbox together; return how many."""
        confirmed = await asyncio.gather(*(self._publish(e) for e in entries))
        done = [e.message_id for e, ok in zip(entries, confirmed, strict=True) if ok]
        if done:
            await self._store.mark_expiries_published(done)
        return len(done)

    async def _publish(self, entry: UnpublishedExpiry) -> bool:
        """Publish until confirmed (True), or until stopping while the broker is away (False)."""
        reason = Reason.SESSION_EXPIRED
        event = OutcomeEvent(
            message_id=entry.message_id,
            appid=self._appid,
            out_seq_no=entry.out_seq_no,
            openid=entry.openid,
            flow=entry.flow,
            outcome=reason.outcome,
            reason=reason,
            wechat_code=None,
            time=entry.decided_at,
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
                    return False  # stays in the outbox: a later sweep publishes it
        self._metrics.outcomes.labels(event.outcome.value, reason.value).inc()
        return True

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
                swept = await self.sweep_once()
                while swept.full(self._batch) and not self._stopping.is_set():
                    swept = await self.sweep_once()  # a full batch: more may be waiting
            except (StoreError, PublishError) as exc:
                log.warning("sweep_failed", error=exc.code)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._interval_s)
