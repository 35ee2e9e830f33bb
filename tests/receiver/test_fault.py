"""Fault test: no push answered ``success`` is lost across broker and receiver restarts.

Runs against a private RabbitMQ node (``private_broker``), never the shared one, and always
starts its app again, even when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from receiver.app import create_app
from receiver.keys import METRICS, PUBLISHER, SPOOL
from shared.settings import ReceiverSettings
from shared.vocabulary import Flow
from shared.work import WorkItem
from tests.polling import eventually
from tests.private_broker import PrivateBroker
from tests.receiver.pushes import (
    delete_topology,
    drain_queue,
    face_event,
    make_push,
    receiver_settings,
)

pytestmark = pytest.mark.slow


@dataclass
class Pusher:
    """Plays WeChat: pushes unique face_identify events and remembers what got ``success``."""

    url: str
    accepted: set[str] = field(default_factory=set)
    refused: list[int] = field(default_factory=list)

    async def push_one(self, session: aiohttp.ClientSession) -> None:
        event = face_event()
        query, body = make_push(event)
        async with session.post(self.url, params=query, data=body) as response:
            if response.status == 200 and await response.text() == "success":
                item = WorkItem(
                    kind="push",
                    flow=Flow.LEGACY,
                    appid="wx1234567890abcdef",
                    out_seq_no=event.out_seq_no,
                    verify_result=event.verify_result,
                    received_at=0,
                )
                self.accepted.add(item.message_id())
            else:
                self.refused.append(response.status)

    async def push_until(self, count: int, concurrency: int = 8) -> None:
        """Push concurrently until ``count`` more pushes were accepted."""
        target = len(self.accepted) + count
        async with aiohttp.ClientSession() as session:
            while len(self.accepted) < target:
                await asyncio.gather(*(self.push_one(session) for _ in range(concurrency)))


@contextlib.asynccontextmanager
async def running_receiver(settings: ReceiverSettings) -> AsyncIterator[TestServer]:
    """A receiver on a real port; closing it runs its shut-down (spool sealed and fsync'd)."""
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def broker_down(broker: PrivateBroker) -> AsyncIterator[None]:
    """Stop the broker's app for the block; always start it again."""
    await asyncio.to_thread(broker.stop_app)
    try:
        yield
    finally:
        await asyncio.to_thread(broker.start_app)


async def wait_for_all(url: str, queue: str, expected: set[str], timeout_s: float) -> set[str]:
    """Drain the queue until every expected message_id arrived or the deadline passed."""
    seen: set[str] = set()

    async def all_seen() -> set[str] | None:
        seen.update(m.message_id or "" for m in await drain_queue(url, queue))
        return seen if expected <= seen else None

    with contextlib.suppress(TimeoutError):
        await eventually(all_seen, timeout_s, "every accepted push in the queue", every_s=0.2)
    return seen


async def test_no_success_is_lost_when_broker_and_receiver_restart(
    private_broker: PrivateBroker, unique_prefix: str, tmp_path: Path
) -> None:
    """Every push answered success reaches the work queue through broker and receiver restarts
    (and the receiver counts the connection RabbitMQ closed)."""
    settings = receiver_settings(
        private_broker.url, unique_prefix, tmp_path / "spool", publish_confirm_timeout_s=1.0
    )
    try:
        async with running_receiver(settings) as first:
            assert await first.app[PUBLISHER].wait_ready(20)
            pusher = Pusher(str(first.make_url("/wechat/push")))
            await pusher.push_until(40)
            async with broker_down(private_broker):
                await pusher.push_until(40)  # spooled while the broker is gone
            await pusher.push_until(40)
            assert await first.app[PUBLISHER].wait_ready(20)
            registry = first.app[METRICS].registry
            closes = [
                registry.get_sample_value("wxface_broker_closes_total", {"what": what}) or 0.0
                for what in ("connection", "channel")
            ]
            assert sum(closes) >= 1  # the restart is counted
            async with broker_down(private_broker):
                await pusher.push_until(40)
                assert first.app[SPOOL].depth_bytes > 0
                await first.close()  # receiver restart with a non-empty spool
                async with running_receiver(settings) as second:
                    pusher.url = str(second.make_url("/wechat/push"))
                    await pusher.push_until(20)
            async with running_receiver(settings) as third:
                assert await third.app[PUBLISHER].wait_ready(20)
                seen = await wait_for_all(
                    private_broker.url, f"{unique_prefix}.verify", pusher.accepted, 60
                )
        assert pusher.accepted - seen == set()
        assert len(pusher.accepted) >= 180
        assert pusher.refused == []
    finally:
        await delete_topology(private_broker.url, unique_prefix)
