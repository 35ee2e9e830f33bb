"""The whole pipeline in one process: stand-in → receiver + business API → RabbitMQ → worker.

Everything runs for real except WeChat (the stand-in, on a port of its own): the receiver app
with the business API in safe mode, a :class:`~worker.service.WorkerService`, the shared
RabbitMQ under the test's own prefix, and the store on SQLite or PostgreSQL (the store suite's
throw-away databases). The rig listens on ``{prefix}.identity`` like a downstream service, taps
a copy of every work item published to ``{prefix}.intake``, and captures every log event, so a
test can drive both flows through the public HTTP surfaces and then look everywhere for leaks.

The fixtures here are meant to be assigned into a test module (``pipeline = rig.pipeline``),
the way ``tests/receiver/api/conftest.py`` reuses the store suite's database fixtures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from aiohttp import web
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from receiver.push import PATH as PUSH_PATH
from shared.amqp.topology import VERIFY_ROUTING_KEY, Topology
from shared.settings import ReceiverSettings
from standin import admin
from standin.app import create_standin_app
from standin.config import StandinConfig
from standin.keys import STATE
from standin.scenario import Script
from tests.receiver.api import conftest as api_fixtures
from tests.receiver.api.support import SECRET, get_status, post
from tests.receiver.conftest import Client
from tests.receiver.pushes import AES_KEY, APPID, TOKEN
from tests.shared.store.support import DATA_KEY, Database
from tests.worker.conftest import api_base, worker_settings
from tests.worker.rig import Downstream, Received, bind_downstream, downstream_queue
from worker.service import WorkerService

LogEvents = list[MutableMapping[str, Any]]
READY_S = 30.0


@dataclass
class RecordingDownstream(Downstream):
    """The worker tests' downstream consumer, also keeping each event's raw body and headers."""

    raw: list[bytes] = field(default_factory=list)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Keep the bytes as they came, then record the decoded event and ack."""
        self.raw.append(message.body + repr(message.headers).encode())
        await super().on_message(message)


@dataclass
class Tap:
    """Copies of the messages published to one exchange (a queue of the test's own)."""

    messages: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Keep the body and headers."""
        await self.messages.put(message.body + repr(message.headers).encode())
        await message.ack()

    async def take_all(self, at_least: int, timeout: float = 20.0) -> list[bytes]:  # noqa: ASYNC109
        """Every message, waiting (at most ``timeout``) until ``at_least`` have arrived."""
        async with asyncio.timeout(timeout):
            got = [await self.messages.get() for _ in range(at_least)]
        while not self.messages.empty():
            got.append(self.messages.get_nowait())
        return got


@dataclass
class Pipeline:
    """One running pipeline and the public surfaces a test drives it through."""

    api: Client
    standin: web.Application
    worker: WorkerService
    database: Database
    downstream: RecordingDownstream
    work: Tap
    logs: LogEvents
    caplog: pytest.LogCaptureFixture

    @property
    def push_url(self) -> str:
        """Where the stand-in pushes ``face_identify`` (the receiver's push endpoint)."""
        return str(self.api.make_url(PUSH_PATH))

    async def register(self, body: dict[str, Any]) -> None:
        """``POST /v1/verifications``; it must answer 201."""
        status, reply = await post(self.api, "/v1/verifications", body)
        assert status == 201, reply

    def script(self, out_seq_no: str, script: Script) -> None:
        """Tell the stand-in how WeChat will answer for this applicant."""
        self.standin[STATE].script(out_seq_no, script)

    async def complete(self, out_seq_no: str, *, push: bool) -> dict[str, Any]:
        """The user finishes; legacy with ``push``: WeChat pushes to the receiver (safe mode)."""
        done = await admin.complete(
            self.standin, out_seq_no, push_to=self.push_url if push else None
        )
        if push:
            assert (done["push_status"], done["push_body"]) == (200, "success")
        return done

    async def submit(self, out_seq_no: str, body: dict[str, Any]) -> None:
        """``POST /v1/verifications/{out_seq_no}/result``; it must answer 202."""
        status, reply = await post(self.api, f"/v1/verifications/{out_seq_no}/result", body)
        assert status == 202, reply

    async def outcomes(self, out_seq_nos: set[str]) -> list[Received]:
        """Identity events until each of ``out_seq_nos`` has one."""
        return await self.downstream.until_all(out_seq_nos, timeout=30.0)

    async def status(self, out_seq_no: str) -> dict[str, Any]:
        """``GET /v1/verifications/{out_seq_no}`` (200 required)."""
        code, view = await get_status(self.api, out_seq_no)
        assert code == 200, view
        return view

    def log_text(self) -> bytes:
        """Every log event so far: structlog's (as logged, before redaction) and stdlib's."""
        events = [repr(e) for e in self.logs]
        stdlib = self.caplog.get_records("setup") + self.caplog.get_records("call")
        records = [f"{r.name} {r.getMessage()}" for r in stdlib]
        return "\n".join(events + records).encode()

    async def metrics(self) -> dict[str, bytes]:
        """The receiver's and the worker's ``/metrics`` text."""
        async with self.api.get("/metrics") as response:
            receiver = await response.read()
        worker_url = f"http://127.0.0.1:{self.worker.http_port}/metrics"
        async with self.api.session.get(worker_url) as response:
            worker = await response.read()
        return {"receiver metrics": receiver, "worker metrics": worker}


@pytest.fixture
async def standin_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> TestServer:
    """The WeChat stand-in, pushing with the receiver's Token and EncodingAESKey."""
    config = StandinConfig(appid=APPID, secret=SECRET, token=TOKEN, encoding_aes_key=AES_KEY)
    return await aiohttp_server(create_standin_app(config))


@contextlib.asynccontextmanager
async def listening(url: str, topology: Topology) -> AsyncIterator[tuple[RecordingDownstream, Tap]]:
    """A downstream consumer on ``identity.#`` and a tap on the intake; removed afterwards."""
    connection: AbstractRobustConnection = await aio_pika.connect_robust(url)
    downstream, work = RecordingDownstream(), Tap()
    try:
        channel = await bind_downstream(connection, topology, downstream)
        tap = await channel.declare_queue(exclusive=True, auto_delete=True)  # server-named
        await tap.bind(topology.intake, VERIFY_ROUTING_KEY)
        await tap.consume(work.on_message)
        yield downstream, work
        await channel.close()
        await (await connection.channel()).queue_delete(downstream_queue(topology))
    finally:
        await connection.close()


@pytest.fixture
async def pipeline(
    make_api: api_fixtures.ApiFactory,
    api_settings: ReceiverSettings,
    standin_server: TestServer,
    database: Database,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Pipeline]:
    """A running pipeline on the backend under test, every log event captured from the start."""
    caplog.set_level(logging.INFO)
    url, prefix = api_settings.amqp_url.get_secret_value(), api_settings.amqp_prefix
    settings = worker_settings(
        url, prefix, tmp_path / "unused.db", api_base(standin_server), appid=APPID,
        appsecret=SECRET, data_key=DATA_KEY, database_url=database.url,
    )  # fmt: skip
    with capture_logs() as logs:
        api = await make_api()
        async with listening(url, Topology(prefix)) as (downstream, work):
            worker = WorkerService(settings)
            await worker.start()
            try:
                assert await worker.wait_ready(READY_S)
                yield Pipeline(
                    api, standin_server.app, worker, database, downstream, work, logs, caplog
                )
            finally:
                await worker.stop()
