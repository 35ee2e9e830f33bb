"""WechatClient against the stand-in over real HTTP: tokens, results and error classes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from structlog.testing import capture_logs

from shared.errors import WechatApiError, WechatErrorKind
from shared.settings import AppSettings
from shared.wechat import errcode as ec
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from shared.wechat.client import TokenMode, WechatClient
from standin.app import FACE, STATE, create_standin_app
from standin.config import StandinConfig
from standin.scenario import Script
from tests.standin.fakes import FakeClock

NAME, ID_NUMBER, OPENID = "张三", "11010519491231002x", "o-standin-user-0001"
K = WechatErrorKind
TOKEN_REPLY = b'{"access_token": "tok-fake", "expires_in": 7200}'
ClientFactory = Callable[..., Coroutine[Any, Any, tuple[WechatClient, web.Application]]]


@pytest.fixture
async def clients() -> AsyncIterator[list[WechatClient]]:
    """Every client a test makes (it appends them), closed after the test."""
    made: list[WechatClient] = []
    yield made
    for client in made:
        await client.close()


@pytest.fixture
def clock() -> FakeClock:
    """The stand-in's clock."""
    return FakeClock()


@pytest.fixture
def make_client(
    aiohttp_server: AiohttpServer, clients: list[WechatClient], clock: FakeClock
) -> ClientFactory:
    """Start a stand-in (config overrides) and a client pointed at it."""

    async def make(
        secret: str | None = None,
        token_mode: TokenMode = "stable",
        timeout_s: float = 5.0,
        **overrides: Any,
    ) -> tuple[WechatClient, web.Application]:
        config = StandinConfig(clock=clock, **overrides)
        server = await aiohttp_server(create_standin_app(config))
        client = WechatClient(
            str(server.make_url("")),
            config.appid,
            secret or config.secret,
            token_mode=token_mode,
            timeout_s=timeout_s,
        )
        clients.append(client)
        return client, server.app

    return make


async def _legacy_verify_result(client: WechatClient, app: web.Application, seq: str) -> str:
    await client.get_user_id_key(NAME, ID_NUMBER, seq)
    verify_result, _ = app[FACE].complete_legacy(seq, OPENID)
    return verify_result


async def test_thousand_concurrent_calls_cost_one_token_fetch(make_client: ClientFactory) -> None:
    """1,000 concurrent calls on a cold client share a single token fetch."""
    client, app = await make_client()
    calls = [client.get_user_id_key(NAME, ID_NUMBER, f"seq-{i:05d}") for i in range(1000)]
    results = await asyncio.wait_for(asyncio.gather(*calls), timeout=60)
    assert len({r.user_id_key for r in results}) == 1000
    assert client.token_fetches == 1
    assert app[STATE].snapshot()["token_fetches"] == 1


async def test_token_invalidated_mid_run_is_refreshed_once(make_client: ClientFactory) -> None:
    """After WeChat retires the token, concurrent calls refresh once and all succeed."""
    client, app = await make_client()
    await client.get_user_id_key(NAME, ID_NUMBER, "seq-before")
    assert app[STATE].tokens.invalidate() == 1
    calls = [client.get_user_id_key(NAME, ID_NUMBER, f"seq-{i:04d}") for i in range(200)]
    results = await asyncio.wait_for(asyncio.gather(*calls), timeout=30)
    assert len(results) == 200
    assert client.token_fetches == 2
    assert app[STATE].stats.errcodes[40001] >= 1


async def test_scripted_token_rejection_is_retried_once(make_client: ClientFactory) -> None:
    """A 40001 on getinfo makes the client refresh and retry that call, which then succeeds."""
    client, app = await make_client()
    verify_result = await _legacy_verify_result(client, app, "seq-tok01")
    app[STATE].script("seq-tok01", Script(invalidate_token=1))
    info = await client.get_info(verify_result)
    assert info.identify_ret == 0
    assert client.token_fetches == 2


