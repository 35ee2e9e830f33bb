"""Business API flows on the real RabbitMQ, the stand-in as WeChat, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from receiver.api import RUNTIME
from shared.settings import ReceiverSettings
from shared.store import Store
from shared.vocabulary import Flow, Reason, Status
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from standin.keys import FACE, STATE
from tests.receiver.api.conftest import ApiFactory
from tests.receiver.api.support import (
    AUTH,
    ID_NUMBER,
    NAME,
    OPENID,
    get_status,
    legacy_body,
    post,
    seq,
    v2_body,
    work_items,
)
from tests.receiver.conftest import Client
from tests.shared.store.support import Database, decision

pytestmark = pytest.mark.broker


def _store(client: Client) -> Store:
    return client.app[RUNTIME].store


async def test_legacy_registration_stores_only_hashes(
    api: Client, standin: web.Application, database: Database
) -> None:
    """A legacy registration calls getuseridkey with the out_seq_no and stores md5s, never PII."""
    out = seq()
    status, body = await post(api, "/v1/verifications", legacy_body(out))
    assert status == 201
    assert body["out_seq_no"] == out
    assert body["flow"] == "legacy"
    applicant = standin[STATE].legacy[out]  # WeChat now knows the out_seq_no: it will push
    assert body["user_id_key"] == applicant.user_id_key
    assert body["expires_in"] == 3600
    session = await _store(api).get_session(out)
    assert session is not None
    assert session.status is Status.PENDING
    protector = _store(api).protector
    assert protector.matches(session.id_md5_mac or "", id_card_md5(ID_NUMBER))
    assert protector.matches(session.name_md5_mac or "", name_md5(NAME))
    assert session.user_id_key == applicant.user_id_key
    expected_expiry = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs((session.expires_at - expected_expiry).total_seconds()) < 30
    rows = repr(await database.rows("SELECT * FROM sessions"))
    assert NAME not in rows
    assert ID_NUMBER not in rows
    assert ID_NUMBER.lower() not in rows


async def test_v2_registration_seals_the_cert_hash_wechat_knows(
    api: Client, standin: web.Application
) -> None:
    """v2 calls getverifyid with the upper-cased ID number; the stored cert_hash is WeChat's."""
    out = seq()
    body = v2_body(out)
    body["id_card_number"] = ID_NUMBER.lower()  # a lower-case x is normalised before both
    status, reply = await post(api, "/v1/verifications", body)
    assert status == 201
    applicant = standin[STATE].v2[out]
    assert reply == {
        "out_seq_no": out,
        "flow": "v2",
        "verify_id": applicant.verify_id,
        "expires_in": 3600,
    }
    session = await _store(api).get_session(out)
    assert session is not None
    assert session.openid == OPENID
    assert session.flow is Flow.V2
    unsealed = _store(api).protector.unseal(session.cert_hash_sealed or "")
    assert unsealed == applicant.cert_hash == cert_hash(NAME, ID_NUMBER)


async def test_out_seq_no_is_generated_when_absent(api: Client) -> None:
    """Without an out_seq_no the service makes one of the contract's shape."""
    status, body = await post(api, "/v1/verifications", legacy_body())
    assert status == 201
    assert re.fullmatch(r"[A-Za-z0-9_-]{5,32}", body["out_seq_no"])
    assert await _store(api).get_session(body["out_seq_no"]) is not None


async def test_existing_out_seq_no_is_409_without_calling_wechat(
    api: Client, standin: web.Application
) -> None:
    """Registering a taken out_seq_no answers 409 and does not call WeChat again."""
    out = seq()
    assert (await post(api, "/v1/verifications", legacy_body(out)))[0] == 201
    status, body = await post(api, "/v1/verifications", v2_body(out))
    assert status == 409
    assert body["error"] == "session_exists"
    calls = standin[STATE].stats.calls
    assert (calls["getuseridkey"], calls["getverifyid"]) == (1, 0)


async def test_wechat_refusal_is_502_and_stores_nothing(
    make_api: ApiFactory, database: Database
) -> None:
    """WeChat refusing answers 502 with its errcode, and no session is stored."""
    refusing_api = await make_api(appsecret=SecretStr("wrong-secret"))
    out = seq()
    status, body = await post(refusing_api, "/v1/verifications", legacy_body(out))
    assert status == 502
    assert body["error"] == "wechat_refused"
    assert body["errcode"] == 40125
    assert NAME not in repr(body)
    assert ID_NUMBER not in repr(body)
    assert await database.count("SELECT count(*) FROM sessions") == 0


