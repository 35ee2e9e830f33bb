"""50 concurrent registrations and result submissions: no lost update, no duplicate decision."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiohttp import web

from receiver.api import RUNTIME
from shared.settings import ReceiverSettings
from shared.store import Decision, Store
from shared.vocabulary import Flow, Outcome, Status
from shared.work import WorkItem
from standin.keys import FACE, STATE
from tests.receiver.api.support import (
    get_status,
    id_number,
    legacy_body,
    post,
    seq,
    v2_body,
    work_items,
)
from tests.receiver.conftest import Client
from tests.shared.store.support import Database

pytestmark = pytest.mark.broker

N = 50


def _store(client: Client) -> Store:
    return client.app[RUNTIME].store


def _decision(store: Store, item: WorkItem) -> Decision:
    """What a worker would record for this work item (one decision per credential)."""
    credential = store.protector.credential_hash(item.verify_result or "")
    return Decision(
        out_seq_no=item.out_seq_no,
        credential=credential,
        outcome=Outcome.VERIFIED,
        reason=None,
        wechat_code=0,
        message_id=item.message_id(),
        decided_at=datetime.now(UTC),
        decided_by="test-worker",
    )


async def test_one_out_seq_no_registered_50_times_has_one_winner(
    api: Client, standin: web.Application, database: Database
) -> None:
    """Exactly one 201 and 49 409s; WeChat is asked once; the stored key is WeChat's."""
    out = seq()
    answers = await asyncio.gather(
        *(post(api, "/v1/verifications", legacy_body(out)) for _ in range(N))
    )
    assert Counter(status for status, _ in answers) == {201: 1, 409: N - 1}
    assert standin[STATE].stats.calls["getuseridkey"] == 1
    assert await database.count("SELECT count(*) FROM sessions") == 1
    session = await _store(api).get_session(out)
    assert session is not None
    assert session.user_id_key == standin[STATE].legacy[out].user_id_key


async def test_50_different_registrations_all_succeed(
    api: Client, standin: web.Application, database: Database
) -> None:
    """50 concurrent registrations (legacy and v2) all succeed, each stored with its own key."""
    outs = [seq() for _ in range(N)]
    bodies = [
        (legacy_body if i % 2 else v2_body)(out, id_card_number=id_number(i))
        for i, out in enumerate(outs)
    ]
    answers = await asyncio.gather(*(post(api, "/v1/verifications", b) for b in bodies))
    assert [status for status, _ in answers] == [201] * N
    assert await database.count("SELECT count(*) FROM sessions") == N
    state = standin[STATE]
    for out in outs:
        session = await _store(api).get_session(out)
        assert session is not None
        if session.flow is Flow.LEGACY:
            assert session.user_id_key == state.legacy[out].user_id_key
        else:
            assert session.verify_id == state.v2[out].verify_id


async def test_50_concurrent_results_lead_to_one_decision_per_credential(
    api: Client, standin: web.Application, api_settings: ReceiverSettings
) -> None:
    """5 sessions × 10 concurrent submissions: all 202, all queued, one decision each."""
    outs = [seq() for _ in range(5)]
    credentials = {}
    for out in outs:
        assert (await post(api, "/v1/verifications", legacy_body(out)))[0] == 201
        credentials[out], _ = standin[FACE].complete_legacy(out)
    submissions = [
        post(api, f"/v1/verifications/{out}/result", {"verify_result": credentials[out]})
        for out in outs
        for _ in range(N // len(outs))
    ]
    answers = await asyncio.gather(*submissions)
    assert answers == [(202, {"status": "queued"})] * N
    items = await work_items(api_settings)
    assert len(items) == N
    assert len({item.message_id() for item in items}) == len(outs)
    store = _store(api)
    decided = await asyncio.gather(*(store.decide(_decision(store, item)) for item in items))
    assert sum(d.new for d in decided) == len(outs)
    for out in outs:
        assert len(await store.decisions_for(out)) == 1
        assert (await get_status(api, out))[1]["status"] == "verified"


async def test_registrations_and_results_racing_on_one_session_lose_nothing(
    api: Client, standin: web.Application, api_settings: ReceiverSettings
) -> None:
    """25 re-registrations (all 409) race 25 submissions (all 202): the session stays intact."""
    out = seq()
    await post(api, "/v1/verifications", v2_body(out))
    verify_id = standin[STATE].v2[out].verify_id
    standin[FACE].complete_v2(out)
    half = N // 2
    answers = await asyncio.gather(
        *(post(api, "/v1/verifications", v2_body(out)) for _ in range(half)),
        *(post(api, f"/v1/verifications/{out}/result", {}) for _ in range(half)),
    )
    assert [status for status, _ in answers] == [409] * half + [202] * half
    session = await _store(api).get_session(out)
    assert session is not None
    assert (session.status, session.verify_id) == (Status.QUEUED, verify_id)
    items = await work_items(api_settings)
    assert len(items) == half
    assert len({item.message_id() for item in items}) == 1
    assert standin[STATE].stats.calls["getverifyid"] == 1
