"""End to end per reason code, both flows: real RabbitMQ, the WeChat stand-in, the SQLite store."""

from __future__ import annotations

import time

import pytest

from shared.store.model import NewSession
from shared.vocabulary import Flow, Outcome, Reason, Status
from standin.scenario import Script
from tests.worker.rig import E2E, OPENID, Received, _in
from worker.outcome import outcome_message_id

pytestmark = pytest.mark.broker

R = Reason
LEGACY_CASES = [
    ("verified", None, Outcome.VERIFIED, None, 0),
    ("not_passed", Script(identify_ret=10004), Outcome.REJECTED, R.NOT_PASSED, 10004),
    ("identity_mismatch", Script(other_person=True), Outcome.REJECTED, R.IDENTITY_MISMATCH, 0),
    ("openid_mismatch", Script(openid="o-somebody-else"), Outcome.REJECTED, R.OPENID_MISMATCH, 0),
    ("credential_expired", Script(errcode=84002), Outcome.REJECTED, R.CREDENTIAL_EXPIRED, 84002),
    ("credential_not_found", Script(errcode=84003), Outcome.REJECTED, R.CREDENTIAL_NOT_FOUND,
     84003),
    ("transient then verified", Script(transient=2), Outcome.VERIFIED, None, 0),
    ("token invalidated, then verified", Script(invalidate_token=1), Outcome.VERIFIED, None, 0),
]  # fmt: skip


def check_delivery(got: Received, out_seq_no: str, outcome: Outcome) -> None:
    """The event is persistent JSON with message_id = id, routed by its outcome."""
    assert got.event.out_seq_no == out_seq_no
    assert got.event.outcome is outcome
    assert got.routing_key == f"identity.{outcome.value}"
    assert got.message_id == got.event.message_id
    assert got.content_type == "application/json"
    assert got.persistent


async def status_of(e2e: E2E, out_seq_no: str) -> tuple[Status, str | None]:
    """The stored session's status and reason."""
    session = await e2e.store.get_session(out_seq_no)
    assert session is not None
    return session.status, session.reason


@pytest.mark.parametrize(
    ("script", "outcome", "reason", "code"), [pytest.param(*c[1:], id=c[0]) for c in LEGACY_CASES]
)
async def test_legacy_outcome(
    e2e: E2E, script: Script | None, outcome: Outcome, reason: Reason | None, code: int
) -> None:
    """A legacy push ends in exactly the contract's outcome, reason and wechat_code, stored too."""
    await e2e.legacy("seq-legacy")
    verify_result = e2e.complete("seq-legacy")
    if script is not None:
        e2e.standin.script("seq-legacy", script)
    await e2e.push("seq-legacy", verify_result)
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-legacy", outcome)
    assert (got.event.reason, got.event.wechat_code, got.event.flow) == (reason, code, Flow.LEGACY)
    assert got.event.openid == OPENID
    assert await status_of(e2e, "seq-legacy") == (outcome.status, reason)


async def test_legacy_unknown_verify_result_is_credential_invalid(e2e: E2E) -> None:
    """A verify_result WeChat never issued → rejected / credential_invalid (84001)."""
    await e2e.legacy("seq-forged")
    await e2e.push("seq-forged", "forged-verify-result")
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-forged", Outcome.REJECTED)
    assert (got.event.reason, got.event.wechat_code) == (Reason.CREDENTIAL_INVALID, 84001)


async def test_replayed_credential_is_reused_and_the_push_retry_is_one_outcome(e2e: E2E) -> None:
    """A push twice is one decision (same message_id); its credential elsewhere is reused."""
    await e2e.legacy("seq-owner")
    await e2e.legacy("seq-thief")
    verify_result = e2e.complete("seq-owner")
    await e2e.push("seq-owner", verify_result)
    [first] = await e2e.downstream.take(1)
    await e2e.push("seq-owner", verify_result)
    [again] = await e2e.downstream.take(1)
    assert again.event == first.event
    await e2e.push("seq-thief", verify_result)
    [thief] = await e2e.downstream.take(1)
    check_delivery(thief, "seq-thief", Outcome.REJECTED)
    assert thief.event.reason is Reason.CREDENTIAL_REUSED
    assert await status_of(e2e, "seq-owner") == (Status.VERIFIED, None)


