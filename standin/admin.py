"""Control of the stand-in: Python helpers and the HTTP admin API under ``/_standin/``.

- ``POST /_standin/script`` ``{"out_seq_no", ...Script fields}`` → the script now in force.
- ``POST /_standin/complete`` ``{"out_seq_no", "openid"?, "push_to"?, "mode"?, "format"?}``
  → ``{"flow", "verify_result" (legacy) or "verify_id" (v2), "openid", "push_status",
  "push_body"}``; 404 unknown out_seq_no, 409 user_id_key / verify_id expired.
- ``POST /_standin/push`` ``{"push_to", "event": {...}, "mode"?, "format"?}`` → ``{"push_status",
  "push_body"}`` (any event, e.g. a debug_demo).
- ``POST /_standin/invalidate_tokens`` ``{"access_token"?}`` (absent: every live token) →
  ``{"invalidated"}``.
- ``POST /_standin/forget`` ``{"out_seq_no"}`` (its credentials then answer 84003) →
  ``{"forgotten"}``.
- ``GET /_standin/stats`` → calls per endpoint, replies per errcode, token fetches.

``mode`` is plaintext / compatible / safe (default safe), ``format`` json / xml (default json).
A legacy completion pushes ``face_identify`` only when ``push_to`` is given; v2 never pushes.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from shared.errors import MalformedPushError
from shared.wechat.document import BodyFormat
from shared.wechat.event import build_event
from shared.wechat.push import PushMode
from standin.keys import FACE, PUSHER, STATE
from standin.scenario import Script


async def complete(
    app: web.Application,
    out_seq_no: str,
    *,
    openid: str | None = None,
    push_to: str | None = None,
    mode: PushMode = PushMode.SAFE,
    fmt: BodyFormat = BodyFormat.JSON,
) -> dict[str, Any]:
    """Play the user finishing verification (and WeChat pushing, legacy, when ``push_to``).

    Raises LookupError for an unknown out_seq_no, ValueError when its key/id has expired.
    """
    face = app[FACE]
    if out_seq_no not in app[STATE].legacy:
        applicant = face.complete_v2(out_seq_no)
        return {
            "flow": "v2",
            "out_seq_no": out_seq_no,
            "verify_id": applicant.verify_id,
            "openid": applicant.openid,
            "push_status": None,
            "push_body": None,
        }
    verify_result, cred = face.complete_legacy(out_seq_no, openid)
    result: dict[str, Any] = {
        "flow": "legacy",
        "out_seq_no": out_seq_no,
        "openid": cred.openid,
        "verify_result": verify_result,
        "push_status": None,
        "push_body": None,
    }
    if push_to:
        pusher = app[PUSHER]
        event = pusher.face_identify(cred.openid, out_seq_no, verify_result)
        pushed = await pusher.push(push_to, event, mode, fmt)
        result.update(push_status=pushed.status, push_body=pushed.body)
    return result


def add_routes(app: web.Application) -> None:
    """Mount the admin API on the stand-in app."""
    app.router.add_post("/_standin/script", _script)
    app.router.add_post("/_standin/complete", _complete)
    app.router.add_post("/_standin/push", _push)
    app.router.add_post("/_standin/invalidate_tokens", _invalidate_tokens)
    app.router.add_post("/_standin/forget", _forget)
    app.router.add_get("/_standin/stats", _stats)


async def json_body(request: web.Request) -> dict[str, Any] | None:
    """The request body as a JSON object, or None when it is not one."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _bad_request(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(
        text=orjson.dumps({"error": detail}).decode(), content_type="application/json"
    )


async def _object(request: web.Request) -> dict[str, Any]:
    body = await json_body(request)
    if body is None:
        raise _bad_request("body must be a JSON object")
    return body


def _out_seq_no(body: dict[str, Any]) -> str:
    value = body.pop("out_seq_no", None)
    if not isinstance(value, str) or not value:
        raise _bad_request("out_seq_no is required")
    return value


def _push_options(request: web.Request, body: dict[str, Any]) -> tuple[PushMode, BodyFormat]:
    try:
        mode, fmt = PushMode(body.get("mode", "safe")), BodyFormat(body.get("format", "json"))
    except ValueError as exc:
        raise _bad_request("mode must be plaintext/compatible/safe, format json/xml") from exc
    if mode is not PushMode.PLAINTEXT and not request.app[STATE].config.encoding_aes_key:
        raise _bad_request("no EncodingAESKey configured: only plaintext pushes")
    return mode, fmt


async def _script(request: web.Request) -> web.Response:
    body = await _object(request)
    out_seq_no = _out_seq_no(body)
    try:
        script = Script.model_validate(body)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise _bad_request(f"invalid script fields: {', '.join(fields)}") from exc
    request.app[STATE].script(out_seq_no, script)
    return web.json_response({"out_seq_no": out_seq_no, "script": script.model_dump()})


async def _complete(request: web.Request) -> web.Response:
    body = await _object(request)
    out_seq_no = _out_seq_no(body)
    mode, fmt = _push_options(request, body)
    openid, push_to = body.get("openid"), body.get("push_to")
    try:
        result = await complete(
            request.app, out_seq_no, openid=openid, push_to=push_to, mode=mode, fmt=fmt
        )
    except LookupError as exc:
        raise web.HTTPNotFound(text=str(exc)) from exc
    except ValueError as exc:
        raise web.HTTPConflict(text=str(exc)) from exc
    return web.json_response(result)


async def _push(request: web.Request) -> web.Response:
    body = await _object(request)
    mode, fmt = _push_options(request, body)
    push_to, fields = body.get("push_to"), body.get("event")
    if not isinstance(push_to, str) or not isinstance(fields, dict):
        raise _bad_request("push_to (URL) and event (object) are required")
    try:
        event = build_event(fields)
    except MalformedPushError as exc:
        raise _bad_request(str(exc)) from exc
    pushed = await request.app[PUSHER].push(push_to, event, mode, fmt)
    return web.json_response({"push_status": pushed.status, "push_body": pushed.body})


async def _invalidate_tokens(request: web.Request) -> web.Response:
    body = await json_body(request) or {}
    token = body.get("access_token")
    count = request.app[STATE].tokens.invalidate(token if isinstance(token, str) else None)
    return web.json_response({"invalidated": count})


async def _forget(request: web.Request) -> web.Response:
    out_seq_no = _out_seq_no(await _object(request))
    return web.json_response({"forgotten": request.app[STATE].forget(out_seq_no)})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].snapshot())
