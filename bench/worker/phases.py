"""One measured phase: enqueue seeded credentials, wait for every outcome, read the clocks.

:func:`drain` puts all work items on the queue at once (the throughput and burst phases);
:func:`steady` enqueues them at a fixed rate. Either way the phase ends when every session
has its outcome event downstream; CPU is sampled right before the first publish and right
after the last outcome.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from bench.broker_wal import newest_wal, rolled_over
from bench.cpu import MACHINE, CpuSample
from bench.gc_pause import collector_held
from bench.worker.downstream import Collector
from bench.worker.seed import APPID, OPENID, Credential
from bench.worker.stages import Totals
from shared.amqp.publisher import Publisher
from shared.vocabulary import Flow
from shared.work import WorkItem

PUBLISH_CONCURRENCY = 256
Groups = Callable[[], Mapping[str, list[int]]]
Sent = list[tuple[str, float]]  # (out_seq_no, enqueued at)


@dataclass(frozen=True)
class PhaseResult:
    """What one phase measured."""

    name: str
    messages: int
    seconds: float  # first publish → last outcome
    enqueue_seconds: float  # first publish → last publish confirmed
    cpu: Mapping[str, float]  # CPU seconds per process group
    push_to_outcome: list[float]  # seconds, sorted: enqueue → outcome downstream
    enqueue_to_decision: list[float]  # seconds, sorted: enqueue → the event's ``time``
    outcomes: Mapping[str, int]
    duplicates: int  # second events for a session
    conflicts: int  # of them, those with another message_id: a second decision
    broker_wal_rolled: bool | None = None  # RabbitMQ's quorum WAL rolled over (None: unknown)
    stages: Totals | None = None  # the workers' own histograms over the phase (None: not read)

    @property
    def rate(self) -> float:
        """Outcomes per second over the phase."""
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    @property
    def machine_busy(self) -> float:
        """How busy the machine's cores were over the phase, 0–1 (MACHINE / cores / seconds)."""
        cores = os.cpu_count() or 1
        return self.cpu.get(MACHINE, 0.0) / cores / self.seconds if self.seconds > 0 else 0.0

    def cpu_us_per_message(self, group: str) -> float:
        """CPU microseconds of ``group`` per message."""
        return self.cpu.get(group, 0.0) / self.messages * 1e6 if self.messages else 0.0


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered))))
    return ordered[rank - 1]


def work_item(cred: Credential) -> WorkItem:
    """The work item for ``cred``, received now: WeChat's push (legacy), or the business
    reporting that the user finished (v2, as the result endpoint enqueues it)."""
    now = time.time()
    if cred.flow is Flow.V2:
        return WorkItem(kind="result", flow=Flow.V2, appid=APPID, out_seq_no=cred.out_seq_no,
                        received_at=now)  # fmt: skip
    return WorkItem(
        kind="push", flow=Flow.LEGACY, appid=APPID, out_seq_no=cred.out_seq_no, openid=OPENID,
        verify_result=cred.verify_result, create_time=int(now), received_at=now,
    )  # fmt: skip


async def drain(
    name: str, publisher: Publisher, collector: Collector, creds: list[Credential], groups: Groups
) -> PhaseResult:
    """Enqueue every credential at once; wait until each has its outcome."""
    slots = asyncio.Semaphore(PUBLISH_CONCURRENCY)

    async def one(cred: Credential) -> tuple[str, float]:
        async with slots:
            item = work_item(cred)
            await publisher.publish_work(item)
            return item.out_seq_no, item.received_at

    return await _measure(name, collector, creds, groups, lambda: _all(one, creds))


async def steady(
    name: str,
    publisher: Publisher,
    collector: Collector,
    creds: list[Credential],
    groups: Groups,
    rate: float,
) -> PhaseResult:
    """Enqueue the credentials at ``rate`` per second; wait until each has its outcome."""

    async def one(cred: Credential) -> tuple[str, float]:
        item = work_item(cred)
        await publisher.publish_work(item)
        return item.out_seq_no, item.received_at

    async def paced() -> Sent:
        start, tasks = time.monotonic(), []
        for i, cred in enumerate(creds):
            ahead = start + i / rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)  # pacing the load, not waiting for a result
            tasks.append(asyncio.create_task(one(cred)))
        return list(await asyncio.gather(*tasks))

    return await _measure(name, collector, creds, groups, paced)


async def _all(
    one: Callable[[Credential], Awaitable[tuple[str, float]]], creds: list[Credential]
) -> Sent:
    return list(await asyncio.gather(*(one(c) for c in creds)))


async def _measure(
    name: str,
    collector: Collector,
    creds: list[Credential],
    groups: Groups,
    enqueue: Callable[[], Awaitable[Sent]],
) -> PhaseResult:
    collector.expect(len(creds))
    pids = groups()
    wal_before = newest_wal()
    with collector_held():
        before, started = CpuSample.take(pids), time.time()
        sent = dict(await enqueue())
        enqueued = time.time()
        await asyncio.wait_for(collector.done.wait(), timeout=max(120.0, len(creds) / 50))
        cpu = CpuSample.take(pids).since(before)
    arrivals = collector.arrivals.values()
    finished = max(a.arrived_at for a in arrivals)
    return PhaseResult(
        name=name, messages=len(creds), seconds=finished - started,
        enqueue_seconds=enqueued - started, cpu=cpu,
        push_to_outcome=sorted(a.arrived_at - sent[a.out_seq_no] for a in arrivals),
        enqueue_to_decision=sorted(a.decided_at - sent[a.out_seq_no] for a in arrivals),
        outcomes=dict(collector.outcomes), duplicates=collector.duplicates,
        conflicts=collector.conflicts, broker_wal_rolled=rolled_over(wal_before, newest_wal()),
    )  # fmt: skip
