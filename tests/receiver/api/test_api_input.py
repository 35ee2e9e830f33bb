"""Hostile and malformed requests to the business API: clear 4xx JSON, nothing stored or queued."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from shared.settings import ReceiverSettings
from standin.keys import STATE
from tests.receiver.api.conftest import ApiFactory
from tests.receiver.api.support import (
    API_KEY,
    AUTH,
    ID_NUMBER,
    NAME,
    OTHER_KEY,
    get_status,
    legacy_body,
    post,
    seq,
    v2_body,
    work_items,
)
from tests.receiver.conftest import Client
from tests.shared.store.support import Database

pytestmark = pytest.mark.broker

ENDPOINTS = [
    ("POST", "/v1/verifications"),
    ("POST", "/v1/verifications/abcdef/result"),
    ("GET", "/v1/verifications/abcdef"),
]
BAD_AUTHORIZATION = [
    None,
    f"Bearer {API_KEY}x",
    f"Basic {API_KEY}",
    "Bearer ",
    API_KEY,
    f"Bearer {API_KEY[:-1]}",
]


@pytest.fixture
def backend() -> str:
    """Input checks stop before the store: SQLite alone is enough here."""
    return "sqlite"


async def _nothing_happened(
    database: Database, standin: web.Application, settings: ReceiverSettings
) -> None:
    assert await database.count("SELECT count(*) FROM sessions") == 0
    calls = standin[STATE].stats.calls
    assert calls["getuseridkey"] + calls["getverifyid"] == 0
    assert await work_items(settings) == []


async def _send(client: Client, method: str, path: str, data: bytes, **headers: str) -> Any:
    async with client.request(method, path, data=data, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json(), response.headers


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_missing_or_unknown_key_is_401(
    api: Client,
    database: Database,
    standin: web.Application,
    api_settings: ReceiverSettings,
    method: str,
    path: str,
) -> None:
    """Every endpoint answers 401 (JSON, WWW-Authenticate) to a missing or unknown key."""
    for authorization in BAD_AUTHORIZATION:
        headers = {} if authorization is None else {"Authorization": authorization}
        body = orjson.dumps(legacy_body())
        status, answer, response_headers = await _send(api, method, path, body, **headers)
        assert (status, answer["error"]) == (401, "unauthorized")
        assert response_headers["WWW-Authenticate"] == "Bearer"
        assert API_KEY not in repr(answer)
    await _nothing_happened(database, standin, api_settings)


async def test_every_configured_key_is_accepted(api: Client) -> None:
    """Each comma-separated key works; the scheme is case-insensitive."""
    out = seq()
    async with api.post(
        "/v1/verifications", json=legacy_body(out), headers={"Authorization": f"bearer {OTHER_KEY}"}
    ) as response:
        assert response.status == 201
    assert (await get_status(api, out))[0] == 200


async def test_openapi_document_needs_no_key(api: Client) -> None:
    """The OpenAPI document is served without a key and names the three operations."""
    async with api.get("/v1/openapi.json") as response:
        assert response.status == 200
        document = await response.json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) >= {
        "/v1/verifications",
        "/v1/verifications/{out_seq_no}",
        "/v1/verifications/{out_seq_no}/result",
    }


def _with(**fields: Any) -> bytes:
    body = legacy_body(seq())
    body.update(fields)
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


BAD_REGISTRATIONS = [
    pytest.param(b"{", 400, "JSON", id="invalid-json"),
    pytest.param(b"[1, 2]", 400, "object", id="json-array"),
    pytest.param(b'"text"', 400, "object", id="json-string"),
    pytest.param(b"", 422, "name", id="empty-body"),
    pytest.param(b"{}", 422, "id_card_number", id="empty-object"),
    pytest.param(_with(name=...), 422, "name", id="missing-name"),
    pytest.param(_with(id_card_number=...), 422, "id_card_number", id="missing-id"),
    pytest.param(_with(name=""), 422, "name", id="empty-name"),
    pytest.param(_with(name="   "), 422, "name: must not be blank", id="blank-name"),
    pytest.param(_with(name=42), 422, "name", id="name-not-a-string"),
    pytest.param(_with(name="名" * 65), 422, "name", id="name-too-long"),
    pytest.param(_with(id_card_number="110105194912310021"), 422, "check", id="bad-checksum"),
    pytest.param(_with(id_card_number="11010519491231002"), 422, "18", id="id-too-short"),
    pytest.param(_with(id_card_number="11010519491231002Y"), 422, "18", id="id-bad-last"),
    pytest.param(
        _with(id_card_number="１１０１０５１９４９１２３１００２X"), 422, "18", id="fullwidth"
    ),
    pytest.param(_with(id_card_number=110105194912310020), 422, "id_card_number", id="id-int"),
    pytest.param(_with(flow="v3"), 422, "flow", id="unknown-flow"),
    pytest.param(_with(flow="v2"), 422, "openid is required", id="v2-without-openid"),
    pytest.param(_with(openid="o b c d e f"), 422, "openid", id="openid-with-spaces"),
    pytest.param(_with(openid="abc"), 422, "openid", id="openid-too-short"),
    pytest.param(_with(out_seq_no="abcd"), 422, "out_seq_no", id="out_seq_no-too-short"),
    pytest.param(_with(out_seq_no="a" * 33), 422, "out_seq_no", id="out_seq_no-too-long"),
    pytest.param(_with(out_seq_no="abc/def"), 422, "out_seq_no", id="out_seq_no-slash"),
    pytest.param(_with(out_seq_no="序号序号序号"), 422, "out_seq_no", id="out_seq_no-cjk"),
    pytest.param(_with(out_seq_no=12345), 422, "out_seq_no", id="out_seq_no-int"),
    pytest.param(_with(extra="x"), 422, "extra: is not a known field", id="unknown-field"),
    pytest.param(_with(**{NAME: 1}), 422, "a field: is not a known field", id="pii-as-key"),
]


@pytest.mark.parametrize(("data", "status", "detail"), BAD_REGISTRATIONS)
async def test_bad_registration_is_refused_clearly(
    api: Client,
    database: Database,
    standin: web.Application,
    api_settings: ReceiverSettings,
    data: bytes,
    status: int,
    detail: str,
) -> None:
    """A malformed registration is 400/422 naming the field, echoing no value; nothing happens."""
    code, answer, _ = await _send(api, "POST", "/v1/verifications", data, **AUTH)
    assert code == status
    assert answer["error"] == ("malformed_json" if status == 400 else "invalid_request")
    assert detail in answer["detail"]
    assert NAME not in answer["detail"]
    assert ID_NUMBER[:17] not in answer["detail"]
    await _nothing_happened(database, standin, api_settings)


async def test_huge_body_is_413(
    api: Client, database: Database, standin: web.Application, api_settings: ReceiverSettings
) -> None:
    """A body over the receiver's limit is refused with 413 before it is parsed."""
    huge = orjson.dumps(legacy_body(seq(), padding="x" * (api_settings.max_body_bytes + 1)))
    status, answer, _ = await _send(api, "POST", "/v1/verifications", huge, **AUTH)
    assert (status, answer["error"]) == (413, "body_too_large")
    await _nothing_happened(database, standin, api_settings)


