"""examples/subscriber.py: binds its own quorum queue, handles each message_id once, acks all."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from examples.subscriber import RecentIds, summarize
from shared.vocabulary import Flow, Outcome, Reason
from tests.deploy.files import ROOT
from worker.outcome import OutcomeEvent, outcome_message_id

SCRIPT = ROOT / "examples" / "subscriber.py"
_LINE_TIMEOUT_S = 30.0


def _event(out_seq_no: str, outcome: Outcome, reason: Reason | None) -> OutcomeEvent:
    return OutcomeEvent(
        message_id=outcome_message_id("wx0123456789abcdef", out_seq_no, "credential"),
        appid="wx0123456789abcdef",
        out_seq_no=out_seq_no,
        openid=None,
        flow=Flow.V2,
        outcome=outcome,
        reason=reason,
        wechat_code=None,
        time=datetime.now(UTC),
    )


def test_recent_ids_forget_the_oldest_beyond_capacity() -> None:
    """The de-duplication memory is bounded: the oldest id goes first."""
    seen = RecentIds(capacity=2)
    for message_id in ("a", "b", "a", "c"):
        seen.add(message_id)
    assert len(seen) == 2
    assert "a" in seen
    assert "c" in seen
    assert "b" not in seen


def test_summarize_refuses_what_is_not_an_event() -> None:
    """A body that is not an outcome event is reported as such, not crashed on."""
    with pytest.raises(ValueError, match="not an outcome event"):
        summarize(b'{"data": 1}')
    assert summarize(_event("s-1", Outcome.EXPIRED, Reason.SESSION_EXPIRED).encode())["reason"] == (
        "session_expired"
    )


@pytest.fixture
async def channel(amqp_url: str) -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    """A channel on the shared broker."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield await connection.channel()


async def _read_json(stream: asyncio.StreamReader) -> dict[str, Any]:
    line = await asyncio.wait_for(stream.readline(), _LINE_TIMEOUT_S)
    assert line, "the subscriber exited early"
    loaded: dict[str, Any] = json.loads(line)
    return loaded


async def _publish(channel: aio_pika.abc.AbstractChannel, prefix: str, event: OutcomeEvent) -> None:
    exchange = await channel.get_exchange(f"{prefix}.identity")
    message = aio_pika.Message(
        event.encode(),
        message_id=event.message_id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    await exchange.publish(message, routing_key=event.routing_key, mandatory=True)


@pytest.mark.broker
async def test_subscriber_handles_each_message_id_once(
    amqp_url: str, unique_prefix: str, channel: aio_pika.abc.AbstractChannel
) -> None:
    """Two copies of one event and one other event: two handled, one duplicate, all acked."""
    queue = f"{unique_prefix}.subscriber"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), "--url", amqp_url, "--prefix", unique_prefix,
        "--queue", queue, "--max-events", "2", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        assert (await _read_json(proc.stdout))["event"] == "ready"
        first = _event("s-1", Outcome.VERIFIED, None)
        for event in (first, first, _event("s-2", Outcome.REJECTED, Reason.NOT_PASSED)):
            await _publish(channel, unique_prefix, event)
        lines = [await _read_json(proc.stdout) for _ in range(4)]
        assert await asyncio.wait_for(proc.wait(), _LINE_TIMEOUT_S) == 0
        handled = [line for line in lines if line["event"] == "handled"]
        assert {line["out_seq_no"] for line in handled} == {"s-1", "s-2"}
        assert [line["event"] for line in lines].count("duplicate") == 1
        assert lines[-1] == {"event": "stopped", "handled": 2}
        # re-declaring as a durable quorum queue succeeds only if that is what the example made
        quorum: dict[str, Any] = {"x-queue-type": "quorum"}
        declared = await channel.declare_queue(queue, durable=True, arguments=quorum)
        assert declared.declaration_result.message_count == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await channel.queue_delete(queue)
        await channel.exchange_delete(f"{unique_prefix}.identity")