async def test_repeated_token_rejection_is_raised(make_client: ClientFactory) -> None:
    """A second rejection right after the refresh is raised as TOKEN, not retried forever."""
    client, app = await make_client()
    verify_result = await _legacy_verify_result(client, app, "seq-tok02")
    app[STATE].script("seq-tok02", Script(invalidate_token=2))
    with pytest.raises(WechatApiError) as info:
        await client.get_info(verify_result)
    assert (info.value.errcode, info.value.kind) == (40001, K.TOKEN)
    assert client.token_fetches == 2


async def test_get_info_returns_the_applicant_result(make_client: ClientFactory) -> None:
    """getinfo returns FaceInfo with the md5s, openid and user_id_key of the verification."""
    client, app = await make_client()
    key = (await client.get_user_id_key(NAME, ID_NUMBER, "seq-info1")).user_id_key
    verify_result, _ = app[FACE].complete_legacy("seq-info1", OPENID)
    info = await client.get_info(verify_result)
    assert info.identify_ret == 0
    assert (info.openid, info.user_id_key) == (OPENID, key)
    assert info.id_card_number_md5 == id_card_md5(ID_NUMBER)
    assert info.name_utf8_md5 == name_md5(NAME)


async def test_get_info_returns_a_failed_identify_ret(make_client: ClientFactory) -> None:
    """errcode 0 with identify_ret != 0 is a result, not an error: the verdict decides."""
    client, app = await make_client()
    verify_result = await _legacy_verify_result(client, app, "seq-info2")
    app[STATE].script("seq-info2", Script(identify_ret=10003))
    assert (await client.get_info(verify_result)).identify_ret == 10003


async def test_transient_minus_one_is_raised_as_transient(make_client: ClientFactory) -> None:
    """A scripted -1 is raised as TRANSIENT; the next call succeeds."""
    client, app = await make_client()
    verify_result = await _legacy_verify_result(client, app, "seq-busy1")
    app[STATE].script("seq-busy1", Script(transient=1))
    with pytest.raises(WechatApiError) as info:
        await client.get_info(verify_result)
    assert (info.value.errcode, info.value.kind) == (-1, K.TRANSIENT)
    assert (await client.get_info(verify_result)).identify_ret == 0


async def test_expired_verify_result_is_permanent(
    make_client: ClientFactory, clock: FakeClock
) -> None:
    """getinfo after the verify_result's life answers 84002, raised as PERMANENT."""
    client, app = await make_client(verify_result_ttl_s=300)
    verify_result = await _legacy_verify_result(client, app, "seq-old01")
    clock.advance(301)
    with pytest.raises(WechatApiError) as info:
        await client.get_info(verify_result)
    assert (info.value.errcode, info.value.kind) == (84002, K.PERMANENT)


async def test_unknown_verify_result_is_permanent(make_client: ClientFactory) -> None:
    """An unknown verify_result answers 84001, raised as PERMANENT."""
    client, _ = await make_client()
    with pytest.raises(WechatApiError) as info:
        await client.get_info("not-a-verify-result")
    assert (info.value.errcode, info.value.kind) == (84001, K.PERMANENT)


async def test_bad_secret_is_config(make_client: ClientFactory) -> None:
    """A wrong appsecret fails the token fetch with 40125, raised as CONFIG."""
    client, _ = await make_client(secret="wrong-secret")
    with pytest.raises(WechatApiError) as info:
        await client.get_user_id_key(NAME, ID_NUMBER, "seq-conf1")
    assert (info.value.errcode, info.value.kind) == (40125, K.CONFIG)


async def test_timeout_is_transient(make_client: ClientFactory) -> None:
    """A reply slower than the client's timeout is raised as TRANSIENT (local timeout code)."""
    client, _ = await make_client(timeout_s=0.05, latency_ms=2000)
    with pytest.raises(WechatApiError) as info:
        await client.get_user_id_key(NAME, ID_NUMBER, "seq-slow1")
    assert (info.value.errcode, info.value.kind) == (ec.TRANSPORT_TIMEOUT, K.TRANSIENT)


