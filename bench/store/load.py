"""The load: registrations, then status reads, over HTTP with a fixed number of clients.

Each phase runs ``count`` requests through ``concurrency`` concurrent workers on one
``ClientSession`` and reports throughput and latency percentiles. Every answer must be the
expected status (201 / 200), or the phase fails: a fast error is not a result.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from shared.wechat.applicant import check_character

Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


class LoadError(RuntimeError):
    """The service answered something other than the expected status."""


@dataclass(frozen=True)
class PhaseResult:
    """Throughput and latency of one phase."""

    name: str
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        """Requests per second."""
        return self.count / self.seconds


def id_number(serial: int) -> str:
    """A valid, made-up ID number for applicant ``serial``."""
    first17 = f"1101051990{serial % 10_000_000:07d}"
    return first17 + check_character(first17)


def percentile(sorted_ms: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of sorted latencies (nearest rank)."""
    index = min(len(sorted_ms) - 1, max(0, round(fraction * len(sorted_ms)) - 1))
    return sorted_ms[index]


async def run_phase(
    name: str, session: aiohttp.ClientSession, request: Request, count: int, concurrency: int
) -> PhaseResult:
    """``count`` requests through ``concurrency`` workers; every one must succeed."""
    latencies: list[float] = []
    numbers = iter(range(count))

    async def worker() -> None:
        for n in numbers:  # a shared iterator: each number is taken once
            started = time.perf_counter()
            await request(session, n)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return PhaseResult(
        name, count, elapsed, percentile(latencies, 0.5), percentile(latencies, 0.99)
    )


class ApiLoad:
    """Registrations and status reads against one base URL with one API key."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._base = base_url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._prefix = "b" + uuid.uuid4().hex[:8]
        self.registered: list[str] = []

    async def register(self, session: aiohttp.ClientSession, n: int) -> int:
        """One legacy registration (a fresh out_seq_no and applicant)."""
        out_seq_no = f"{self._prefix}-{n}"
        body = {"name": "测试", "id_card_number": id_number(n), "out_seq_no": out_seq_no}
        url = f"{self._base}/v1/verifications"
        async with session.post(url, json=body, headers=self._headers) as response:
            await response.read()
            _expect(response.status, 201, "registration")
        self.registered.append(out_seq_no)
        return response.status

    async def read(self, session: aiohttp.ClientSession, n: int) -> int:
        """One status read of a registered verification (round-robin)."""
        out_seq_no = self.registered[n % len(self.registered)]
        url = f"{self._base}/v1/verifications/{out_seq_no}"
        async with session.get(url, headers=self._headers) as response:
            await response.read()
            _expect(response.status, 200, "status read")
        return response.status


def _expect(status: int, expected: int, what: str) -> None:
    if status != expected:
        raise LoadError(f"{what} answered {status}, expected {expected}")
