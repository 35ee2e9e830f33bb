"""Tests of the per-message pipeline: real SQLite store, fakes of WeChat and the broker."""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from shared.amqp.topology import Topology
from shared.errors import WechatApiError, WechatErrorKind
from shared.store.base import Store, open_store
from shared.store.model import NewSession
from shared.vocabulary import Flow, Status
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from shared.wechat.result import FaceInfo, VerifyInfo
from shared.work import WorkItem
from tests.worker.fakes import FakePublisher, FakeWechat
from worker.batch import BatchingStore
from worker.handler import (
    ATTEMPT_HEADER,
    DEAD_CAUSE_HEADER,
    DEAD_ERRCODE_HEADER,
    Delivery,
    Disposition,
    Handler,
    HandlerDeps,
)
from worker.metrics import WorkerMetrics
from worker.outcome import OutcomeEvent
from worker.patience import HandBackError
from worker.ports import SessionStore
from worker.retry import RetryPolicy

APPID = "wx0123456789abcdef"
NAME = "张三"
ID_NUMBER = "11010519491231002x"
OPENID = "o-applicant-openid"
TOPOLOGY = Topology("wxunit")


@dataclass
class Rig:
    """A handler wired to a fresh store and fakes."""

    handler: Handler
    store: Store
    wechat: FakeWechat
    publisher: FakePublisher
    metrics: WorkerMetrics

    def events(self) -> list[OutcomeEvent]:
        """Every outcome event published so far, decoded."""
        return [OutcomeEvent.decode(p.body) for p in self.publisher.to(TOPOLOGY.identity)]


def make_handler(
    store: SessionStore, wechat: FakeWechat, publisher: FakePublisher, patience_s: float
) -> Handler:
    """A handler with the default tiers and a seeded jitter."""
    deps = HandlerDeps(
        appid=APPID, topology=TOPOLOGY, store=store, wechat=wechat, publisher=publisher,
        policy=RetryPolicy(TOPOLOGY.retry_tiers_s), metrics=WorkerMetrics(),
        credential_ttl_s=300, decided_by="test-worker", patience_s=patience_s,
    )  # fmt: skip
    return Handler(deps, rng=random.Random(5))


@pytest.fixture(params=["direct", "batched"])
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """A handler over a SQLite store in tmp_path, used directly or through the batching store."""
    store = await open_store(f"sqlite:///{tmp_path}/wx.db", "unit-test-data-key-0123")
    wechat, publisher = FakeWechat(), FakePublisher()
    seam: SessionStore = store if request.param == "direct" else BatchingStore(store)
    handler = make_handler(seam, wechat, publisher, patience_s=0.5)
    yield Rig(handler, store, wechat, publisher, handler._d.metrics)
    await store.close()


async def legacy_session(store: Store, out_seq_no: str, openid: str | None = OPENID) -> None:
    """Register a legacy applicant the way the business API does (md5s only)."""
    await store.create_session(
        NewSession(
            out_seq_no=out_seq_no, flow=Flow.LEGACY,
            expires_at=datetime.now(UTC) + timedelta(hours=1), openid=openid,
            id_card_md5=id_card_md5(ID_NUMBER), name_md5=name_md5(NAME),
            user_id_key=f"key-{out_seq_no}",
        )
    )  # fmt: skip


async def status_of(store: Store, out_seq_no: str) -> Status:
    """The stored session's status (the session must exist)."""
    session = await store.get_session(out_seq_no)
    assert session is not None
    return session.status


async def v2_session(store: Store, out_seq_no: str) -> None:
    """Register a v2 applicant (cert_hash sealed by the store)."""
    await store.create_session(
        NewSession(
            out_seq_no=out_seq_no, flow=Flow.V2, expires_at=datetime.now(UTC) + timedelta(hours=1),
            openid=OPENID, cert_hash=cert_hash(NAME, ID_NUMBER.upper()),
            verify_id=f"vid-{out_seq_no}",
        )
    )  # fmt: skip