async def test_classic_token_mode_works(make_client: ClientFactory) -> None:
    """token_mode="classic" fetches from cgi-bin/token once and the calls succeed."""
    client, app = await make_client(token_mode="classic")
    for i in range(5):
        await client.get_user_id_key(NAME, ID_NUMBER, f"seq-cls{i:02d}")
    calls = app[STATE].snapshot()["calls"]
    assert isinstance(calls, dict)
    assert (calls.get("token"), calls.get("stable_token")) == (1, None)
    assert client.token_fetches == 1


async def test_v2_flow_not_finished_then_passed(make_client: ClientFactory) -> None:
    """queryverifyinfo answers 10300 until the user finishes, then 10000."""
    client, app = await make_client()
    v = await client.get_verify_id("seq-v2-01", NAME, ID_NUMBER, OPENID)
    assert v.expires_in == 3600
    digest = cert_hash(NAME, ID_NUMBER)
    first = await client.query_verify_info(v.verify_id, "seq-v2-01", digest, OPENID)
    assert ec.is_in_progress_verify_ret(first.verify_ret)
    app[FACE].complete_v2("seq-v2-01")
    done = await client.query_verify_info(v.verify_id, "seq-v2-01", digest, OPENID)
    assert done.verify_ret == 10000


async def test_v2_cert_hash_mismatch_is_permanent(make_client: ClientFactory) -> None:
    """A cert_hash that does not match getverifyid is refused with a PERMANENT errcode."""
    client, _ = await make_client()
    v = await client.get_verify_id("seq-v2-02", NAME, ID_NUMBER, OPENID)
    with pytest.raises(WechatApiError) as info:
        await client.query_verify_info(
            v.verify_id, "seq-v2-02", cert_hash("李四", ID_NUMBER), OPENID
        )
    assert info.value.kind is K.PERMANENT


async def test_observer_sees_every_call(
    aiohttp_server: AiohttpServer, clients: list[WechatClient]
) -> None:
    """The observer gets (endpoint, errcode, seconds) for the token fetch and each call."""
    config = StandinConfig()
    server = await aiohttp_server(create_standin_app(config))
    seen: list[tuple[str, int, float]] = []
    client = WechatClient(
        str(server.make_url("")),
        config.appid,
        config.secret,
        observer=lambda *event: seen.append(event),
    )
    clients.append(client)
    await client.get_user_id_key(NAME, ID_NUMBER, "seq-obs01")
    with pytest.raises(WechatApiError):
        await client.get_info("unknown")
    assert [(e, c) for e, c, _ in seen] == [
        ("stable_token", 0),
        ("getuseridkey", 0),
        ("getinfo", 84001),
    ]
    assert all(seconds >= 0 for _, _, seconds in seen)


async def test_tokens_and_bodies_never_logged(make_client: ClientFactory) -> None:
    """Nothing the client logs contains the token, the verify_result or the applicant."""
    client, app = await make_client()
    with capture_logs() as logs:
        verify_result = await _legacy_verify_result(client, app, "seq-log01")
        app[STATE].script("seq-log01", Script(invalidate_token=1))
        await client.get_info(verify_result)
    assert {e["event"] for e in logs} >= {"access_token_fetched", "access_token_invalidated"}
    text = repr(logs)
    tokens = app[STATE].tokens.issued()
    assert all(secret not in text for secret in [*tokens, verify_result, NAME, ID_NUMBER])