@pytest.mark.parametrize("flow", list(Flow))
async def test_unknown_session(e2e: E2E, flow: Flow) -> None:
    """A message for an out_seq_no nobody registered → rejected / unknown_session."""
    if flow is Flow.LEGACY:
        await e2e.push("seq-nobody", "some-verify-result")
    else:
        await e2e.result("seq-nobody")
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-nobody", Outcome.REJECTED)
    assert (got.event.reason, got.event.flow) == (Reason.UNKNOWN_SESSION, flow)


async def test_legacy_upstream_unavailable_at_the_end_of_the_credential_life(e2e: E2E) -> None:
    """WeChat failing until the verify_result's life is over → failed / upstream_unavailable."""
    await e2e.legacy("seq-down")
    verify_result = e2e.complete("seq-down")
    e2e.standin.script("seq-down", Script(transient=1_000))
    await e2e.push("seq-down", verify_result, age_s=290)  # 10 s of life left: a retry or two
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-down", Outcome.FAILED)
    assert (got.event.reason, got.event.wechat_code) == (Reason.UPSTREAM_UNAVAILABLE, -1)
    assert time.time() - (got.event.time.timestamp()) < 5
    assert await status_of(e2e, "seq-down") == (Status.FAILED, Reason.UPSTREAM_UNAVAILABLE)


V2_CASES = [
    ("verified", None, Outcome.VERIFIED, None, 10000),
    ("not_passed", Script(verify_ret=90002), Outcome.REJECTED, Reason.NOT_PASSED, 90002),
    ("not finished twice, then verified", Script(not_finished=2), Outcome.VERIFIED, None, 10000),
    ("credential_not_found", Script(errcode=84003), Outcome.REJECTED, Reason.CREDENTIAL_NOT_FOUND,
     84003),
    ("credential_expired", Script(errcode=84002), Outcome.REJECTED, Reason.CREDENTIAL_EXPIRED,
     84002),
]  # fmt: skip


@pytest.mark.parametrize(
    ("script", "outcome", "reason", "code"), [pytest.param(*c[1:], id=c[0]) for c in V2_CASES]
)
async def test_v2_outcome(
    e2e: E2E, script: Script | None, outcome: Outcome, reason: Reason | None, code: int
) -> None:
    """A v2 result notice ends in exactly the contract's outcome, reason and wechat_code."""
    await e2e.v2("seq-v2")
    e2e.face.complete_v2("seq-v2")
    if script is not None:
        e2e.standin.script("seq-v2", script)
    await e2e.result("seq-v2")
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-v2", outcome)
    assert (got.event.reason, got.event.wechat_code, got.event.flow) == (reason, code, Flow.V2)
    assert await status_of(e2e, "seq-v2") == (outcome.status, reason)


async def test_v2_upstream_unavailable_before_the_verify_id_expires(e2e: E2E) -> None:
    """v2 failing until the session (verify_id) expires → failed / upstream_unavailable."""
    await e2e.v2("seq-v2-down", expires_in_s=8)
    e2e.face.complete_v2("seq-v2-down")
    e2e.standin.script("seq-v2-down", Script(transient=1_000))
    await e2e.result("seq-v2-down")
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-v2-down", Outcome.FAILED)
    assert (got.event.reason, got.event.wechat_code) == (Reason.UPSTREAM_UNAVAILABLE, -1)


@pytest.mark.parametrize("flow", list(Flow))
async def test_session_expired_by_the_sweep(e2e: E2E, flow: Flow) -> None:
    """A session still pending after its expiry → expired / session_expired, exactly once."""
    await e2e.store.create_session(
        NewSession(out_seq_no="seq-stale", flow=flow, expires_at=_in(0.3), openid=OPENID,
                   verify_id="vid" if flow is Flow.V2 else None)
    )  # fmt: skip
    [got] = await e2e.downstream.take(1)
    check_delivery(got, "seq-stale", Outcome.EXPIRED)
    assert (got.event.reason, got.event.wechat_code) == (Reason.SESSION_EXPIRED, None)
    assert got.event.message_id == outcome_message_id(
        got.event.appid, "seq-stale", "\x00session_expired"
    )
    assert await status_of(e2e, "seq-stale") == (Status.EXPIRED, Reason.SESSION_EXPIRED)
    [decision] = await e2e.store.decisions_for("seq-stale")
    assert decision.message_id == got.event.message_id