def passed(out_seq_no: str, **changes: object) -> FaceInfo:
    """getinfo's answer for the registered applicant, passed."""
    fields: dict[str, object] = {
        "identify_ret": 0, "openid": OPENID, "user_id_key": f"key-{out_seq_no}",
        "id_card_number_md5": id_card_md5(ID_NUMBER), "name_utf8_md5": name_md5(NAME),
    }  # fmt: skip
    fields.update(changes)
    return FaceInfo.model_validate(fields)


def delivery(out_seq_no: str, credential: str | None = None, *, flow: Flow = Flow.LEGACY,
             attempt: int = 0, received_at: float | None = None) -> Delivery:  # fmt: skip
    """The delivery of a push work item."""
    item = WorkItem(
        kind="push" if flow is Flow.LEGACY else "result", flow=flow, appid=APPID,
        out_seq_no=out_seq_no, openid=OPENID if flow is Flow.LEGACY else None,
        verify_result=credential, create_time=None,
        received_at=time.time() if received_at is None else received_at,
    )  # fmt: skip
    headers = {ATTEMPT_HEADER: attempt} if attempt else {}
    return Delivery(item.encode(), item.message_id(), headers)


async def test_pass_is_recorded_then_published(rig: Rig) -> None:
    """A passing getinfo is stored as verified and published once to identity.verified."""
    await legacy_session(rig.store, "seq-pass")
    rig.wechat.script("vr-pass", passed("seq-pass"))
    assert await rig.handler.handle(delivery("seq-pass", "vr-pass")) is Disposition.DECIDED
    [published] = rig.publisher.to(TOPOLOGY.identity)
    event = OutcomeEvent.decode(published.body)
    assert (published.routing_key, event.outcome, event.reason) == (
        "identity.verified",
        "verified",
        None,
    )
    assert (event.wechat_code, event.openid, event.flow) == (0, OPENID, Flow.LEGACY)
    assert published.message_id == event.message_id
    assert await status_of(rig.store, "seq-pass") == Status.VERIFIED
    [decision] = await rig.store.decisions_for("seq-pass")
    assert decision.message_id == event.message_id


async def test_redelivery_republishes_the_same_event(rig: Rig) -> None:
    """A redelivery republishes the identical event, whatever WeChat says now."""
    await legacy_session(rig.store, "seq-redo")
    rig.wechat.script(
        "vr-redo", passed("seq-redo"), WechatApiError(84002, "expired", WechatErrorKind.PERMANENT)
    )
    assert await rig.handler.handle(delivery("seq-redo", "vr-redo")) is Disposition.DECIDED
    assert await rig.handler.handle(delivery("seq-redo", "vr-redo")) is Disposition.REPUBLISHED
    first, second = rig.publisher.to(TOPOLOGY.identity)
    assert (first.body, first.message_id) == (second.body, second.message_id)
    assert len(await rig.store.decisions_for("seq-redo")) == 1


async def test_credential_replayed_for_another_session_is_reused(rig: Rig) -> None:
    """A verify_result spent on one session is credential_reused on another; the first stays."""
    await legacy_session(rig.store, "seq-first")
    await legacy_session(rig.store, "seq-other")
    rig.wechat.script("vr-shared", passed("seq-first"))
    await rig.handler.handle(delivery("seq-first", "vr-shared"))
    assert await rig.handler.handle(delivery("seq-other", "vr-shared")) is Disposition.DECIDED
    first, other = rig.events()
    assert (other.out_seq_no, other.outcome, other.reason) == (
        "seq-other",
        "rejected",
        "credential_reused",
    )
    assert other.message_id != first.message_id
    again = await rig.handler.handle(delivery("seq-other", "vr-shared"))
    assert again is Disposition.REPUBLISHED
    assert rig.events()[-1] == other
    assert await status_of(rig.store, "seq-first") == Status.VERIFIED


@pytest.mark.parametrize("flow", list(Flow))
async def test_unknown_session_is_published_without_asking_wechat(rig: Rig, flow: Flow) -> None:
    """A message for an out_seq_no with no session → rejected/unknown_session, WeChat not called."""
    credential = "vr-ghost" if flow is Flow.LEGACY else None
    assert (
        await rig.handler.handle(delivery("seq-ghost", credential, flow=flow))
        is Disposition.DECIDED
    )
    [event] = rig.events()
    assert (event.outcome, event.reason, event.wechat_code) == ("rejected", "unknown_session", None)
    assert rig.wechat.calls == []
    assert await rig.store.decisions_for("seq-ghost") == []


