"""The transport's prebuilt request heads: each call carries the query it was given."""

from __future__ import annotations

from aiohttp import web
from pytest_aiohttp import AiohttpServer

from shared.wechat.http import HttpPool
from shared.wechat.transport import Transport


async def _echo_query(request: web.Request) -> web.Response:
    return web.json_response({"errcode": 0, "path": request.path, **request.query})


async def test_each_call_sends_its_own_token_and_path(aiohttp_server: AiohttpServer) -> None:
    """A cached head is reused only for the same path and query; a new token gets a new head."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", _echo_query)
    server = await aiohttp_server(app)
    seen = []
    async with HttpPool(str(server.make_url("/base"))) as pool:
        transport = Transport(pool)
        for path, token in [("a/x", "t1"), ("a/x", "t1"), ("a/x", "t2"), ("b/y", "t2")] * 40:
            reply = await transport.request("e", "POST", path, {"access_token": token}, {})
            seen.append((reply["path"], reply["access_token"]))
        for i in range(200):  # more tokens than the head cache keeps
            reply = await transport.request("e", "POST", "a/x", {"access_token": f"n{i}"}, {})
            seen.append((reply["path"], reply["access_token"]))
    expected = [("/base/a/x", "t1"), ("/base/a/x", "t1"), ("/base/a/x", "t2"), ("/base/b/y", "t2")]
    assert seen == expected * 40 + [("/base/a/x", f"n{i}") for i in range(200)]


async def test_query_values_are_url_encoded(aiohttp_server: AiohttpServer) -> None:
    """Reserved characters in a query value reach the server intact."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", _echo_query)
    server = await aiohttp_server(app)
    async with HttpPool(str(server.make_url(""))) as pool:
        reply = await Transport(pool).request("e", "POST", "p", {"access_token": "a+b/c=&d é"})
    assert reply["access_token"] == "a+b/c=&d é"
