"""Open-loop load at a fixed rate, latency measured from each request's scheduled send time.

Request ``i`` is due at ``start + i / rate`` whatever happened to the ones before it, so a slow
server cannot slow the generator down and hide its own queueing (no coordinated omission). Due
requests wait in one queue for the next idle keep-alive connection; the time they wait there
counts. A connection the server closes (``Connection: close``) is re-opened for the next request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.receiver.pushes import SUCCESS

_Due = tuple[float, bytes]
_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class OpenLoopResult:
    """What a fixed-rate phase saw."""

    rate: float  # offered requests per second
    sent: int
    ok: int
    bad: int  # answered, but not 200 success
    unanswered: int  # still waiting when the drain time ran out, or failed on the socket
    latencies_s: list[float] = field(repr=False)  # of the ok answers, from scheduled send time
    max_send_lag_s: float  # worst lateness of the generator itself in making a request due

    def percentile_ms(self, q: float) -> float:
        """The q-th percentile (0-100) of the ok latencies in milliseconds (nan when none)."""
        return percentile(self.latencies_s, q) * 1000


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (nan for an empty sequence)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without float error for whole q
    return ordered[min(len(ordered), int(rank)) - 1]


@dataclass
class _Tally:
    ok: int = 0
    bad: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)


async def run_open_loop(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    connections: int = 64,
    drain_s: float = 5.0,
) -> OpenLoopResult:
    """Send every request in ``requests`` at ``rate`` per second over ``connections``."""
    queue: asyncio.Queue[_Due | None] = asyncio.Queue()
    tally = _Tally()
    senders = [asyncio.create_task(_sender(host, port, queue, tally)) for _ in range(connections)]
    lag = await _dispatch(requests, rate, queue)
    for _ in senders:
        queue.put_nowait(None)
    _, pending = await asyncio.wait(senders, timeout=drain_s)
    for task in pending:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*pending, return_exceptions=True)
    answered = tally.ok + tally.bad
    return OpenLoopResult(
        rate, len(requests), tally.ok, tally.bad, len(requests) - answered, tally.latencies, lag
    )


async def _dispatch(
    requests: Sequence[bytes], rate: float, queue: asyncio.Queue[_Due | None]
) -> float:
    """Make each request due on schedule; returns the worst lateness of the schedule."""
    start = time.perf_counter() + 0.05
    worst = 0.0
    for i, raw in enumerate(requests):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        worst = max(worst, time.perf_counter() - due)
        queue.put_nowait((due, raw))
    return worst


async def _sender(host: str, port: int, queue: asyncio.Queue[_Due | None], tally: _Tally) -> None:
    conn: _Conn | None = None
    try:
        while (item := await queue.get()) is not None:
            due, raw = item
            try:
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                conn[1].write(raw)
                status, body, keep = await _read_response(conn[0])
            except (OSError, asyncio.IncompleteReadError, ValueError):
                tally.failed += 1
                await _close(conn)
                conn = None
                continue
            _count(tally, status, body, time.perf_counter() - due)
            if not keep:
                await _close(conn)
                conn = None
    finally:
        await _close(conn)


def _count(tally: _Tally, status: int, body: bytes, latency: float) -> None:
    if status == 200 and body == SUCCESS:
        tally.ok += 1
        tally.latencies.append(latency)
    else:
        tally.bad += 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection stays open (Content-Length bodies only)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    }
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    keep = headers.get("connection", "").lower() != "close" and lines[0].startswith("HTTP/1.1")
    return status, body, keep


async def _close(conn: _Conn | None) -> None:
    """Close ``conn`` if it is open."""
    if conn is not None:
        conn[1].close()
        with contextlib.suppress(OSError):
            await conn[1].wait_closed()
