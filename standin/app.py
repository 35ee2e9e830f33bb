"""The stand-in's aiohttp application: WeChat's token and face endpoints, plus the admin API.

``create_standin_app(config)`` builds it; tests and tools reach its memory through
``app[STATE]`` and its rules through ``app[FACE]`` (see ``admin.py`` for the HTTP control
API and the Python helpers). Every WeChat endpoint answers HTTP 200 with an errcode, as
WeChat does. Request bodies are never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp
import orjson
from aiohttp import web

from standin import admin
from standin.admin import json_body
from standin.config import StandinConfig
from standin.face import Body, FaceApi, Reply, error
from standin.keys import FACE, PUSHER, STATE
from standin.pusher import Pusher
from standin.state import StandinState

__all__ = ["FACE", "PUSHER", "STATE", "create_standin_app"]


def create_standin_app(config: StandinConfig | None = None) -> web.Application:
    """A stand-in for ``api.weixin.qq.com`` (and WeChat's pusher) with its own memory."""
    app = web.Application()
    state = StandinState(config or StandinConfig())
    app[STATE] = state
    app[FACE] = FaceApi(state)
    app.cleanup_ctx.append(_pusher)
    app.router.add_get("/cgi-bin/token", _token)
    app.router.add_post("/cgi-bin/stable_token", _stable_token)
    app.router.add_post("/cityservice/face/identify/{endpoint}", _face)
    admin.add_routes(app)
    return app


async def _pusher(app: web.Application) -> AsyncIterator[None]:
    async with aiohttp.ClientSession() as session:
        app[PUSHER] = Pusher(session, app[STATE].config)
        yield


def respond(state: StandinState, endpoint: str, reply: Reply) -> web.Response:
    """JSON reply, counted in the statistics."""
    state.stats.calls[endpoint] += 1
    code = reply.get("errcode", 0)
    state.stats.errcodes[code if isinstance(code, int) else 0] += 1
    return web.json_response(reply, dumps=lambda obj: orjson.dumps(obj).decode())


def _credentials_error(state: StandinState, fields: Mapping[str, object]) -> Reply | None:
    if fields.get("grant_type") != "client_credential":
        return error(40002, "invalid grant_type")
    if fields.get("appid") != state.config.appid:
        return error(40013, "invalid appid")
    if fields.get("secret") != state.config.secret:
        return error(40125, "invalid appsecret")
    return None


async def _token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    await _latency(state)
    failed = _credentials_error(state, request.query)
    if failed is not None:
        return respond(state, "token", failed)
    value, expires_in = state.tokens.issue_classic()
    return respond(state, "token", {"access_token": value, "expires_in": expires_in})


async def _stable_token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    await _latency(state)
    body = await json_body(request)
    if body is None:
        return respond(state, "stable_token", error(47001, "data format error"))
    failed = _credentials_error(state, body)
    if failed is not None:
        return respond(state, "stable_token", failed)
    value, expires_in = state.tokens.issue_stable(body.get("force_refresh") is True)
    return respond(state, "stable_token", {"access_token": value, "expires_in": expires_in})


async def _face(request: web.Request) -> web.Response:
    endpoint = request.match_info["endpoint"]
    if endpoint not in ("getuseridkey", "getinfo", "getverifyid", "queryverifyinfo"):
        raise web.HTTPNotFound()
    state = request.app[STATE]
    await _latency(state)
    token = request.query.get("access_token", "")
    code = state.tokens.check(token)
    if code != 0:
        return respond(state, endpoint, error(code, "access_token invalid"))
    if state.rng.random() < state.config.fault_rate:
        return respond(state, endpoint, error(-1, "system error"))
    reply = await _dispatch(request.app[FACE], endpoint, await json_body(request), token)
    return respond(state, endpoint, reply)


async def _dispatch(face: FaceApi, endpoint: str, body: Body | None, token: str) -> Reply:
    if endpoint == "getuseridkey":
        return face.get_user_id_key(body)
    if endpoint == "getverifyid":
        return face.get_verify_id(body)
    if endpoint == "getinfo":
        return await face.get_info(body, token)
    return await face.query_verify_info(body, token)


async def _latency(state: StandinState) -> None:
    if state.config.latency_ms > 0:
        await asyncio.sleep(state.config.latency_ms / 1000)
