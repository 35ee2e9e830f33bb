"""One work message, from delivery to a confirmed outcome: the worker's per-message pipeline.

Read the item, load its session, ask WeChat, judge (``worker.verdict``), then — in this order —
record the decision in the store, publish its event with a confirm, and only then let the
consumer ack. ``Store.decide`` is single-use per credential and hands back the first decision
on a replay, so a crash anywhere between the two writes ends in the same decision, re-published
with the same ``message_id``. A message ends in exactly one :class:`Disposition`.

Broker or store trouble is no verdict: the step is retried for ``patience_s`` and then
:class:`HandBackError` tells the consumer to return the message unacked.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.amqp.topology import Topology
from shared.errors import SealedValueError, WechatApiError
from shared.log import get_logger
from shared.store.model import Decided, Decision, Session
from shared.vocabulary import Flow, Reason
from shared.work import WorkItem, WorkItemError
from worker.metrics import WorkerMetrics
from worker.outcome import OutcomeEvent, outcome_message_id
from worker.patience import HandBackError, Patience
from worker.ports import EventPublisher, SessionStore, WechatApi
from worker.retry import RetryPolicy, credential_deadline
from worker.verdict import (
    DeadLetter,
    Judgement,
    Retry,
    Verdict,
    judge_error,
    judge_legacy,
    judge_session,
    judge_v2,
)

__all__ = ["Delivery", "Disposition", "HandBackError", "Handler"]

log = get_logger(__name__)

ATTEMPT_HEADER = "x-wxface-attempt"
DEAD_CAUSE_HEADER = "x-wxface-dead-cause"
DEAD_ERRCODE_HEADER = "x-wxface-dead-errcode"


class Disposition(StrEnum):
    """What became of one work message (all but HANDED_BACK end in an ack)."""

    DECIDED = "decided"  # a new decision, recorded and published
    REPUBLISHED = "republished"  # decided before (redelivery, replay): same event again
    RETRY_SCHEDULED = "retry_scheduled"  # parked in a retry tier
    DEAD_LETTERED = "dead_lettered"  # no verdict about a person: to the DLQ with the cause


@dataclass(frozen=True, slots=True)
class Delivery:
    """The parts of an AMQP delivery the handler reads."""

    body: bytes
    message_id: str | None
    headers: Mapping[str, Any]

    @property
    def attempt(self) -> int:
        """How many retries came before this delivery (0 for the first)."""
        value = self.headers.get(ATTEMPT_HEADER, 0)
        return value if isinstance(value, int) and value >= 0 else 0


@dataclass(frozen=True, slots=True)
class HandlerDeps:
    """What a :class:`Handler` works with (built once per process)."""

    appid: str
    topology: Topology
    store: SessionStore
    wechat: WechatApi
    publisher: EventPublisher
    policy: RetryPolicy
    metrics: WorkerMetrics
    credential_ttl_s: float
    decided_by: str
    patience_s: float = 30.0


class Handler:
    """Turns one delivery into one disposition; safe to run many concurrently."""

    def __init__(
        self,
        deps: HandlerDeps,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._d = deps
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self._patience = Patience(deps.patience_s, clock)

    async def handle(self, delivery: Delivery) -> Disposition:
        """Decide, retry or dead-letter this delivery; HandBackError on infrastructure trouble."""
        try:
            item = self._read(delivery.body)
        except WorkItemError as exc:
            log.error("work_item_unreadable", error=str(exc))
            return await self._dead_letter(delivery, DeadLetter("unreadable"))
        if delivery.attempt == 0:
            self._d.metrics.time_in_queue.observe(max(0.0, self._clock() - item.received_at))
        session = await self._patience.run(lambda: self._d.store.get_session(item.out_seq_no))
        credential = _credential(item, session)
        unknown = judge_session(session, item.flow)
        if session is None or unknown is not None or credential is None:
            verdict = unknown or Verdict.reject(Reason.UNKNOWN_SESSION)
            return await self._publish_unrecorded(item, credential, verdict)
        judgement = await self._ask(item, session, credential)
        return await self._act(delivery, item, session, credential, judgement)

    def _read(self, body: bytes) -> WorkItem:
        item = WorkItem.decode(body)
        if item.appid != self._d.appid:
            raise WorkItemError("work item for another appid")
        if item.flow is Flow.LEGACY and not item.verify_result:
            raise WorkItemError("legacy work item without verify_result")
        return item

    async def _ask(self, item: WorkItem, session: Session, credential: str) -> Judgement:
        try:
            if session.flow is Flow.LEGACY:
                info = await self._d.wechat.get_info(credential)
                return judge_legacy(info, session, item.openid, self._d.store.protector)
            cert_hash = self._d.store.protector.unseal(session.cert_hash_sealed or "")
            reply = await self._d.wechat.query_verify_info(
                credential, item.out_seq_no, cert_hash, session.openid or ""
            )
            return judge_v2(reply)
        except WechatApiError as exc:
            return judge_error(exc)
        except SealedValueError:
            return DeadLetter("unseal_failed")

    async def _act(
        self,
        delivery: Delivery,
        item: WorkItem,
        session: Session,
        credential: str,
        judgement: Judgement,
    ) -> Disposition:
        if isinstance(judgement, DeadLetter):
            return await self._dead_letter(delivery, judgement)
        if isinstance(judgement, Retry):
            if await self._schedule_retry(delivery, item, session, judgement):
                return Disposition.RETRY_SCHEDULED
            self._d.metrics.gave_up.inc()
            judgement = Verdict.reject(Reason.UPSTREAM_UNAVAILABLE, judgement.wechat_code)
        return await self._conclude(item, session, credential, judgement)

    async def _conclude(
        self, item: WorkItem, session: Session, credential: str, verdict: Verdict
    ) -> Disposition:
        decided = await self._record(self._decision(item, credential, verdict, credential))
        if decided.reused:
            reused = Verdict.reject(Reason.CREDENTIAL_REUSED)
            decided = await self._record(self._decision(item, None, reused, credential))
        await self._publish(item, session.openid, decided.decision)
        return Disposition.DECIDED if decided.new else Disposition.REPUBLISHED

    def _decision(
        self, item: WorkItem, credential: str | None, verdict: Verdict, id_source: str
    ) -> Decision:
        # a reuse decision has no ledger credential; its id differs from the original's
        marker = id_source if credential is not None else "reused\x00" + id_source
        return Decision(
            out_seq_no=item.out_seq_no,
            credential=None
            if credential is None
            else self._d.store.protector.credential_hash(credential),
            outcome=verdict.outcome,
            reason=verdict.reason,
            wechat_code=verdict.wechat_code,
            message_id=outcome_message_id(self._d.appid, item.out_seq_no, marker),
            decided_at=datetime.fromtimestamp(self._clock(), UTC),
            decided_by=self._d.decided_by,
        )

    async def _record(self, decision: Decision) -> Decided:
        return await self._patience.run(lambda: self._d.store.decide(decision))

    async def _publish_unrecorded(
        self, item: WorkItem, credential: str | None, verdict: Verdict
    ) -> Disposition:
        """A decision with no session to record it in: publish it and log it."""
        marker = credential or "item\x00" + item.message_id()
        decision = self._decision(item, None, verdict, marker)
        log.warning("decision_unrecorded", reason=verdict.reason, flow=item.flow)
        await self._publish(item, None, decision)
        return Disposition.DECIDED

    async def _publish(self, item: WorkItem, openid: str | None, decision: Decision) -> None:
        event = OutcomeEvent(
            message_id=decision.message_id,
            appid=item.appid,
            out_seq_no=item.out_seq_no,
            openid=item.openid or openid,
            flow=item.flow,
            outcome=decision.outcome,
            reason=decision.reason,
            wechat_code=decision.wechat_code,
            time=decision.decided_at,
        )
        exchange, key, body = self._d.topology.identity, event.routing_key, event.encode()
        await self._confirmed(exchange, key, body, event.message_id, None)
        m = self._d.metrics
        m.child(m.outcomes, event.outcome.value, event.reason or "").inc()
        m.push_to_outcome.observe(max(0.0, self._clock() - item.received_at))
        log.info("outcome_published", outcome=event.outcome, reason=event.reason,
                 wechat_code=event.wechat_code, outcome_id=event.message_id)  # fmt: skip

    async def _schedule_retry(
        self, delivery: Delivery, item: WorkItem, session: Session, retry: Retry
    ) -> bool:
        now = self._clock()
        deadline = credential_deadline(
            item.flow,
            received_at=item.received_at,
            create_time=item.create_time,
            credential_ttl_s=self._d.credential_ttl_s,
            session_expires_at=session.expires_at.timestamp(),
        )
        attempt = delivery.attempt
        delay = self._d.policy.delay(attempt, now, deadline, self._rng, floor_s=retry.min_delay_s)
        if delay is None:
            log.warning("retries_exhausted", attempt=attempt, wechat_code=retry.wechat_code)
            return False
        queue = self._d.topology.retry_queue(int(delay))
        headers = {ATTEMPT_HEADER: attempt + 1}
        await self._confirmed("", queue, delivery.body, item.message_id(), headers)
        self._d.metrics.retries.labels(retry.cause).inc()
        log.info("retry_scheduled", delay_s=delay, cause=retry.cause, wechat_code=retry.wechat_code)
        return True

    async def _dead_letter(self, delivery: Delivery, dead: DeadLetter) -> Disposition:
        headers: dict[str, Any] = {DEAD_CAUSE_HEADER: dead.cause}
        if dead.wechat_code is not None:
            headers[DEAD_ERRCODE_HEADER] = dead.wechat_code
        message_id = delivery.message_id or hashlib.sha256(delivery.body).hexdigest()[:32]
        await self._confirmed(self._d.topology.dlx, "", delivery.body, message_id, headers)
        self._d.metrics.dead_letters.labels(dead.cause).inc()
        log.error("message_dead_lettered", cause=dead.cause, wechat_code=dead.wechat_code)
        return Disposition.DEAD_LETTERED

    async def _confirmed(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any] | None,
    ) -> None:
        publish = self._d.publisher.publish
        await self._patience.run(lambda: publish(exchange, routing_key, body, message_id, headers))


def _credential(item: WorkItem, session: Session | None) -> str | None:
    """The credential this message decides: the verify_result, or the session's verify_id."""
    if item.flow is Flow.LEGACY:
        return item.verify_result
    if session is None or not session.verify_id or not session.cert_hash_sealed:
        return None
    return session.verify_id if session.openid else None
