"""Store work of concurrent messages gathered into one store call: the worker's store batching.

Handlers read a session and record a decision one message at a time. :class:`BatchingStore`
collects the reads (and, separately, the decisions) and sends them as one ``get_sessions``
read or one ``decide_many`` transaction: one store call and one COMMIT (one fsync) for many
messages. A batch goes on the next loop turn, so every call made in this one joins it; while
it is at the store, the next calls gather for the batch after it.

Decisions linger: a decision batch goes when the oldest call in it has waited
``linger_s``, or at once when it is full; calls made while the previous batch was on its way
count their wait from their own arrival, so none waits more than the linger plus the batch
ahead of it. WeChat's replies come back one by one, so without it each message would travel
on through the worker, the broker and the stand-in alone: a commit, a publish, a confirm and
an ack each. Held for a few milliseconds, the messages move on together — one commit, one
coalesced publish, one batch of confirms and acks, one batch of new deliveries — and every
process on the path does less per message.

While the consumer is backlogged (its prefetch window is full, or was a moment ago: the broker
has more messages waiting for this worker's slots; see ``Consumer.backlogged``), a batch
lingers only ``backlog_linger_s``. Every message then holds a slot for its whole linger, so
the linger costs throughput one for one; and in a backlog the messages already move in waves,
which a millisecond gathers. At a rate the window carries with room to spare, the linger
costs latency only, and the longer one saves the CPU.

Reads linger only where each one is a round trip (PostgreSQL). A read stands between a
delivery and its WeChat call, so a linger there holds every message's call back by as much.
SQLite answers a read on the event loop's own thread for less than a batch's bookkeeping, so
there a read batch goes on the next loop turn: the deliveries of a wave reach the worker
together anyway. A PostgreSQL read costs a query's round trip in the worker and the server,
and there the linger saves more than it costs. The worker benchmark measured both
(BENCHMARKS.md, session 11).

Each caller is answered only once its batch's transaction is committed, so a decision is still
durable before its event is published. A failed batch fails every caller in it (the
transaction rolled back as a whole); each caller's patience retries its own step, and a
replayed decision gets the first decision back, as with single calls.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

from shared.store.model import Decided, Decision, Session
from worker.ports import Protection

K = TypeVar("K")
R = TypeVar("R")
MAX_BATCH = 128


class BatchableStore(Protocol):
    """The store calls :class:`BatchingStore` builds on (``shared.store.base.Store`` has them)."""

    @property
    def protector(self) -> Protection:
        """Keyed hashing and sealing under the data key."""
        ...

    @property
    def local_reads(self) -> bool:
        """True when a read is answered in this process, with no round trip (SQLite)."""
        ...

    async def get_sessions(self, out_seq_nos: Sequence[str]) -> dict[str, Session]:
        """The sessions that exist among ``out_seq_nos``, by out_seq_no."""
        ...

    async def decide_many(self, decisions: Sequence[Decision]) -> list[Decided]:
        """``decide`` for each, in order, in one transaction."""
        ...

    async def ping(self) -> None:
        """Raise when the store is unreachable."""
        ...


class Batcher(Generic[K, R]):
    """Runs ``run(keys)`` for the keys submitted meanwhile; each caller gets its own result."""

    def __init__(
        self,
        run: Callable[[list[K]], Awaitable[list[R]]],
        max_size: int,
        linger: Callable[[], float] | None = None,
        on_done: Callable[[int, float], None] | None = None,
    ) -> None:
        """``linger()`` gives each batch its linger in seconds as it starts to wait (none: no
        linger); ``on_done(size, seconds)`` sees each batch once the store answered (or failed).
        """
        self._run = run
        self._on_done = on_done
        self._max_size = max(1, max_size)
        self._linger = linger
        # each call waiting for a batch: its key, its caller's future, its loop time of arrival
        self._pending: list[tuple[K, asyncio.Future[R], float]] = []
        self._sending: asyncio.Task[None] | None = None
        self._filled: asyncio.Future[None] | None = None  # resolved when a lingering batch is full

    async def submit(self, key: K) -> R:
        """The result for ``key``, from the next batch that goes out."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((key, future, loop.time()))
        if self._sending is None:
            # starts on the next loop turn, so every call made in this one joins the batch
            self._sending = asyncio.ensure_future(self._send_all())
        elif self._filled is not None and len(self._pending) >= self._max_size:
            _resolve(self._filled)
        return await future

    async def _send_all(self) -> None:
        try:
            while self._pending:
                linger_s = 0.0 if self._linger is None else self._linger()
                if linger_s > 0 and len(self._pending) < self._max_size:
                    await self._wait(linger_s)
                batch = self._pending[: self._max_size]
                del self._pending[: self._max_size]
                await self._send(batch)
        finally:
            self._sending = None

    async def _wait(self, linger_s: float) -> None:
        """Wait for more keys until the oldest has waited ``linger_s``; a full batch ends it."""
        loop = asyncio.get_running_loop()
        left = self._pending[0][2] + linger_s - loop.time()
        if left <= 0:
            return
        self._filled = filled = loop.create_future()
        timer = loop.call_later(left, _resolve, filled)
        try:
            await filled
        finally:
            timer.cancel()
            self._filled = None

    async def _send(self, batch: list[tuple[K, asyncio.Future[R], float]]) -> None:
        started = time.perf_counter()
        try:
            results = await self._run([key for key, _, _ in batch])
        except asyncio.CancelledError:
            for _, future, _ in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 (not handled: forwarded to every caller)
            self._done(len(batch), started)
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._done(len(batch), started)
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _done(self, size: int, started: float) -> None:
        if self._on_done is not None:
            self._on_done(size, time.perf_counter() - started)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class BatchingStore:
    """The worker's :class:`~worker.ports.SessionStore`, sending reads and decisions in batches."""

    def __init__(
        self,
        store: BatchableStore,
        *,
        max_batch: int = MAX_BATCH,
        linger_s: float = 0.0,
        backlog_linger_s: float = 0.0,
        backlogged: Callable[[], bool] | None = None,
        on_batch: Callable[[str, int, float], None] | None = None,
    ) -> None:
        """A decision batch lingers ``linger_s``, or ``backlog_linger_s`` while ``backlogged()``
        (the consumer is backlogged), and so does a read batch unless the store's reads are
        local; ``on_batch(kind, size, seconds)`` sees each batch and its time at the store once
        the store answered: kind ``read`` or ``decide``."""
        self._store = store
        self._linger_s = max(0.0, linger_s)
        self._backlog_linger_s = max(0.0, backlog_linger_s)
        self._backlogged = backlogged
        read_linger = None if store.local_reads else self._linger
        self._reads: Batcher[str, Session | None] = Batcher(
            self._read, max_batch, read_linger, _tagged(on_batch, "read")
        )
        self._decisions: Batcher[Decision, Decided] = Batcher(
            self._decide, max_batch, self._linger, _tagged(on_batch, "decide")
        )

    @property
    def protector(self) -> Protection:
        """Keyed hashing and sealing under the data key."""
        return self._store.protector

    async def get_session(self, out_seq_no: str) -> Session | None:
        """The session, or None when there is none (read together with concurrent reads)."""
        return await self._reads.submit(out_seq_no)

    async def decide(self, decision: Decision) -> Decided:
        """Record a decision once per credential, committed with concurrent decisions."""
        return await self._decisions.submit(decision)

    async def ping(self) -> None:
        """Raise when the store is unreachable."""
        await self._store.ping()

    def _linger(self) -> float:
        if self._backlogged is not None and self._backlogged():
            return self._backlog_linger_s
        return self._linger_s

    async def _decide(self, decisions: list[Decision]) -> list[Decided]:
        # every process writes the ledger in credential order, so two concurrent batches
        # cannot wait on each other's rows (a deadlock on PostgreSQL); the sort is stable,
        # so decisions on one credential keep their order and the first one wins
        order = sorted(range(len(decisions)), key=lambda i: _ledger_key(decisions[i]))
        decided = await self._store.decide_many([decisions[i] for i in order])
        results: list[Decided | None] = [None] * len(decisions)
        for i, result in zip(order, decided, strict=True):
            results[i] = result
        return [r for r in results if r is not None]

    async def _read(self, out_seq_nos: list[str]) -> list[Session | None]:
        found = await self._store.get_sessions(out_seq_nos)
        return [found.get(key) for key in out_seq_nos]


def _tagged(
    on_batch: Callable[[str, int, float], None] | None, kind: str
) -> Callable[[int, float], None] | None:
    return None if on_batch is None else functools.partial(on_batch, kind)


def _ledger_key(decision: Decision) -> str:
    return decision.credential or ""
