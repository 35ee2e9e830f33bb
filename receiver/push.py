"""The ``/wechat/push`` endpoint: the GET handshake and the POSTed pushes.

A POST is read (bounded), verified by the pure core (``shared.wechat.push``), checked against
the memory of recent pushes, and — for ``face_identify`` — made durable through the intake
before ``success`` is answered. Other valid events are answered and counted, not queued.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import hdrs, web

from receiver.dedup import Seen, body_digest, push_key
from receiver.keys import CLOCK, INTAKE, METRICS, POLICY, RECENT, SETTINGS
from shared.errors import AuthenticationError, BodyTooLargeError, PushError, ReplayError
from shared.log import get_logger
from shared.vocabulary import Flow
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import PushQuery, verify_handshake, verify_push
from shared.work import WorkItem

log = get_logger(__name__)

SUCCESS = "success"
PATH = "/wechat/push"
_SUCCESS_BODY = SUCCESS.encode()


async def handshake(request: web.Request) -> web.Response:
    """GET: ``echostr`` verbatim when the signature verifies, else 401."""
    app = request.app
    query = PushQuery.from_mapping(request.query)
    try:
        echostr = verify_handshake(query, request.query.get("echostr"), app[POLICY], app[CLOCK]())
    except PushError as exc:
        if isinstance(exc, AuthenticationError):
            raise
        raise AuthenticationError(str(exc)) from exc
    log.info("handshake_verified")
    return web.Response(text=echostr)


async def receive(request: web.Request) -> web.Response:
    """POST: verify, de-duplicate, make durable, answer ``success``."""
    app = request.app
    query = PushQuery.from_mapping(request.query)
    body = await read_body(request, app[SETTINGS].max_body_bytes)
    verified = verify_push(query, body, app[POLICY], app[CLOCK]())
    key, digest = push_key(query), body_digest(body)
    seen = app[RECENT].check(key, digest)
    if seen is Seen.CONFLICT:
        raise ReplayError("signature parameters reused with a different body")
    if seen is Seen.DUPLICATE:
        app[METRICS].duplicates.inc()
        log.info("push_duplicate")
        return success()
    event = verified.event
    if isinstance(event, FaceIdentifyEvent):
        via = await app[INTAKE].accept(_work_item(app[SETTINGS].appid, event))
        kind, where = "face_identify", via.value
        log.info("push_accepted", out_seq_no=event.out_seq_no, mode=verified.mode, via=where)
    else:
        kind, where = "other", "none"
        log.info("push_acknowledged", mode=verified.mode)
    app[RECENT].remember(key, digest)
    app[METRICS].count_accepted(kind, where)
    return success()


def success() -> web.Response:
    """``success`` as text/plain (utf-8), built from bytes: no per-request text encoding."""
    return web.Response(body=_SUCCESS_BODY, content_type="text/plain", charset="utf-8")


def _work_item(appid: str, event: FaceIdentifyEvent) -> WorkItem:
    return WorkItem(
        kind="push",
        flow=Flow.LEGACY,
        appid=appid,
        out_seq_no=event.out_seq_no,
        openid=event.openid,
        verify_result=event.verify_result,
        create_time=event.CreateTime,
        received_at=time.time(),
    )


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it exceeds ``limit`` declared or read."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLargeError(f"body over {limit} bytes")
    if declared is not None and hdrs.CONTENT_ENCODING not in request.headers:
        try:  # exactly the declared length reaches the handler: one read, no chunk loop
            return await request.content.readexactly(declared)
        except asyncio.IncompleteReadError as exc:  # the client went away mid-body
            return exc.partial
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def add_routes(app: web.Application) -> None:
    """Register GET and POST ``/wechat/push``."""
    app.router.add_get(PATH, handshake)
    app.router.add_post(PATH, receive)
