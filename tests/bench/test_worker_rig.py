"""Tests of the worker benchmark on the real RabbitMQ: rig, seeding, the bare loop, clean-up."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import aiormq
import pytest

from bench.child import Child, child_env
from bench.cpu import RABBITMQ, STANDIN, SUBJECT
from bench.worker.children import start_workers
from bench.worker.phases import drain, steady
from bench.worker.rig import open_rig
from bench.worker.seed import APPID, SECRET

pytestmark = pytest.mark.broker


async def test_bare_loop_decides_each_seeded_credential_and_names_are_deleted(
    amqp_url: str, tmp_path: Path
) -> None:
    """Three seeded credentials through the bare loop: three verified outcomes, CPU counted."""
    async with open_rig(amqp_url, tmp_path, 0, f"sqlite:///{tmp_path / 'wxface.db'}") as rig:
        args = ["--amqp-url", amqp_url, "--prefix", rig.topology.prefix, "--api-base",
                rig.api_base, "--appid", APPID, "--secret", SECRET, "--prefetch", "4"]  # fmt: skip
        child = Child("bare", ["-m", "bench.worker.bare", *args], child_env(),
                      tmp_path / "bare.log", pipe_stdout=True)  # fmt: skip
        await child.start()
        try:
            assert (await child.first_line())["event"] == "bare_ready"
            rig.subject = [child.pid]
            result = await drain("t", rig.publisher, rig.collector, await rig.seed(3), rig.groups)
        finally:
            await child.stop()
        prefix = rig.topology.prefix
    assert (dict(result.outcomes), result.duplicates, len(result.push_to_outcome)) == (
        {"verified": 3}, 0, 3,
    )  # fmt: skip
    assert {SUBJECT, STANDIN, RABBITMQ} <= set(result.cpu)
    await _assert_deleted(amqp_url, f"{prefix}.verify")


async def test_worker_process_decides_a_steady_trickle(amqp_url: str, tmp_path: Path) -> None:
    """A real ``python -m worker`` turns four paced work items into four verified outcomes."""
    async with open_rig(amqp_url, tmp_path, 0, f"sqlite:///{tmp_path / 'wxface.db'}") as rig:
        workers = await start_workers(rig.launch(prefetch=4), 1, tmp_path)
        try:
            rig.subject = [workers[0].pid]
            creds = await rig.seed(4)
            result = await steady("t", rig.publisher, rig.collector, creds, rig.groups, 50.0)
        finally:
            await workers[0].stop()
    assert dict(result.outcomes) == {"verified": 4}
    assert result.cpu[SUBJECT] >= 0.0
    assert result.rate > 0


async def _assert_deleted(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(queue, passive=True)
    finally:
        await connection.close()
