"""The API's HTTP boundary and use cases with hand-written fakes: keys, 503s, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from receiver.api_http import API_KEYS, boundary, key_accepted, key_digests
from receiver.api_models import RegistrationRequest, ResultSubmission
from receiver.api_service import Verifications
from shared.errors import (
    NotDurableError,
    StoreUnavailableError,
    UpstreamRefusedError,
    WechatApiError,
    WechatErrorKind,
)
from shared.store import Store, open_store
from shared.vocabulary import Status
from shared.wechat.result import UserIdKeyResult, VerifyIdResult
from shared.work import WorkItem
from tests.receiver.api.support import API_KEY, AUTH, legacy_body, seq
from tests.receiver.conftest import Client
from tests.shared.store.support import DATA_KEY

DIGESTS = key_digests(frozenset({API_KEY, "other"}))


class FakeWechat:
    """Registers everyone, or refuses with ``errcode`` when set; counts calls."""

    def __init__(self, errcode: int | None = None) -> None:
        self.errcode = errcode
        self.calls = 0

    async def get_user_id_key(
        self, name: str, id_card_number: str, out_seq_no: str
    ) -> UserIdKeyResult:
        """Legacy registration."""
        self.calls += 1
        if self.errcode is not None:
            raise WechatApiError(self.errcode, "refused", WechatErrorKind.PERMANENT)
        return UserIdKeyResult(user_id_key="key-" + out_seq_no, expires_in=60)

    async def get_verify_id(
        self, out_seq_no: str, cert_name: str, cert_no: str, openid: str
    ) -> VerifyIdResult:
        """v2 registration."""
        self.calls += 1
        return VerifyIdResult(verify_id="vid-" + out_seq_no, expires_in=60)


class FakeIntake:
    """Accepts (remembering the items) or, when ``durable`` is false, cannot."""

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable
        self.items: list[WorkItem] = []

    async def accept(self, item: WorkItem) -> str:
        """Remember the item or raise NotDurableError."""
        if not self.durable:
            raise NotDurableError("cannot store the push durably right now")
        self.items.append(item)
        return "broker"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A SQLite store of this test's own, closed afterwards."""
    opened = await open_store(f"sqlite:///{tmp_path / 'api.db'}", DATA_KEY)
    yield opened
    await opened.close()


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        (f"Bearer {API_KEY}", True),
        (f"BEARER {API_KEY}", True),
        ("Bearer other", True),
        (f"Bearer {API_KEY} ", True),
        (f"Token {API_KEY}", False),
        ("Bearer", False),
        ("Bearer ", False),
        (None, False),
        (f"Bearer {API_KEY.upper()}", False),
    ],
)
def test_key_accepted(authorization: str | None, accepted: bool) -> None:
    """Only ``Bearer <configured key>`` passes."""
    assert key_accepted(authorization, DIGESTS) is accepted


def test_no_configured_key_accepts_nothing() -> None:
    """With no digests (or an empty key) nothing authenticates."""
    assert not key_accepted("Bearer ", key_digests(frozenset({""})))
    assert not key_accepted(f"Bearer {API_KEY}", ())


async def test_registration_refused_by_wechat_stores_nothing(store: Store) -> None:
    """A WeChat refusal becomes UpstreamRefusedError with WeChat's errcode; no session."""
    service = Verifications(store, FakeWechat(errcode=84001), FakeIntake(), "wxapp")
    out = seq()
    request = RegistrationRequest.model_validate(legacy_body(out))
    with pytest.raises(UpstreamRefusedError) as refused:
        await service.register(request)
    assert refused.value.errcode == 84001
    assert await store.get_session(out) is None


async def test_result_not_durable_leaves_the_session_pending(store: Store) -> None:
    """When the intake cannot make the result durable, the session is not marked queued."""
    intake = FakeIntake(durable=False)
    service = Verifications(store, FakeWechat(), intake, "wxapp")
    out = seq()
    await service.register(RegistrationRequest.model_validate(legacy_body(out)))
    with pytest.raises(NotDurableError):
        await service.submit_result(out, ResultSubmission(verify_result="cred"))
    session = await store.get_session(out)
    assert session is not None
    assert session.status is Status.PENDING


async def _unavailable_store(request: web.Request) -> web.Response:
    raise StoreUnavailableError("database is locked")


async def _not_durable(request: web.Request) -> web.Response:
    raise NotDurableError("spool full")


async def test_unavailable_store_and_intake_are_503_json(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
) -> None:
    """Store and durable-intake failures are a 503 JSON error that hides the internals."""
    app = web.Application(middlewares=[boundary])
    app[API_KEYS] = DIGESTS
    app.router.add_get("/store", _unavailable_store)
    app.router.add_get("/intake", _not_durable)
    client = await aiohttp_client(app)
    for path, code in [("/store", "unavailable"), ("/intake", "not_durable")]:
        async with client.get(path, headers=AUTH) as response:
            assert response.status == 503
            body = await response.json()
        assert body["error"] == code
        assert "locked" not in body["detail"]