BAD_RESULTS = [
    pytest.param(b"{", 400, id="invalid-json"),
    pytest.param(b"[]", 400, id="json-array"),
    pytest.param(b'{"verify_result": 7}', 422, id="verify_result-int"),
    pytest.param(b'{"verify_result": "a b"}', 422, id="verify_result-space"),
    pytest.param(b'{"verify_result": ""}', 422, id="verify_result-empty"),
    pytest.param(b'{"verify_result": "ok", "x": 1}', 422, id="unknown-field"),
    pytest.param(b"{}", 422, id="legacy-without-verify_result"),
]


@pytest.mark.parametrize(("data", "status"), BAD_RESULTS)
async def test_bad_result_is_refused_and_nothing_queued(
    api: Client, api_settings: ReceiverSettings, data: bytes, status: int
) -> None:
    """A malformed result submission is 400/422; nothing is queued and the session stays."""
    out = seq()
    assert (await post(api, "/v1/verifications", legacy_body(out)))[0] == 201
    code, answer, _ = await _send(api, "POST", f"/v1/verifications/{out}/result", data, **AUTH)
    assert code == status
    assert answer["detail"]
    assert await work_items(api_settings) == []
    assert (await get_status(api, out))[1]["status"] == "pending"


@pytest.mark.parametrize("out_seq_no", ["abc", "a" * 33, "bad.char", "%E5%BA%8F%E5%8F%B7%E5%8F%B7"])
async def test_malformed_out_seq_no_in_the_path_is_422(api: Client, out_seq_no: str) -> None:
    """A path out_seq_no outside the contract's alphabet/length is 422 on both routes."""
    for method, path in [
        ("GET", f"/v1/verifications/{out_seq_no}"),
        ("POST", f"/v1/verifications/{out_seq_no}/result"),
    ]:
        status, answer, _ = await _send(api, method, path, b"{}", **AUTH)
        assert (status, answer["error"]) == (422, "invalid_request")
        assert "out_seq_no" in answer["detail"]


