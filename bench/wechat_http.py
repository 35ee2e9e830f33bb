"""``python -m bench wechat_http``: client CPU per WeChat call, aiohttp against wxface's client.

The stand-in runs in its own process (``--latency-ms``, 20 by default); this process makes
``--calls`` getinfo calls, ``--concurrency`` at a time, through each client in turn, for
``--rounds`` alternating rounds on uvloop, and reports the CPU this process spent per call.
Both send the same JSON body with the same token and read the whole reply; the stand-in answers
84001 (unknown verify_result), which is a complete WeChat reply like any other.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import orjson
import uvloop

from bench.worker.children import start_standin
from bench.worker.seed import APPID, SECRET
from shared.wechat.http import HttpPool

Call = Callable[[], Awaitable[object]]
GETINFO = "/cityservice/face/identify/getinfo"
BODY = orjson.dumps({"verify_result": "v" * 40})


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench wechat_http", description=__doc__)
    p.add_argument("--calls", type=int, default=6000, help="per client and round")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--latency-ms", type=float, default=20.0, help="the stand-in's latency")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """Entry point."""
    return uvloop.run(run(parse_args(argv)))


async def run(args: argparse.Namespace) -> int:
    """Alternate the two clients; print CPU µs per call of each round."""
    with tempfile.TemporaryDirectory(prefix="wxbench-http-") as tmp:
        standin, base = await start_standin(Path(tmp), args.latency_ms)
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=args.concurrency),
                cookie_jar=aiohttp.DummyCookieJar(),
            ) as session:
                token = await _token(session, base)
                pool = HttpPool(base, limit=args.concurrency)
                clients = {
                    "aiohttp": _aiohttp_call(session, f"{base}{GETINFO}?access_token={token}"),
                    "wxface": _pool_call(pool, f"{GETINFO}?access_token={token}"),
                }
                for round_ in range(1, args.rounds + 1):
                    for name, call in clients.items():
                        cpu = await _measure(call, args.calls, args.concurrency)
                        print(f"round {round_}: {name:8} {cpu:6.1f} µs CPU per call", flush=True)
                await pool.close()
        finally:
            await standin.stop()
    return 0


async def _token(session: aiohttp.ClientSession, base: str) -> str:
    body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    async with session.post(f"{base}/cgi-bin/stable_token", json=body) as response:
        return str((await response.json())["access_token"])


def _aiohttp_call(session: aiohttp.ClientSession, url: str) -> Call:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    timeout = aiohttp.ClientTimeout(total=5)

    async def call() -> object:
        async with session.post(url, data=BODY, headers=headers, timeout=timeout) as response:
            return orjson.loads(await response.read())

    return call


def _pool_call(pool: HttpPool, target: str) -> Call:
    head = pool.request_head("POST", target, "application/json; charset=utf-8")

    async def call() -> object:
        return orjson.loads((await pool.request(head, BODY, 5)).body)

    return call


async def _measure(call: Call, calls: int, concurrency: int) -> float:
    """CPU µs of this process per call, after a warm-up of one call per connection."""
    await asyncio.gather(*(call() for _ in range(concurrency)))
    left = calls

    async def lane() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    started = time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return (time.process_time() - started) / calls * 1e6
