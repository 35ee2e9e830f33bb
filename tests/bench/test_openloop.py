"""Tests of the open-loop generator: schedule-based latency, reconnects, non-success answers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bench.receiver.openloop import percentile, run_open_loop

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def _serve(handler: Handler) -> TestServer:
    app = web.Application()
    app.router.add_post("/p", handler)
    server = TestServer(app)
    await server.start_server()
    return server


def _requests(n: int, port: int) -> list[bytes]:
    raw = f"POST /p HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 2\r\n\r\n{{}}"
    return [raw.encode()] * n


async def test_latency_counts_time_queued_behind_a_slow_answer() -> None:
    """With one connection stalled 300 ms, requests due meanwhile report their wait."""
    first = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if not first.is_set():
            first.set()
            await asyncio.sleep(0.3)  # the server under test is slow once, on purpose
        return web.Response(text="success")

    server = await _serve(handler)
    try:
        assert server.port is not None
        result = await run_open_loop("127.0.0.1", server.port, _requests(20, server.port), 100, 1)
    finally:
        await server.close()
    assert (result.ok, result.bad, result.unanswered) == (20, 0, 0)
    # request 10 was due 100 ms after the first, answered only after the stall: ~200 ms late
    assert sorted(result.latencies_s)[10] > 0.1
    assert result.percentile_ms(99) >= 250


async def test_closed_connections_are_reopened() -> None:
    """A server answering Connection: close gets a new connection for every request."""

    async def handler(request: web.Request) -> web.Response:
        response = web.Response(text="success")
        response.force_close()
        return response

    server = await _serve(handler)
    try:
        assert server.port is not None
        result = await run_open_loop("127.0.0.1", server.port, _requests(30, server.port), 300, 2)
    finally:
        await server.close()
    assert (result.ok, result.unanswered) == (30, 0)


async def test_other_answers_are_not_ok() -> None:
    """A 503 (or any body but success) counts as bad, and has no latency sample."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    server = await _serve(handler)
    try:
        assert server.port is not None
        result = await run_open_loop("127.0.0.1", server.port, _requests(5, server.port), 200, 2)
    finally:
        await server.close()
    assert (result.ok, result.bad, result.latencies_s) == (0, 5, [])


async def test_unreachable_server_is_unanswered() -> None:
    """Requests to a closed port are counted unanswered, not ok."""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="success")

    server = await _serve(handler)
    assert server.port is not None
    port = server.port
    await server.close()
    result = await run_open_loop("127.0.0.1", port, _requests(4, port), 200, 2)
    assert (result.ok, result.unanswered) == (0, 4)


async def test_garbled_answers_are_unanswered_and_idle_closes_are_survived() -> None:
    """Non-HTTP bytes lose that request; a connection closed while idle is replaced."""
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        await reader.readuntil(b"{}")
        served += 1
        if served == 1:
            writer.write(b"garbage\r\n\r\n")
        else:  # answer, then drop the keep-alive connection while it is idle
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nsuccess")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await run_open_loop("127.0.0.1", port, _requests(4, port), 20, 1)
    finally:
        server.close()
        await server.wait_closed()
    assert (result.ok, result.bad, result.unanswered) == (3, 0, 1)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [([1.0, 2.0, 3.0, 4.0], 50, 2.0), ([1.0, 2.0, 3.0, 4.0], 99, 4.0), ([5.0], 1, 5.0)],
)
def test_percentile_is_nearest_rank(values: list[float], q: float, expected: float) -> None:
    """Nearest-rank percentiles: never interpolated, never below the q-th share."""
    assert percentile(values, q) == expected
