"""Fault tests: killed workers, a restarted broker, a flaky WeChat: one outcome per credential."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from shared.vocabulary import Outcome, Status
from standin.scenario import Script
from tests.polling import eventually
from tests.private_broker import PrivateBroker
from tests.worker.conftest import api_base, wiring, worker_settings
from tests.worker.processes import WorkerProcess, worker_env
from tests.worker.rig import E2E, Received, one_decision_each
from worker.service import WorkerService

pytestmark = [pytest.mark.slow, pytest.mark.broker]


async def register(e2e: E2E, seqs: list[str], script: Script | None = None) -> dict[str, str]:
    """Register and complete a legacy verification per out_seq_no; their verify_results."""
    results = {}
    for seq in seqs:
        await e2e.legacy(seq)
        if script is not None:
            e2e.standin.script(seq, script.model_copy())
        results[seq] = e2e.complete(seq)
    return results


async def check_all_decided_once(e2e: E2E, seqs: list[str], events: list[Received]) -> None:
    """Distinct message_ids = distinct credentials, each verified, stored once."""
    by_seq = one_decision_each(events + e2e.downstream.drained())
    assert sorted(by_seq) == sorted(seqs)
    assert len({r.event.message_id for r in by_seq.values()}) == len(seqs)
    assert {r.event.outcome for r in by_seq.values()} == {Outcome.VERIFIED}
    for seq in seqs:
        session = await e2e.store.get_session(seq)
        assert session is not None
        assert session.status is Status.VERIFIED
        [decision] = await e2e.store.decisions_for(seq)
        assert decision.message_id == by_seq[seq].event.message_id


@pytest.mark.timeout(420)
async def test_sigkill_mid_batch_ten_times_with_a_second_worker(
    amqp_url: str, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> None:
    """SIGKILL one of two workers mid-batch ten times: every credential gets exactly one outcome."""
    db = tmp_path / "wx.db"
    async with wiring(amqp_url, unique_prefix, db, standin_server) as e2e:
        seqs = [f"seq-kill-{i:03d}" for i in range(300)]
        results = await register(e2e, seqs, Script(latency_ms=300))
        env = worker_env(amqp_url, unique_prefix, db, api_base(standin_server))
        victim = WorkerProcess(dict(env), tmp_path / "victim.log")
        survivor = WorkerProcess(dict(env), tmp_path / "survivor.log")
        try:
            for worker in (survivor, victim):
                worker.start()
                await worker.wait_ready()
            for round_ in range(10):
                for seq in seqs[round_ * 30 : (round_ + 1) * 30]:
                    await e2e.push(seq, results[seq])
                # kill once the victim decided a few (a different number each round): it
                # still holds a full prefetch window of the batch
                await _wait_decided(victim.port, 1 + round_ % 4)
                victim.kill()
                victim.start()
                await victim.wait_ready()
            events = await e2e.downstream.until_all(set(seqs), timeout=180)
        finally:
            victim.stop_quietly()
            survivor.stop_quietly()
        await check_all_decided_once(e2e, seqs, events)
        lives = victim.log_path.read_text().split('"consumer_started"')
        assert len(lives) == 12  # eleven starts, ten of them killed
        assert all('"outcome_published"' in life for life in lives[1:-1])  # killed mid-work


@pytest.mark.timeout(300)
async def test_broker_restart_mid_run(
    private_broker: PrivateBroker, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> None:
    """A broker restart mid-run: the worker reconnects, one outcome per credential, and its
    metrics count the connections RabbitMQ closed."""
    db, url = tmp_path / "wx.db", private_broker.url
    async with wiring(url, unique_prefix, db, standin_server) as e2e:
        seqs = [f"seq-bounce-{i:03d}" for i in range(120)]
        results = await register(e2e, seqs, Script(latency_ms=200))
        worker = WorkerService(worker_settings(url, unique_prefix, db, api_base(standin_server)))
        await worker.start()
        try:
            assert await worker.wait_ready(30)
            for seq in seqs:
                await e2e.push(seq, results[seq])
            events = await e2e.downstream.take(20, timeout=60)
            try:
                await asyncio.to_thread(private_broker.stop_app)
            finally:
                await asyncio.to_thread(private_broker.start_app)
            events += await e2e.downstream.until_all(set(seqs) - _seqs(events), timeout=180)
            assert await worker.wait_ready(30)
        finally:
            await worker.stop()
        await check_all_decided_once(e2e, seqs, events)
    for link in ("consumer", "publisher"):  # both lost their connection and said so
        closes = [
            worker.metrics.registry.get_sample_value(
                "wxface_worker_broker_closes_total", {"link": link, "what": what}
            ) or 0.0
            for what in ("connection", "channel")
        ]  # fmt: skip
        assert sum(closes) >= 1, link


@pytest.mark.timeout(300)
async def test_flaky_wechat_and_token_invalidation(
    amqp_url: str, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> None:
    """30% of calls fail with -1, the token is revoked every 2 s: all verified in time."""
    db = tmp_path / "wx.db"
    async with wiring(amqp_url, unique_prefix, db, standin_server) as e2e:
        seqs = [f"seq-flaky-{i:03d}" for i in range(100)]
        results = await register(e2e, seqs)
        e2e.standin.config = dataclasses.replace(e2e.standin.config, fault_rate=0.3, seed=7)
        worker = WorkerService(
            worker_settings(amqp_url, unique_prefix, db, api_base(standin_server))
        )
        await worker.start()
        try:
            assert await worker.wait_ready(30)
            pushed = {seq: (await e2e.push(seq, results[seq])).received_at for seq in seqs}
            async with _revoking_tokens(e2e, every_s=2.0):
                events = await e2e.downstream.until_all(set(seqs), timeout=240)
            metrics = await _metrics(worker.http_port)
        finally:
            await worker.stop()
        await check_all_decided_once(e2e, seqs, events)
        for got in events:
            assert got.event.time.timestamp() - pushed[got.event.out_seq_no] < 300
        assert _value(metrics, 'wxface_worker_retries_total{cause="transient"}') > 0
        assert _value(metrics, "wxface_worker_token_refreshes_total") >= 2


async def _wait_decided(port: int, count: int) -> None:
    """Poll a worker's metrics until it decided ``count`` messages in this life."""
    sample = 'wxface_worker_messages_total{disposition="decided"}'

    async def decided() -> bool | None:
        return True if _value(await _metrics(port), sample) >= count else None

    await eventually(decided, 60, f"{count} decided", every_s=0.02)


def _seqs(events: list[Received]) -> set[str]:
    return {r.event.out_seq_no for r in events}


@contextlib.asynccontextmanager
async def _revoking_tokens(e2e: E2E, every_s: float) -> AsyncIterator[None]:
    """Revoke every live access token every ``every_s`` seconds while inside the block."""
    stop = asyncio.Event()

    async def revoke() -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), every_s)
            except TimeoutError:
                e2e.standin.tokens.invalidate()

    task = asyncio.create_task(revoke())
    try:
        yield
    finally:
        stop.set()
        await task


async def _metrics(port: int) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/metrics") as response,
    ):
        return await response.text()


def _value(metrics: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", metrics, re.M)
    return float(found.group(1)) if found else 0.0