async def test_unknown_route_and_method_are_json(api: Client) -> None:
    """Unknown paths under /v1 are a JSON 404, a wrong method a JSON 405 with Allow."""
    status, answer, _ = await _send(api, "GET", "/v1/nothing/here", b"", **AUTH)
    assert (status, answer["error"]) == (404, "not_found")
    status, answer, headers = await _send(api, "DELETE", "/v1/verifications", b"", **AUTH)
    assert (status, answer["error"]) == (405, "method_not_allowed")
    assert "POST" in headers["Allow"]


async def test_business_api_is_off_without_keys(make_api: ApiFactory) -> None:
    """Without WXFACE_API_KEYS no /v1 route exists (the push endpoint still does)."""
    client = await make_api(api_keys=None)
    async with client.post("/v1/verifications", json=legacy_body(), headers=AUTH) as response:
        assert response.status == 404
    async with client.get("/healthz") as response:
        assert response.status == 200


async def test_request_id_is_echoed_and_logged_without_personal_data(api: Client) -> None:
    """The request id comes back and tags the logs; no name, ID number or key is logged."""
    with capture_logs(processors=[merge_contextvars]) as logs:
        async with api.post(
            "/v1/verifications",
            json=legacy_body(seq()),
            headers={**AUTH, "X-Request-Id": "req-123"},
        ) as response:
            assert response.status == 201
            assert response.headers["X-Request-Id"] == "req-123"
        async with api.get("/v1/verifications/abcdef", headers=AUTH) as response:
            generated = response.headers["X-Request-Id"]
    served = [e for e in logs if e["event"] == "api_request_served"]
    assert [e["request_id"] for e in served] == ["req-123", generated]
    assert generated != "req-123"
    assert any(e["event"] == "verification_registered" for e in logs)
    text = repr(logs)
    for secret in (NAME, ID_NUMBER, API_KEY):
        assert secret not in text


async def test_v2_openid_rule_names_the_field(api: Client) -> None:
    """v2 without openid is 422 and says openid is required (no WeChat call)."""
    body = v2_body(seq())
    del body["openid"]
    status, answer = await post(api, "/v1/verifications", body)
    assert status == 422
    assert "openid is required for the v2 flow" in answer["detail"]


async def test_keys_around_commas_are_trimmed(
    make_api: ApiFactory,
) -> None:
    """Keys with spaces around the commas are trimmed: ' k1 , k2 ' accepts k1 and k2."""
    client = await make_api(api_keys=SecretStr(f" {OTHER_KEY} ,{API_KEY} "))
    assert (await post(client, "/v1/verifications", legacy_body(seq())))[0] == 201
