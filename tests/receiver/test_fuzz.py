"""Fuzzing /wechat/push: never a 5xx, and nothing enqueued that the pure core would refuse.

Hypothesis drives a real receiver (its own event loop in a thread, real RabbitMQ) over HTTP
with valid pushes in every mode and format, then mutated: query parameters dropped or replaced,
bodies truncated, bit-flipped, extended or replaced by noise. The oracle: a ``200`` is only
allowed for a request ``verify_push`` accepts, and the work queue ends up holding exactly the
face_identify pushes answered ``success``.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver.app import create_app, push_policy
from receiver.keys import PUBLISHER
from shared.errors import PushError
from shared.settings import ReceiverSettings
from shared.vocabulary import Flow
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import BodyFormat, PushMode, PushQuery, verify_push
from shared.work import WorkItem
from tests.receiver.pushes import (
    debug_event,
    delete_topology,
    drain_queue,
    face_event,
    make_push,
    receiver_settings,
)

pytestmark = [pytest.mark.broker, pytest.mark.slow]

Request = tuple[dict[str, str], bytes]
_QUERY_KEYS = ("signature", "timestamp", "nonce", "msg_signature", "encrypt_type", "openid")
_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)


class LiveReceiver:
    """A receiver app served on a real port by an event loop in a background thread."""

    def __init__(self, config: ReceiverSettings) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = web.AppRunner(create_app(config))
        self.port = 0

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]
        assert await self.runner.app[PUBLISHER].wait_ready(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def live(amqp_url: str, unique_prefix: str, tmp_path: Path) -> Iterator[LiveReceiver]:
    """A live receiver in safe mode on the shared broker; its topology is removed after."""
    receiver = LiveReceiver(receiver_settings(amqp_url, unique_prefix, tmp_path / "spool"))
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
        asyncio.run(delete_topology(amqp_url, unique_prefix))


@st.composite
def valid_push(draw: st.DrawFn) -> Request:
    """A push WeChat could send, in any mode and format."""
    mode = draw(st.sampled_from(PushMode))
    fmt = draw(st.sampled_from(BodyFormat))
    event = face_event() if draw(st.booleans()) else debug_event()
    return make_push(event, fmt, mode, nonce=draw(st.text("0123456789", min_size=1, max_size=9)))


def _mutate_query(query: dict[str, str], draw: st.DrawFn) -> dict[str, str]:
    key = draw(st.sampled_from(_QUERY_KEYS))
    if draw(st.booleans()):
        return {k: v for k, v in query.items() if k != key}
    value = draw(_TEXT | st.integers(-(10**12), 10**13).map(str))
    return {**query, key: value}


def _mutate_body(body: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "append", "replace", "insert"]))
    i = draw(st.integers(0, max(0, len(body) - 1)))
    if kind == "truncate":
        return body[:i]
    if kind == "flip" and body:
        return body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1 :]
    if kind == "append":
        return body + draw(st.binary(max_size=40))
    if kind == "insert":
        return body[:i] + draw(_TEXT).encode() + body[i:]
    return draw(st.binary(max_size=300))


@st.composite
def push_request(draw: st.DrawFn) -> Request:
    """A valid push with zero or more hostile mutations."""
    query, body = draw(valid_push())
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            query = _mutate_query(query, draw)
        else:
            body = _mutate_body(body, draw)
    return query, body


def _post(conn: http.client.HTTPConnection, query: dict[str, str], body: bytes) -> int:
    conn.request("POST", "/wechat/push?" + urllib.parse.urlencode(query), body=body)
    response = conn.getresponse()
    response.read()
    return response.status


def _expected_id(config: ReceiverSettings, query: dict[str, str], body: bytes) -> str | None:
    """The message_id the oracle expects for a 200, or None for a non-face event."""
    try:
        verified = verify_push(
            PushQuery.from_mapping(query), body, push_policy(config), time.time()
        )
    except PushError as exc:
        raise AssertionError(f"200 for a request the core refuses ({exc.code})") from exc
    event = verified.event
    if not isinstance(event, FaceIdentifyEvent):
        return None
    item = WorkItem(
        kind="push",
        flow=Flow.LEGACY,
        appid=config.appid,
        out_seq_no=event.out_seq_no,
        verify_result=event.verify_result,
        received_at=0,
    )
    return item.message_id()


def test_fuzzed_pushes_never_5xx_and_never_enqueue_invalid(live: LiveReceiver) -> None:
    """Thousands of mutated pushes: no 5xx, and the queue holds exactly the accepted faces."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    expected: set[str] = set()
    statuses: dict[int, int] = {}

    @settings(
        max_examples=2500,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(push_request())
    def check(request: Request) -> None:
        query, body = request
        status = _post(conn, query, body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status < 500, status
        if status == 200:
            message_id = _expected_id(live.config, query, body)
            if message_id is not None:
                expected.add(message_id)

    try:
        check()
    finally:
        conn.close()
    url, queue = live.config.amqp_url.get_secret_value(), f"{live.config.amqp_prefix}.verify"
    got = [m.message_id or "" for m in asyncio.run(drain_queue(url, queue))]
    assert sorted(got) == sorted(expected)  # exactly once each, nothing else
    assert statuses.get(200, 0) > 0, statuses
    assert len(statuses) > 2, statuses
