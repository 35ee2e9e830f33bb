"""The transport's prebuilt request URLs: each call carries the query it was given."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from shared.wechat.transport import Transport


async def _echo_query(request: web.Request) -> web.Response:
    return web.json_response({"errcode": 0, "path": request.path, **request.query})


async def test_each_call_sends_its_own_token_and_path(aiohttp_server: AiohttpServer) -> None:
    """A cached URL is reused only for the same path and query; a new token gets a new URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", _echo_query)
    server = await aiohttp_server(app)
    async with aiohttp.ClientSession() as session:
        transport = Transport(session, str(server.make_url("/")))
        seen = []
        for path, token in [("a/x", "t1"), ("a/x", "t1"), ("a/x", "t2"), ("b/y", "t2")] * 40:
            reply = await transport.request("e", "POST", path, {"access_token": token}, {})
            seen.append((reply["path"], reply["access_token"]))
        for i in range(200):  # more tokens than the URL cache keeps
            reply = await transport.request("e", "POST", "a/x", {"access_token": f"n{i}"}, {})
            seen.append((reply["path"], reply["access_token"]))
    expected = [("/a/x", "t1"), ("/a/x", "t1"), ("/a/x", "t2"), ("/b/y", "t2")] * 40
    assert seen == expected + [("/a/x", f"n{i}") for i in range(200)]
