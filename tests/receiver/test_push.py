"""Tests of /wechat/push on the real RabbitMQ: valid pushes queued once, hostile ones refused."""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from aiohttp import web
from pydantic import SecretStr

from receiver.app import create_app
from shared.settings import ReceiverSettings
from shared.wechat.push import BodyFormat, PushMode
from shared.wechat.signature import sign
from shared.work import WorkItem
from tests.private_broker import free_port
from tests.receiver.conftest import Client, ClientFactory
from tests.receiver.pushes import (
    APPID,
    TOKEN,
    debug_event,
    drain_queue,
    face_event,
    make_push,
)

pytestmark = pytest.mark.broker


async def _work(settings: ReceiverSettings) -> list[WorkItem]:
    url = settings.amqp_url.get_secret_value()
    messages = await drain_queue(url, f"{settings.amqp_prefix}.verify")
    return [WorkItem.decode(m.body) for m in messages]


async def _post(client: Client, query: dict[str, str], body: bytes) -> tuple[int, str]:
    async with client.post("/wechat/push", params=query, data=body) as response:
        return response.status, await response.text()


@pytest.mark.parametrize("fmt", list(BodyFormat))
@pytest.mark.parametrize("mode", [PushMode.SAFE, PushMode.COMPATIBLE])
async def test_encrypted_push_is_enqueued_once(
    client: Client, settings: ReceiverSettings, mode: PushMode, fmt: BodyFormat
) -> None:
    """A valid encrypted face_identify push (and its retry) answers success and is queued once."""
    event = face_event()
    query, body = make_push(event, fmt, mode)
    assert await _post(client, query, body) == (200, "success")
    assert await _post(client, query, body) == (200, "success")  # WeChat's retry
    [item] = await _work(settings)
    assert (item.out_seq_no, item.verify_result, item.openid) == (
        event.out_seq_no,
        event.verify_result,
        event.openid,
    )
    assert item.appid == APPID
    assert item.create_time == event.CreateTime


@pytest.mark.parametrize("fmt", list(BodyFormat))
@pytest.mark.parametrize("overrides", [{"encoding_aes_key": None}, {"allow_plaintext_push": True}])
async def test_plaintext_push_is_enqueued_when_allowed(
    make_client: ClientFactory,
    settings: ReceiverSettings,
    fmt: BodyFormat,
    overrides: dict[str, object],
) -> None:
    """Without an EncodingAESKey, or when explicitly allowed, a plaintext push is queued once."""
    plain = await make_client(**overrides)
    query, body = make_push(face_event(), fmt, PushMode.PLAINTEXT)
    assert await _post(plain, query, body) == (200, "success")
    assert await _post(plain, query, body) == (200, "success")
    assert len(await _work(settings)) == 1


async def test_other_events_are_acknowledged_not_queued(
    client: Client, settings: ReceiverSettings
) -> None:
    """A valid non-face event answers success, is counted, and enqueues nothing."""
    query, body = make_push(debug_event(), BodyFormat.XML, PushMode.SAFE)
    assert await _post(client, query, body) == (200, "success")
    assert await _work(settings) == []
    async with client.get("/metrics") as response:
        text = await response.text()
    assert 'wxface_push_accepted_total{kind="other",via="none"} 1.0' in text


def _stale(seconds: int) -> tuple[dict[str, str], bytes]:
    return make_push(face_event(), timestamp=int(time.time()) + seconds)


def _mutate_query(key: str, value: str) -> tuple[dict[str, str], bytes]:
    query, body = make_push(face_event())
    return {**query, key: value}, body


def _encrypted(envelope: bytes, encrypt: str) -> tuple[dict[str, str], bytes]:
    """A correctly signed safe-mode push whose Encrypt value is ``encrypt``."""
    ts, nonce = str(int(time.time())), "n0nce"
    query = {
        "signature": sign(TOKEN, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, ts, nonce, encrypt),
    }
    return query, envelope.replace(b"ENC", encrypt.encode())


def _bad_padding() -> tuple[dict[str, str], bytes]:
    # 32 bytes of ciphertext that decrypt to garbage padding under the test key
    return _encrypted(
        b'{"ToUserName":"gh_x","Encrypt":"ENC"}', base64.b64encode(b"\x00" * 32).decode()
    )


