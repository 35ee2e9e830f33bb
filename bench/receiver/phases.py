"""The phases of one variant's run: warm-up, saturation (wrk), fixed rate (open loop).

Each phase signs its own pushes just before it starts (fresh timestamps, never reused), then
checks the variant's work queue against the answers and empties it for the next phase.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import RABBITMQ, SUBJECT, CpuSample, rabbitmq_pid
from bench.receiver import profile
from bench.receiver.broker import BenchBroker
from bench.receiver.openloop import OpenLoopResult, run_open_loop
from bench.receiver.process import ProcessRss, Server, process_tree
from bench.receiver.pushes import raw_requests, sign_pushes, write_requests
from bench.receiver.wrk import WrkResult, run_wrk


@dataclass(frozen=True)
class Target:
    """The variant under load: its URL parts, its server and its work queue (None: no broker)."""

    host: str
    port: int
    server: Server
    queue: str | None
    workdir: Path

    @property
    def url(self) -> str:
        """Base URL for wrk."""
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Saturation:
    """The saturation phase: wrk's result, RSS at its end, the queue depth after it, and the CPU
    seconds used during it by the server's processes (SUBJECT) and by RabbitMQ (RABBITMQ)."""

    wrk: WrkResult
    rss: list[ProcessRss]
    queued: int | None
    cpu_s: Mapping[str, float] = field(default_factory=dict)

    def cpu_us_per_push(self, group: str) -> float | None:
        """CPU µs of ``group`` per ``success`` (None when not measured)."""
        if group not in self.cpu_s or not self.wrk.ok:
            return None
        return self.cpu_s[group] / self.wrk.ok * 1e6

    @property
    def valid(self) -> bool:
        """No push sent twice, and every ``success`` is in the queue (at most the cut-off extra)."""
        if self.queued is None:
            return True
        return self.wrk.wraps == 0 and self.wrk.ok <= self.queued <= self.wrk.sent


@dataclass(frozen=True)
class FixedRate:
    """The fixed-rate phase: the open-loop result and the queue depth after it."""

    result: OpenLoopResult
    queued: int | None

    @property
    def valid(self) -> bool:
        """Every ``success`` is in the queue, exactly (the generator waits for every answer)."""
        return self.queued is None or self.queued == self.result.ok


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def saturate(
    target: Target,
    broker: BenchBroker,
    duration_s: float,
    pool: int,
    connections: int,
    profile_out: Path | None = None,
) -> Saturation:
    """wrk for ``duration_s`` over ``pool`` fresh pushes; RSS read as soon as wrk stops.

    With ``profile_out``, py-spy samples the server during the run (collapsed stacks there).
    """
    requests_file = target.workdir / "requests.txt"
    write_requests(sign_pushes(pool, _tag()), requests_file)
    groups = _cpu_groups(target)
    before = CpuSample.take(groups)
    load = run_wrk(target.url, requests_file, duration_s, connections)
    try:
        if profile_out is None:
            result = await load
        else:
            sampled = profile.record(target.server.pid, duration_s - 1, profile_out)
            result, _ = await asyncio.gather(load, sampled)
    finally:
        requests_file.unlink(missing_ok=True)
    cpu = CpuSample.take(groups).since(before)
    rss = target.server.rss()
    return Saturation(result, rss, await _settle(target, broker, result.ok), cpu)


def _cpu_groups(target: Target) -> dict[str, list[int]]:
    """The server's process tree and, for the durable variants, RabbitMQ's VM."""
    groups = {SUBJECT: process_tree(target.server.pid)}
    beam = rabbitmq_pid() if target.queue is not None else None
    if beam is not None:
        groups[RABBITMQ] = [beam]
    return groups


async def fixed_rate(
    target: Target, broker: BenchBroker, rate: float, duration_s: float, connections: int
) -> FixedRate:
    """``rate`` pushes per second for ``duration_s``, open loop; waits for every answer."""
    pushes = sign_pushes(int(rate * duration_s), _tag())
    requests = raw_requests(pushes, f"{target.host}:{target.port}")
    result = await run_open_loop(target.host, target.port, requests, rate, connections)
    return FixedRate(result, await _settle(target, broker, result.ok))


async def warm_up(target: Target, broker: BenchBroker, duration_s: float, pool: int) -> None:
    """A short wrk run whose messages are thrown away (connections opened, code paths warm)."""
    if duration_s > 0:
        await saturate(target, broker, duration_s, pool, connections=16)


async def _settle(target: Target, broker: BenchBroker, ok: int) -> int | None:
    """The queue depth once publishing settled, then empty the queue; None without a queue."""
    if target.queue is None:
        return None
    depth = await broker.settle(target.queue, ok)
    await broker.purge(target.queue)
    return depth