async def test_permanent_answer_rejects_with_its_reason(rig: Rig) -> None:
    """84002 from getinfo → rejected / credential_expired with wechat_code 84002."""
    await legacy_session(rig.store, "seq-old")
    rig.wechat.script("vr-old", WechatApiError(84002, "expired", WechatErrorKind.PERMANENT))
    await rig.handler.handle(delivery("seq-old", "vr-old"))
    [event] = rig.events()
    assert (event.outcome, event.reason, event.wechat_code) == (
        "rejected",
        "credential_expired",
        84002,
    )
    session = await rig.store.get_session("seq-old")
    assert session is not None
    assert (session.status, session.reason) == (Status.REJECTED, "credential_expired")


async def test_transient_failure_parks_the_message_in_a_retry_tier(rig: Rig) -> None:
    """-1 from WeChat → the same body goes to a retry tier, attempt counted, no outcome yet."""
    await legacy_session(rig.store, "seq-busy")
    rig.wechat.script("vr-busy", WechatApiError(-1, "busy", WechatErrorKind.TRANSIENT))
    d = delivery("seq-busy", "vr-busy", attempt=2)
    assert await rig.handler.handle(d) is Disposition.RETRY_SCHEDULED
    [parked] = rig.publisher.published
    assert parked.exchange == ""
    assert parked.routing_key.startswith("wxunit.retry.")
    assert (parked.body, parked.message_id, parked.headers) == (
        d.body,
        d.message_id,
        {ATTEMPT_HEADER: 3},
    )
    assert rig.events() == []


async def test_retries_end_as_upstream_unavailable_at_the_end_of_the_credential_life(
    rig: Rig,
) -> None:
    """When no retry tier fits in the credential's life: failed/upstream_unavailable."""
    await legacy_session(rig.store, "seq-late")
    rig.wechat.script("vr-late", WechatApiError(-1, "busy", WechatErrorKind.TRANSIENT))
    d = delivery("seq-late", "vr-late", attempt=5, received_at=time.time() - 296)
    assert await rig.handler.handle(d) is Disposition.DECIDED
    [event] = rig.events()
    assert (event.outcome, event.reason, event.wechat_code) == (
        "failed",
        "upstream_unavailable",
        -1,
    )


@pytest.mark.parametrize("errcode", [40164, 48001])
async def test_configuration_error_is_dead_lettered_with_its_cause(rig: Rig, errcode: int) -> None:
    """A configuration error is no verdict: to the DLX with the cause in headers."""
    await legacy_session(rig.store, "seq-conf")
    rig.wechat.script("vr-conf", WechatApiError(errcode, "config", WechatErrorKind.CONFIG))
    d = delivery("seq-conf", "vr-conf")
    assert await rig.handler.handle(d) is Disposition.DEAD_LETTERED
    [dead] = rig.publisher.published
    assert (dead.exchange, dead.body, dead.message_id) == (TOPOLOGY.dlx, d.body, d.message_id)
    assert dead.headers == {DEAD_CAUSE_HEADER: "wechat_config", DEAD_ERRCODE_HEADER: errcode}
    assert await status_of(rig.store, "seq-conf") == Status.PENDING
    assert (
        'wxface_worker_dead_letters_total{cause="wechat_config"} 1.0'
        in rig.metrics.render().decode()
    )


@pytest.mark.parametrize(
    "body",
    [b"garbage", b"{}", orjson.dumps({"kind": "push", "flow": "legacy", "appid": APPID,
                                      "out_seq_no": "seq-x", "received_at": 1.0})],  # no credential
)  # fmt: skip
async def test_unreadable_message_is_dead_lettered(rig: Rig, body: bytes) -> None:
    """Bytes that are not a usable work item go to the DLX as unreadable."""
    assert await rig.handler.handle(Delivery(body, None, {})) is Disposition.DEAD_LETTERED
    [dead] = rig.publisher.published
    assert dead.headers == {DEAD_CAUSE_HEADER: "unreadable"}
    assert len(dead.message_id) == 32