def _upstream(status: int, body: bytes, token_reply: bytes = TOKEN_REPLY) -> web.Application:
    """A fake WeChat API: a token from stable_token, then ``status``/``body`` for the rest."""

    async def token(_: web.Request) -> web.Response:
        return web.Response(body=token_reply, content_type="application/json")

    async def reply(_: web.Request) -> web.Response:
        return web.Response(status=status, body=body)

    app = web.Application()
    app.router.add_post("/cgi-bin/stable_token", token)
    app.router.add_route("*", "/{tail:.*}", reply)
    return app


@pytest.mark.parametrize(
    ("status", "body", "code", "kind"),
    [
        (200, b"<html>busy</html>", ec.TRANSPORT_BAD_BODY, K.TRANSIENT),
        (200, b"[1, 2]", ec.TRANSPORT_BAD_BODY, K.TRANSIENT),
        (502, b"Bad Gateway", ec.TRANSPORT_SERVER_ERROR, K.TRANSIENT),
        (404, b"not found", ec.TRANSPORT_UNEXPECTED_STATUS, K.CONFIG),
        (200, b'{"errcode": 0, "errmsg": "ok"}', ec.TRANSPORT_BAD_BODY, K.TRANSIENT),
        (200, b'{"errcode": "0"}', ec.TRANSPORT_BAD_BODY, K.TRANSIENT),
        (200, b'{"errcode": 45009, "errmsg": "quota"}', 45009, K.QUOTA),
    ],
)
async def test_transport_failures_are_classified(
    aiohttp_server: AiohttpServer,
    clients: list[WechatClient],
    status: int,
    body: bytes,
    code: int,
    kind: WechatErrorKind,
) -> None:
    """Non-JSON bodies, 5xx, unexpected statuses and incomplete replies get local codes."""
    server = await aiohttp_server(_upstream(status, body))
    client = WechatClient(str(server.make_url("")), "wx0123456789abcdef", "s")
    clients.append(client)
    with pytest.raises(WechatApiError) as info:
        await client.get_info("anything")
    assert (info.value.errcode, info.value.kind) == (code, kind)


async def test_incomplete_token_reply_is_transient(
    aiohttp_server: AiohttpServer, clients: list[WechatClient]
) -> None:
    """A token reply without expires_in is a malformed reply (TRANSIENT), token not quoted."""
    server = await aiohttp_server(_upstream(200, b"{}", b'{"access_token": "tok-secret"}'))
    client = WechatClient(str(server.make_url("")), "wx0123456789abcdef", "s")
    clients.append(client)
    with pytest.raises(WechatApiError) as info:
        await client.get_info("anything")
    assert (info.value.errcode, info.value.kind) == (ec.TRANSPORT_BAD_BODY, K.TRANSIENT)
    assert "tok-secret" not in str(info.value)


async def test_connection_refused_is_transient(
    aiohttp_server: AiohttpServer, clients: list[WechatClient]
) -> None:
    """An unreachable API is TRANSIENT with the local connection code."""
    server = await aiohttp_server(_upstream(200, b"{}"))
    url = str(server.make_url(""))
    await server.close()
    client = WechatClient(url, "wx0123456789abcdef", "s")
    clients.append(client)
    with pytest.raises(WechatApiError) as info:
        await client.get_info("anything")
    assert (info.value.errcode, info.value.kind) == (ec.TRANSPORT_CONNECTION, K.TRANSIENT)


async def test_from_settings_uses_base_url_and_mode(
    aiohttp_server: AiohttpServer, clients: list[WechatClient]
) -> None:
    """from_settings wires the configured base URL, appid, secret and token mode."""
    config = StandinConfig()
    server = await aiohttp_server(create_standin_app(config))
    settings = AppSettings(
        appid=config.appid,
        appsecret=config.secret,
        token_mode="classic",
        wechat_api_base=str(server.make_url("")),
    )
    client = WechatClient.from_settings(settings)
    clients.append(client)
    await client.get_user_id_key(NAME, ID_NUMBER, "seq-set01")
    assert server.app[STATE].snapshot()["calls"] == {"token": 1, "getuseridkey": 1}
