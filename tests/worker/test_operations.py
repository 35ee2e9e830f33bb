"""Operations: health and metrics endpoints, dead-letter listing and redrive, SIGTERM drain."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestServer

from shared.amqp.topology import Topology
from shared.vocabulary import Outcome
from standin.scenario import Script
from tests.polling import eventually
from tests.worker.conftest import api_base, wiring
from tests.worker.processes import REPO, WorkerProcess, worker_env
from tests.worker.rig import E2E, one_decision_each
from worker.dlq import DeadLetterInfo, list_dead, redrive

pytestmark = pytest.mark.broker


async def get(port: int, path: str) -> tuple[int, str]:
    """Status and text of GET http://127.0.0.1:port/path."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def test_health_readiness_and_metrics(e2e: E2E) -> None:
    """/healthz and /readyz answer 200, /metrics counts outcomes, WeChat calls and latencies."""
    assert (await get(e2e.health_port, "/healthz"))[0] == 200
    status, ready = await get(e2e.health_port, "/readyz")
    assert status == 200
    assert '"consumer":true' in ready.replace(" ", "")
    await e2e.legacy("seq-metrics")
    await e2e.push("seq-metrics", e2e.complete("seq-metrics"))
    await e2e.downstream.take(1)
    # the counters move once the publish is confirmed, which can be just after delivery
    text = await _metrics_once(
        e2e.health_port, 'wxface_worker_messages_total{disposition="decided"} 1.0'
    )
    assert 'wxface_worker_outcomes_total{outcome="verified",reason=""} 1.0' in text
    assert 'wxface_worker_wechat_calls_total{endpoint="getinfo",errcode="0"} 1.0' in text
    assert "wxface_worker_token_refreshes_total 1.0" in text
    assert 'wxface_worker_messages_total{disposition="decided"} 1.0' in text
    assert "wxface_worker_time_in_queue_seconds_count 1.0" in text
    assert "wxface_worker_push_to_outcome_seconds_count 1.0" in text
    assert "wxface_worker_publish_confirm_seconds_count 1.0" in text  # the outcome event
    assert 'wxface_worker_store_batch_seconds_count{kind="read"} 1.0' in text
    assert 'wxface_worker_store_batch_seconds_count{kind="decide"} 1.0' in text
    assert "wxface_worker_backlogged 0.0" in text  # one message, and it is done
    assert "seq-metrics" not in text


async def _metrics_once(port: int, line: str, within_s: float = 10.0) -> str:
    """The /metrics text as soon as it contains ``line`` (fails after ``within_s``)."""

    async def text_with_line() -> str | None:
        _, text = await get(port, "/metrics")
        return text if line in text else None

    return await eventually(text_with_line, within_s, f"/metrics line {line}")


async def test_dead_letters_are_listed_and_redriven_idempotently(e2e: E2E, amqp_url: str) -> None:
    """A configuration error dead-letters; list leaves it; redrive after the fix decides it once."""
    await e2e.legacy("seq-conf")
    verify_result = e2e.complete("seq-conf")
    e2e.standin.script("seq-conf", Script(errcode=48001))  # API not authorised for this appid
    await e2e.push("seq-conf", verify_result)
    await e2e.intake.publish(e2e.topology.intake, "verify", b"not a work item", "garbage-1")
    dead = await _wait_dead(e2e.topology, amqp_url, 2)
    causes = {(d.cause, d.errcode, d.out_seq_no) for d in dead}
    assert causes == {("wechat_config", 48001, "seq-conf"), ("unreadable", None, None)}
    assert len(await list_dead(amqp_url, e2e.topology)) == 2  # listing consumed nothing
    e2e.standin.script("seq-conf")  # the operator fixed the permission
    moved = await redrive(amqp_url, e2e.topology)
    assert len(moved) == 2
    [got] = await e2e.downstream.take(1)
    assert (got.event.out_seq_no, got.event.outcome) == ("seq-conf", Outcome.VERIFIED)
    await _wait_dead(e2e.topology, amqp_url, 1)  # the garbage comes back: still unreadable
    assert [d.cause for d in await redrive(amqp_url, e2e.topology, limit=0)] == []


async def test_dlq_list_command_prints_one_line_per_dead_letter(e2e: E2E, amqp_url: str) -> None:
    """``python -m worker dlq list`` prints JSON lines with the cause, never the body."""
    await e2e.intake.publish(e2e.topology.intake, "verify", b"secret-looking-garbage", "garbage-2")
    await _wait_dead(e2e.topology, amqp_url, 1)
    env = worker_env(amqp_url, e2e.topology.prefix, Path("/nonexistent"), "http://127.0.0.1:1")
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "worker", "dlq", "list"], cwd=REPO, env=env,
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1
    assert '"cause":"unreadable"' in lines[0]
    assert '"message_id":"garbage-2"' in lines[0]
    assert b"secret-looking-garbage" not in done.stdout + done.stderr


async def _wait_dead(topology: Topology, url: str, count: int) -> list[DeadLetterInfo]:
    """Poll the dead-letter queue until it holds ``count`` messages."""

    async def enough() -> list[DeadLetterInfo] | None:
        found = await list_dead(url, topology)
        return found if len(found) >= count else None

    found = await eventually(enough, 20, f"{count} dead letters", every_s=0.2)
    assert len(found) == count
    return found


@pytest.mark.slow
async def test_sigterm_drains_in_flight_hands_back_the_rest_and_exits_0(
    amqp_url: str, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> None:
    """SIGTERM: in-flight messages finish or go back, exit 0; every credential decided once."""
    db = tmp_path / "wx.db"
    async with wiring(amqp_url, unique_prefix, db, standin_server) as e2e:
        env = worker_env(amqp_url, unique_prefix, db, api_base(standin_server),
                         WXFACE_SHUTDOWN_TIMEOUT_S="1.5")  # fmt: skip
        worker = WorkerProcess(env, tmp_path / "worker.log")
        try:
            seqs = [f"seq-term-{i:02d}" for i in range(12)]
            for i, seq in enumerate(seqs):
                await e2e.legacy(seq)
                e2e.standin.script(seq, Script(latency_ms=300 if i % 2 else 4000))
            for seq in seqs:
                await e2e.push(seq, e2e.complete(seq))
            worker.start()
            await worker.wait_ready()
            await _wait_in_flight(worker.port, 8)
            assert await asyncio.to_thread(worker.terminate) == 0
            log = worker.log_path.read_text()
            stopped = [line for line in log.splitlines() if '"consumer_stopped"' in line]
            assert len(stopped) == 1, log[-3000:]
            assert orjson.loads(stopped[0])["handed_back"] >= 1
            for seq in seqs:
                e2e.standin.script(seq)
            worker.start()
            got = await e2e.downstream.until_all(set(seqs))
            by_seq = one_decision_each(got + e2e.downstream.drained())
            assert sorted(by_seq) == seqs
            assert {r.event.outcome for r in by_seq.values()} == {Outcome.VERIFIED}
        finally:
            worker.stop_quietly()


async def _wait_in_flight(port: int, count: int) -> None:
    """Poll the worker's metrics until ``count`` messages are in flight."""

    async def in_flight() -> bool | None:
        _, text = await get(port, "/metrics")
        found = re.search(r"^wxface_worker_in_flight (\S+)$", text, re.M)
        return True if found and float(found.group(1)) >= count else None

    await eventually(in_flight, 20, f"{count} messages in flight")
