"""An end-to-end rig: the worker service on a real RabbitMQ prefix, the WeChat stand-in, a store.

The rig registers applicants the way the business API does (the stand-in through the real
client, the store with md5s and cert_hash only), enqueues work items through the real
publisher, and listens on ``{prefix}.identity`` like a downstream service.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aio_pika
import aiohttp
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection

from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.store.base import Store
from shared.store.model import NewSession
from shared.vocabulary import Flow
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from shared.wechat.client import WechatClient
from shared.work import WorkItem
from standin.app import FACE, STATE
from standin.config import DEMO_APPID, DEMO_SECRET
from standin.face import FaceApi
from standin.state import StandinState
from worker.outcome import OutcomeEvent

APPID = DEMO_APPID
SECRET = DEMO_SECRET
DATA_KEY = "e2e-test-data-key-0123456789"
NAME = "张三"
ID_NUMBER = "11010519491231002x"
OPENID = "o-e2e-applicant"


@dataclass(frozen=True)
class Received:
    """One outcome event as a downstream consumer sees it."""

    event: OutcomeEvent
    routing_key: str
    message_id: str | None
    content_type: str | None
    persistent: bool


@dataclass
class Downstream:
    """A queue bound to ``identity.#``; collects every event."""

    queue: asyncio.Queue[Received] = field(default_factory=asyncio.Queue)

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """Record and ack one event."""
        await self.queue.put(
            Received(
                OutcomeEvent.decode(message.body), message.routing_key or "", message.message_id,
                message.content_type, message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
            )
        )  # fmt: skip
        await message.ack()

    async def take(self, count: int, timeout: float = 20.0) -> list[Received]:  # noqa: ASYNC109
        """The next ``count`` events, waiting at most ``timeout`` seconds for them all."""
        async with asyncio.timeout(timeout):
            return [await self.queue.get() for _ in range(count)]

    async def until_all(self, out_seq_nos: set[str], timeout: float = 60.0) -> list[Received]:  # noqa: ASYNC109
        """Every event until each of ``out_seq_nos`` has at least one (re-publications kept)."""
        got: list[Received] = []
        async with asyncio.timeout(timeout):
            while not out_seq_nos <= {r.event.out_seq_no for r in got}:
                got.append(await self.queue.get())
        return got

    def drained(self) -> list[Received]:
        """Whatever arrived and was not taken yet."""
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


def one_decision_each(events: list[Received]) -> dict[str, Received]:
    """Check that no credential has two message_ids or two verdicts; the event per session."""
    by_seq: dict[str, Received] = {}
    for got in events:
        first = by_seq.setdefault(got.event.out_seq_no, got)
        assert got.event.message_id == first.event.message_id, got.event.out_seq_no
        assert got.event == first.event, got.event.out_seq_no
    return by_seq


@dataclass
class E2E:
    """The wiring of one end-to-end test."""

    topology: Topology
    store: Store
    standin: StandinState
    face: FaceApi
    wechat: WechatClient
    intake: Publisher
    downstream: Downstream
    health_port: int = 0  # the in-process worker's, when there is one

    async def legacy(self, out_seq_no: str, *, openid: str | None = OPENID) -> str:
        """Register a legacy applicant (stand-in and store); return the user_id_key."""
        reply = await self.wechat.get_user_id_key(NAME, ID_NUMBER, out_seq_no)
        await self.store.create_session(
            NewSession(
                out_seq_no=out_seq_no, flow=Flow.LEGACY, expires_at=_in(3600), openid=openid,
                id_card_md5=id_card_md5(ID_NUMBER), name_md5=name_md5(NAME),
                user_id_key=reply.user_id_key,
            )
        )  # fmt: skip
        return reply.user_id_key

    def complete(self, out_seq_no: str) -> str:
        """The user finished on the phone: the fresh verify_result."""
        verify_result, _ = self.face.complete_legacy(out_seq_no, OPENID)
        return verify_result

    async def v2(self, out_seq_no: str, *, expires_in_s: float = 3600) -> None:
        """Register a v2 applicant (stand-in and store)."""
        reply = await self.wechat.get_verify_id(out_seq_no, NAME, ID_NUMBER, OPENID)
        await self.store.create_session(
            NewSession(
                out_seq_no=out_seq_no, flow=Flow.V2, expires_at=_in(expires_in_s), openid=OPENID,
                cert_hash=cert_hash(NAME, ID_NUMBER), verify_id=reply.verify_id,
            )
        )  # fmt: skip

    async def push(self, out_seq_no: str, verify_result: str, *, age_s: float = 0.0) -> WorkItem:
        """Enqueue a legacy push work item received ``age_s`` seconds ago."""
        received = time.time() - age_s
        item = WorkItem(
            kind="push", flow=Flow.LEGACY, appid=APPID, out_seq_no=out_seq_no, openid=OPENID,
            verify_result=verify_result, create_time=int(received), received_at=received,
        )  # fmt: skip
        await self.intake.publish_work(item)
        return item

    async def result(self, out_seq_no: str) -> WorkItem:
        """Enqueue a v2 result work item (the front end says it finished)."""
        item = WorkItem(kind="result", flow=Flow.V2, appid=APPID, out_seq_no=out_seq_no,
                        received_at=time.time())  # fmt: skip
        await self.intake.publish_work(item)
        return item


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def downstream_queue(topology: Topology) -> str:
    """The test's own durable queue on ``identity.#`` (it survives broker restarts)."""
    return f"{topology.prefix}.test-downstream"


async def bind_downstream(
    connection: AbstractRobustConnection, topology: Topology, downstream: Downstream
) -> AbstractChannel:
    """A durable quorum queue on ``identity.#`` consumed into ``downstream``."""
    channel = await connection.channel()
    exchange = await channel.declare_exchange(topology.identity, "topic", durable=True)
    queue = await channel.declare_queue(
        downstream_queue(topology), durable=True, arguments={"x-queue-type": "quorum"}
    )
    await queue.bind(exchange, "identity.#")
    await queue.consume(downstream.on_message)
    return channel  # close it before deleting the queue, or the robust channel restores it


def standin_parts(app: aiohttp.web.Application) -> tuple[StandinState, FaceApi]:
    """The stand-in's memory and rules."""
    return app[STATE], app[FACE]