Push = tuple[dict[str, str], bytes]
HOSTILE: dict[str, tuple[Callable[[], Push], int, str | None]] = {
    "bad_signature": (lambda: _mutate_query("msg_signature", "0" * 40), 401, "bad_signature"),
    "stale_timestamp": (lambda: _stale(-3600), 401, "bad_timestamp"),
    "future_timestamp": (lambda: _stale(3600), 401, "bad_timestamp"),
    "wrong_appid": (
        lambda: make_push(face_event(), appid="wx0000000000000000"),
        401,
        "wrong_appid",
    ),
    "bad_base64": (
        lambda: _encrypted(b'{"ToUserName":"gh_x","Encrypt":"ENC"}', "%%%notbase64"),
        400,
        "bad_base64",
    ),
    "bad_padding": (_bad_padding, 400, "bad_padding"),
    "garbage": (lambda: (make_push(face_event())[0], b"\x00\xffgarbage<{"), 400, None),
    "plaintext_refused": (
        lambda: make_push(face_event(), mode=PushMode.PLAINTEXT),
        401,
        "plaintext_refused",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_push_is_refused_and_not_queued(
    client: Client, settings: ReceiverSettings, case: str
) -> None:
    """Each hostile input gets its status and a JSON error body, and nothing is enqueued."""
    build, status, code = HOSTILE[case]
    query, body = build()
    got_status, text = await _post(client, query, body)
    assert got_status == status
    error = orjson.loads(text)
    assert set(error) == {"error", "detail"}
    if code is not None:
        assert error["error"] == code
    assert TOKEN not in text
    assert await _work(settings) == []


async def test_oversized_body_is_refused(client: Client, settings: ReceiverSettings) -> None:
    """A body over the limit is 413, whether declared by Content-Length or only streamed."""
    query, _ = make_push(face_event())
    big = b"{" + b" " * settings.max_body_bytes + b"}"
    assert (await _post(client, query, big))[0] == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(settings.max_body_bytes // 1024 + 2):
            yield b" " * 1024

    async with client.post("/wechat/push", params=query, data=chunks()) as response:
        assert response.status == 413
        assert (await response.json())["error"] == "body_too_large"
    assert await _work(settings) == []


async def test_compressed_push_is_read_whole(client: Client, settings: ReceiverSettings) -> None:
    """A gzip-encoded push is read to its end, not cut at its (compressed) Content-Length."""
    event = face_event()
    query, body = make_push(event)
    headers = {"Content-Encoding": "gzip"}
    async with client.post(
        "/wechat/push", params=query, data=gzip.compress(body), headers=headers
    ) as response:
        assert (response.status, await response.text()) == (200, "success")
    [item] = await _work(settings)
    assert item.out_seq_no == event.out_seq_no


async def test_reused_signature_with_another_body_is_refused(
    make_client: ClientFactory, settings: ReceiverSettings
) -> None:
    """Plaintext signatures do not cover the body: same parameters, new body → 401, not queued."""
    plain = await make_client(encoding_aes_key=None)
    ts = int(time.time())
    query, body = make_push(face_event(), mode=PushMode.PLAINTEXT, timestamp=ts, nonce="same")
    _, forged = make_push(face_event(), mode=PushMode.PLAINTEXT, timestamp=ts, nonce="same")
    assert await _post(plain, query, body) == (200, "success")
    status, text = await _post(plain, query, forged)
    assert (status, orjson.loads(text)["error"]) == (401, "signature_reused")
    assert len(await _work(settings)) == 1


async def test_handshake_echoes_only_when_signed(client: Client) -> None:
    """GET answers echostr verbatim when signed with our Token, and 401 otherwise."""
    ts = str(int(time.time()))
    good = {"signature": sign(TOKEN, ts, "n1"), "timestamp": ts, "nonce": "n1", "echostr": "4375"}
    async with client.get("/wechat/push", params=good) as response:
        assert (response.status, await response.text()) == (200, "4375")
    bad = {**good, "signature": "f" * 40}
    async with client.get("/wechat/push", params=bad) as response:
        assert response.status == 401
    async with client.get("/wechat/push", params={"echostr": "1"}) as response:
        assert response.status == 401


async def test_operations_endpoints(client: Client) -> None:
    """healthz and readyz answer 200 while the broker is up; metrics use Prometheus names."""
    async with client.get("/healthz") as response:
        assert response.status == 200
    for path in ("/readyz", "/readyz/intake"):
        async with client.get(path) as response:
            assert response.status == 200
            assert (await response.json())["checks"] == {"broker": True, "spool": True}
    query, body = make_push(face_event())
    await _post(client, query, body)
    await _post(client, query, b"junk")
    async with client.get("/metrics") as response:
        text = await response.text()
    assert 'wxface_push_accepted_total{kind="face_identify",via="broker"} 1.0' in text
    assert 'wxface_push_refused_total{reason="' in text
    assert "wxface_publish_confirm_seconds_count 1.0" in text
    assert "wxface_spool_depth_bytes 0.0" in text
    assert 'route="/wechat/push"' in text


async def test_broker_down_spools_then_refuses_503_when_full(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    settings: ReceiverSettings,
) -> None:
    """With no broker, pushes are spooled (success) until the spool is full, then 503."""
    nowhere = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    down = settings.model_copy(update={"amqp_url": SecretStr(nowhere), "spool_max_bytes": 2048})
    client = await aiohttp_client(create_app(down))
    async with client.get("/readyz/intake") as response:  # the spool can take pushes
        assert response.status == 200
        assert (await response.json())["checks"] == {"broker": False, "spool": True}
    statuses = []
    for _ in range(12):
        query, body = make_push(face_event())
        statuses.append((await _post(client, query, body))[0])
    assert statuses[0] == 200
    assert statuses[-1] == 503
    assert set(statuses) == {200, 503}
    async with client.get("/readyz") as response:
        assert response.status == 503
        assert (await response.json())["checks"]["broker"] is False
    async with client.get("/readyz/intake") as response:  # full: nowhere durable left
        assert response.status == 503
        assert (await response.json())["checks"] == {"broker": False, "spool": False}
    async with client.get("/metrics") as response:
        assert 'wxface_push_refused_total{reason="not_durable"}' in await response.text()