async def test_legacy_result_is_queued_once_per_credential(
    api: Client, standin: web.Application, api_settings: ReceiverSettings
) -> None:
    """A legacy result is queued durably as a result work item; a resubmission has its id."""
    out = seq()
    await post(api, "/v1/verifications", legacy_body(out))
    verify_result, _ = standin[FACE].complete_legacy(out)
    path = f"/v1/verifications/{out}/result"
    for _ in range(2):
        assert await post(api, path, {"verify_result": verify_result}) == (
            202,
            {"status": "queued"},
        )
    first, second = await work_items(api_settings)
    assert first.kind == "result"
    assert first.flow is Flow.LEGACY
    assert (first.out_seq_no, first.verify_result) == (out, verify_result)
    assert first.message_id() == second.message_id()
    assert (await get_status(api, out))[1]["status"] == "queued"


async def test_v2_result_takes_an_empty_body(
    api: Client, standin: web.Application, api_settings: ReceiverSettings
) -> None:
    """A v2 result ({} or no body at all) queues a v2 work item without a verify_result."""
    out = seq()
    await post(api, "/v1/verifications", v2_body(out))
    standin[FACE].complete_v2(out)
    assert await post(api, f"/v1/verifications/{out}/result", {}) == (202, {"status": "queued"})
    async with api.post(f"/v1/verifications/{out}/result", headers=AUTH) as response:
        assert response.status == 202
    items = await work_items(api_settings)
    assert [(i.flow, i.verify_result, i.kind) for i in items] == [(Flow.V2, None, "result")] * 2


@pytest.mark.parametrize(
    ("make_body", "result"),
    [(legacy_body, {}), (v2_body, {"verify_result": "abc"})],
    ids=["legacy-without-verify_result", "v2-with-verify_result"],
)
async def test_result_body_must_fit_the_flow(
    api: Client,
    api_settings: ReceiverSettings,
    make_body: Callable[[str], dict[str, Any]],
    result: dict[str, Any],
) -> None:
    """A result body of the wrong flow's shape is 422 and nothing is queued or changed."""
    out = seq()
    await post(api, "/v1/verifications", make_body(out))
    status, body = await post(api, f"/v1/verifications/{out}/result", result)
    assert status == 422
    assert "verify_result" in body["detail"]
    assert await work_items(api_settings) == []
    assert (await get_status(api, out))[1]["status"] == "pending"


async def test_result_for_a_decided_session_queues_nothing(
    api: Client, api_settings: ReceiverSettings
) -> None:
    """Once decided, a result submission answers 202 with the final status and queues nothing."""
    out = seq()
    await post(api, "/v1/verifications", v2_body(out))
    await _store(api).decide(decision(out, "cred-1", Reason.NOT_PASSED))
    status, body = await post(api, f"/v1/verifications/{out}/result", {})
    assert (status, body) == (202, {"status": "rejected"})
    assert await work_items(api_settings) == []


async def test_status_shows_the_session(api: Client) -> None:
    """GET shows flow, status, reason and RFC 3339 times, and nothing about the applicant."""
    out = seq()
    await post(api, "/v1/verifications", legacy_body(out, openid=OPENID))
    status, body = await get_status(api, out)
    assert status == 200
    assert set(body) == {
        "out_seq_no",
        "flow",
        "status",
        "reason",
        "created_at",
        "updated_at",
        "expires_at",
    }
    assert (body["out_seq_no"], body["flow"], body["status"], body["reason"]) == (
        out,
        "legacy",
        "pending",
        None,
    )
    created = datetime.fromisoformat(body["created_at"])
    assert created.tzinfo is not None
    assert datetime.fromisoformat(body["expires_at"]) - created > timedelta(minutes=59)


async def test_unknown_out_seq_no_is_404(api: Client, api_settings: ReceiverSettings) -> None:
    """Status and result of an unknown out_seq_no are 404 and nothing is queued."""
    out = seq()
    assert (await get_status(api, out))[0] == 404
    status, body = await post(api, f"/v1/verifications/{out}/result", {"verify_result": "x"})
    assert status == 404
    assert body["error"] == "not_found"
    assert await work_items(api_settings) == []


async def test_registration_race_between_two_processes_has_one_winner(
    make_api: ApiFactory, api: Client, database: Database
) -> None:
    """Two receivers on one database: both may ask WeChat, the store lets exactly one win."""
    other = await make_api()
    out = seq()
    results = await asyncio.gather(
        post(api, "/v1/verifications", legacy_body(out)),
        post(other, "/v1/verifications", legacy_body(out)),
    )
    assert sorted(status for status, _ in results) == [201, 409]
    assert await database.count("SELECT count(*) FROM sessions") == 1