async def test_work_item_for_another_appid_is_dead_lettered(rig: Rig) -> None:
    """A work item for another mini-program is not ours to decide."""
    item = WorkItem(kind="push", flow=Flow.LEGACY, appid="wxffffffffffffffff", out_seq_no="seq-f",
                    verify_result="vr", received_at=time.time())  # fmt: skip
    assert await rig.handler.handle(Delivery(item.encode(), None, {})) is Disposition.DEAD_LETTERED


async def test_v2_pass_and_not_finished(rig: Rig) -> None:
    """v2: 10300 asks again later; 10000 is verified with wechat_code 10000."""
    await v2_session(rig.store, "seq-v2")
    rig.wechat.script("vid-seq-v2", VerifyInfo(verify_ret=10300), VerifyInfo(verify_ret=10000))
    assert await rig.handler.handle(delivery("seq-v2", flow=Flow.V2)) is Disposition.RETRY_SCHEDULED
    assert (
        await rig.handler.handle(delivery("seq-v2", flow=Flow.V2, attempt=1)) is Disposition.DECIDED
    )
    [event] = rig.events()
    assert (event.outcome, event.wechat_code, event.flow, event.openid) == (
        "verified",
        10000,
        Flow.V2,
        OPENID,
    )


async def test_verified_session_is_never_downgraded(rig: Rig) -> None:
    """A later credential's rejection is published for it, but the session stays verified."""
    await legacy_session(rig.store, "seq-keep")
    rig.wechat.script("vr-good", passed("seq-keep"))
    rig.wechat.script("vr-bad", passed("seq-keep", identify_ret=10004))
    await rig.handler.handle(delivery("seq-keep", "vr-good"))
    await rig.handler.handle(delivery("seq-keep", "vr-bad"))
    assert [e.outcome for e in rig.events()] == ["verified", "rejected"]
    assert await status_of(rig.store, "seq-keep") == Status.VERIFIED


async def test_broker_hiccup_is_waited_out(rig: Rig) -> None:
    """Two failed publishes are retried within the patience; the outcome is then confirmed."""
    await legacy_session(rig.store, "seq-hic")
    rig.wechat.script("vr-hic", passed("seq-hic"))
    rig.publisher.failures = 2
    assert await rig.handler.handle(delivery("seq-hic", "vr-hic")) is Disposition.DECIDED
    assert len(rig.events()) == 1


async def test_broker_down_hands_back_and_redelivery_republishes_the_stored_decision(
    rig: Rig,
) -> None:
    """Stored, not published (broker down): hand back; the redelivery publishes the stored one."""
    await legacy_session(rig.store, "seq-down")
    rig.wechat.script("vr-down", passed("seq-down"), passed("seq-down", identify_ret=10001))
    rig.publisher.failures = 1_000
    with pytest.raises(HandBackError):
        await rig.handler.handle(delivery("seq-down", "vr-down"))
    assert rig.events() == []
    rig.publisher.failures = 0
    assert await rig.handler.handle(delivery("seq-down", "vr-down")) is Disposition.REPUBLISHED
    [event] = rig.events()
    [decision] = await rig.store.decisions_for("seq-down")
    assert (event.outcome, event.message_id) == ("verified", decision.message_id)


async def test_logs_carry_no_credential_or_personal_data(rig: Rig) -> None:
    """Handling logs neither the verify_result nor the md5s, and binds no personal data."""
    await legacy_session(rig.store, "seq-log")
    rig.wechat.script("vr-secret-credential", passed("seq-log", identify_ret=10003))
    with capture_logs() as logs:
        await rig.handler.handle(delivery("seq-log", "vr-secret-credential"))
    text = repr(logs)
    assert logs
    assert "vr-secret-credential" not in text
    assert id_card_md5(ID_NUMBER) not in text
    assert name_md5(NAME) not in text
