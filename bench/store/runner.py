"""``python -m bench store``: business-API registrations/s and status reads/s, SQLite vs PostgreSQL.

In one run, for each backend: a fresh database (a SQLite file; a throw-away PostgreSQL schema),
the WeChat stand-in (``python -m standin``) and one receiver process with the business API
(``python -m bench.store.serve``); then N registrations (each one a getuseridkey call to the
stand-in and a session insert) and M status reads over HTTP with C concurrent clients. Prints a
Markdown table and the PostgreSQL/SQLite ratios. Needs RabbitMQ (the receiver's publisher) and,
for the second backend, PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import aio_pika
import aiohttp

from bench.databases import POSTGRES_DSN, database
from bench.receiver.process import Server, free_port
from bench.store.load import ApiLoad, PhaseResult, run_phase
from shared.amqp.topology import Topology

APPID = "wx0123456789abcdef"
SECRET = "bench-secret"
API_KEY = "bench-api-key"
DATA_KEY = "bench-data-key-0123456789abcdef"
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench store", description=__doc__)
    p.add_argument("--registrations", type=int, default=2000)
    p.add_argument("--reads", type=int, default=5000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3, help="alternating backend order; medians")
    p.add_argument("--backends", default="sqlite,postgres")
    p.add_argument("--postgres-dsn", default=POSTGRES_DSN)
    p.add_argument("--amqp-url", default=AMQP_URL)
    return p.parse_args(argv)


def _receiver_env(
    database_url: str, port: int, wechat_port: int, a: argparse.Namespace
) -> dict[str, str]:
    prefix = f"wxbench-{uuid.uuid4().hex[:8]}"
    return {
        **os.environ,
        "WXFACE_APPID": APPID,
        "WXFACE_APPSECRET": SECRET,
        "WXFACE_TOKEN": "bench-push-token",
        "WXFACE_API_KEYS": API_KEY,
        "WXFACE_DATA_KEY": DATA_KEY,
        "WXFACE_DATABASE_URL": database_url,
        "WXFACE_WECHAT_API_BASE": f"http://127.0.0.1:{wechat_port}",
        "WXFACE_AMQP_URL": a.amqp_url,
        "WXFACE_AMQP_PREFIX": prefix,
        "WXFACE_HTTP_PORT": str(port),
        "WXFACE_SPOOL_DIR": str(Path(tempfile.gettempdir()) / prefix),
        "WXFACE_LOG_FORMAT": "json",
    }


async def measure(kind: str, a: argparse.Namespace, workdir: Path) -> list[PhaseResult]:
    """Both phases against a fresh service on backend ``kind``."""
    wechat_port, port = free_port(), free_port()
    standin = Server(
        [
            sys.executable,
            "-m",
            "standin",
            "--port",
            str(wechat_port),
            "--appid",
            APPID,
            "--secret",
            SECRET,
            "--log-level",
            "warning",
        ],
        workdir / f"standin-{kind}.log",
    )
    async with database(kind, a.postgres_dsn, workdir) as url:
        env = _receiver_env(url, port, wechat_port, a)
        receiver = Server(
            [sys.executable, "-m", "bench.store.serve"], workdir / f"receiver-{kind}.log", env
        )
        await standin.start()
        await receiver.start()
        try:
            await standin.wait_answering(wechat_port, "/_standin/stats")
            await receiver.wait_answering(port, "/v1/openapi.json")
            return await _phases(kind, f"http://127.0.0.1:{port}", a)
        finally:
            await receiver.stop()
            await standin.stop()
            await _delete_topology(a.amqp_url, env["WXFACE_AMQP_PREFIX"])


async def _phases(kind: str, base: str, a: argparse.Namespace) -> list[PhaseResult]:
    load = ApiLoad(base, API_KEY)
    connector = aiohttp.TCPConnector(limit=a.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        warm = ApiLoad(base, API_KEY)
        await run_phase("warm-up", session, warm.register, 50, 8)
        registrations = await run_phase(
            f"{kind} registrations", session, load.register, a.registrations, a.concurrency
        )
        reads = await run_phase(f"{kind} status reads", session, load.read, a.reads, a.concurrency)
    return [registrations, reads]


async def _delete_topology(url: str, prefix: str) -> None:
    connection = await aio_pika.connect(url)
    async with connection:
        await Topology(prefix).delete(await connection.channel())


def render(results: dict[str, list[PhaseResult]], a: argparse.Namespace) -> str:
    """The Markdown table and the same-run ratios."""
    lines = [
        f"{a.registrations} registrations, then {a.reads} status reads, {a.concurrency} "
        "concurrent clients, one receiver process, the stand-in as WeChat; per phase the "
        f"median of {a.rounds} rounds (backend order alternating).",
        "",
        "| backend | registrations/s | p50 / p99 ms | status reads/s | p50 / p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (reg, read) in results.items():
        lines.append(
            f"| {kind} | {reg.per_second:,.0f} | {reg.p50_ms:.1f} / {reg.p99_ms:.1f} "
            f"| {read.per_second:,.0f} | {read.p50_ms:.1f} / {read.p99_ms:.1f} |"
        )
    if {"sqlite", "postgres"} <= results.keys():
        (s_reg, s_read), (p_reg, p_read) = results["sqlite"], results["postgres"]
        lines += [
            "",
            f"PostgreSQL / SQLite: registrations {p_reg.per_second / s_reg.per_second:.2f}×, "
            f"status reads {p_read.per_second / s_read.per_second:.2f}×.",
        ]
    return "\n".join(lines)


async def run(a: argparse.Namespace) -> str:
    """Measure every backend in ``rounds`` rounds (order reversed every other round)."""
    kinds = [k.strip() for k in a.backends.split(",")]
    rounds: dict[str, list[list[PhaseResult]]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="wxbench-store-") as tmp:
        for r in range(a.rounds):
            for kind in kinds if r % 2 == 0 else kinds[::-1]:
                rounds[kind].append(await measure(kind, a, Path(tmp)))
    return render({kind: _median(results) for kind, results in rounds.items()}, a)


def _median(results: list[list[PhaseResult]]) -> list[PhaseResult]:
    """Per phase, the round with the median throughput."""
    phases = zip(*results, strict=True)
    return [sorted(p, key=lambda r: r.per_second)[len(p) // 2] for p in map(list, phases)]


def main(argv: list[str]) -> int:
    """Entry point of ``python -m bench store``."""
    print(asyncio.run(run(parse_args(argv))))
    return 0
