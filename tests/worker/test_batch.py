"""Tests of the worker's store batching: concurrent reads and decisions in one store call each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from shared.errors import StoreUnavailableError
from shared.store.base import Store, open_store
from shared.store.model import Decided, Decision, Session
from shared.store.protect import Protector
from shared.vocabulary import Reason
from tests.polling import eventually
from tests.shared.store.support import decision, legacy
from worker.batch import BatchingStore

DATA_KEY = "unit-test-data-key-0123"


class CountingStore:
    """The real store, counting batched calls; fails the next ``failures`` decide_many calls."""

    def __init__(self, store: Store, *, local_reads: bool | None = None) -> None:
        self.store = store
        self._local_reads = store.local_reads if local_reads is None else local_reads
        self.reads: list[int] = []
        self.writes: list[int] = []
        self.credentials: list[list[str | None]] = []
        self.failures = 0
        self.gate: asyncio.Event | None = None  # when set up, decisions wait for it

    @property
    def protector(self) -> Protector:
        """The real store's protector."""
        return self.store.protector

    @property
    def local_reads(self) -> bool:
        """The real store's, unless told otherwise."""
        return self._local_reads

    async def get_sessions(self, out_seq_nos: Sequence[str]) -> dict[str, Session]:
        """Count, then read."""
        self.reads.append(len(out_seq_nos))
        return await self.store.get_sessions(out_seq_nos)

    async def decide_many(self, decisions: Sequence[Decision]) -> list[Decided]:
        """Count, then (once the gate, if any, is open) fail or decide."""
        self.writes.append(len(decisions))
        self.credentials.append([d.credential for d in decisions])
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise StoreUnavailableError("scripted outage")
        return await self.store.decide_many(decisions)

    async def ping(self) -> None:
        """Delegate."""
        await self.store.ping()


@pytest.fixture
async def counting(tmp_path: Path) -> AsyncIterator[CountingStore]:
    """A counting wrapper of a SQLite store in tmp_path."""
    store = await open_store(f"sqlite:///{tmp_path}/wx.db", DATA_KEY)
    yield CountingStore(store)
    await store.close()


async def test_concurrent_reads_are_one_store_read(counting: CountingStore) -> None:
    """Reads requested in one loop turn go out as one get_sessions, each caller its own answer."""
    created = [await counting.store.create_session(legacy()) for _ in range(5)]
    batching = BatchingStore(counting)
    keys = [s.out_seq_no for s in created] + ["no-such-session"]
    found = await asyncio.gather(*(batching.get_session(k) for k in keys))
    assert found == [*created, None]
    assert counting.reads == [6]


async def test_concurrent_decisions_are_one_committed_transaction(counting: CountingStore) -> None:
    """Decisions made together are committed in one transaction; each caller gets its own."""
    sessions = [await counting.store.create_session(legacy()) for _ in range(3)]
    batching = BatchingStore(counting)
    decisions = [decision(s.out_seq_no, f"cred-{9 - i}") for i, s in enumerate(sessions)]
    replay = decision(sessions[0].out_seq_no, "cred-9", Reason.NOT_PASSED)
    decided = await asyncio.gather(*(batching.decide(d) for d in [*decisions, replay]))
    assert counting.writes == [4]
    assert counting.credentials == [["cred-7", "cred-8", "cred-9", "cred-9"]]  # ledger order
    assert [d.new for d in decided] == [True, True, True, False]
    assert decided[3].decision == decisions[0]
    for d in decisions:
        assert await counting.store.decisions_for(d.out_seq_no) == [d]


async def test_batches_are_capped_at_max_batch(counting: CountingStore) -> None:
    """More concurrent reads than max_batch go out in several store calls."""
    batching = BatchingStore(counting, max_batch=2)
    found = await asyncio.gather(*(batching.get_session(f"absent-{i}") for i in range(5)))
    assert found == [None] * 5
    assert counting.reads == [2, 2, 1]


async def test_a_failed_batch_fails_every_caller_and_the_next_batch_works(
    counting: CountingStore,
) -> None:
    """An outage reaches each caller of the batch; none of it is stored; later calls work."""
    sessions = [await counting.store.create_session(legacy()) for _ in range(2)]
    batching = BatchingStore(counting)
    counting.failures = 1
    decisions = [decision(s.out_seq_no, f"cred-{i}") for i, s in enumerate(sessions)]
    results = await asyncio.gather(*(batching.decide(d) for d in decisions), return_exceptions=True)
    assert all(isinstance(r, StoreUnavailableError) for r in results)
    assert await counting.store.decisions_for(sessions[0].out_seq_no) == []
    decided = await asyncio.gather(*(batching.decide(d) for d in decisions))
    assert [d.new for d in decided] == [True, True]


async def test_a_cancelled_caller_leaves_the_others_answered(counting: CountingStore) -> None:
    """Cancelling one waiting caller neither loses the others' answers nor breaks the batcher."""
    created = await counting.store.create_session(legacy())
    batching = BatchingStore(counting)
    doomed = asyncio.ensure_future(batching.get_session("absent"))
    kept = asyncio.ensure_future(batching.get_session(created.out_seq_no))
    await asyncio.sleep(0)  # let both join the batch before one is cancelled
    doomed.cancel()
    assert await kept == created
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert await batching.get_session(created.out_seq_no) == created


async def _thread_round_trip() -> None:
    """Wait for an answer from another thread: the loop turns meanwhile."""
    await asyncio.to_thread(lambda: None)


async def _decisions(counting: CountingStore, n: int) -> list[Decision]:
    sessions = [await counting.store.create_session(legacy()) for _ in range(n)]
    return [decision(s.out_seq_no, f"cred-{i}") for i, s in enumerate(sessions)]


async def test_linger_gathers_decisions_made_across_loop_turns(counting: CountingStore) -> None:
    """With a linger, decisions made a little apart still go out as one transaction."""
    decisions = await _decisions(counting, 3)
    batching = BatchingStore(counting, linger_s=2.0)
    calls = []
    for d in decisions:
        calls.append(asyncio.ensure_future(batching.decide(d)))
        await _thread_round_trip()
    assert counting.writes == []  # still lingering: nothing was written yet
    assert [d.new for d in await asyncio.gather(*calls)] == [True] * 3
    assert counting.writes == [3]


async def test_local_reads_do_not_linger(counting: CountingStore) -> None:
    """A read from a store that answers in-process (SQLite) goes out on the next loop turn
    whatever the linger: it holds up the message's WeChat call."""
    created = await counting.store.create_session(legacy())
    batching = BatchingStore(counting, linger_s=3600.0)
    assert await asyncio.wait_for(batching.get_session(created.out_seq_no), 30) == created
    assert counting.reads == [1]


async def test_reads_that_are_round_trips_linger_like_decisions(counting: CountingStore) -> None:
    """Where every read is a round trip (PostgreSQL), reads made a little apart go together."""
    remote = CountingStore(counting.store, local_reads=False)
    batching = BatchingStore(remote, linger_s=1.0)
    first = asyncio.ensure_future(batching.get_session("absent-0"))
    await _thread_round_trip()
    assert remote.reads == []  # still lingering
    assert list(await asyncio.gather(first, batching.get_session("absent-1"))) == [None, None]
    assert remote.reads == [2]


async def test_a_backlog_shortens_the_decisions_linger(counting: CountingStore) -> None:
    """While the consumer's window is full, a decision batch lingers the backlog's linger."""
    decisions = await _decisions(counting, 2)
    calm = BatchingStore(counting, linger_s=1.0, backlog_linger_s=0.0, backlogged=lambda: False)
    lingering = asyncio.ensure_future(calm.decide(decisions[0]))
    await _thread_round_trip()
    assert counting.writes == []  # no backlog: the full linger
    assert (await lingering).new
    busy = BatchingStore(counting, linger_s=3600.0, backlog_linger_s=0.0, backlogged=lambda: True)
    assert (await asyncio.wait_for(busy.decide(decisions[1]), 30)).new
    assert counting.writes == [1, 1]


async def test_a_full_batch_ends_the_linger(counting: CountingStore) -> None:
    """max_batch callers need not wait out the linger: their batch goes at once."""
    decisions = await _decisions(counting, 3)
    batching = BatchingStore(counting, max_batch=3, linger_s=3600.0)
    first = [asyncio.ensure_future(batching.decide(d)) for d in decisions[:2]]
    await _thread_round_trip()  # the first two are lingering
    third = asyncio.ensure_future(batching.decide(decisions[2]))
    decided = await asyncio.wait_for(asyncio.gather(*first, third), timeout=30)
    assert [d.new for d in decided] == [True] * 3
    assert counting.writes == [3]


async def test_linger_ends_with_the_keys_gathered(counting: CountingStore) -> None:
    """After the linger the batch goes with what it has, and decisions stay committed per batch."""
    decisions = await _decisions(counting, 2)
    batching = BatchingStore(counting, linger_s=1.0)
    first = asyncio.ensure_future(batching.decide(decisions[0]))
    await _thread_round_trip()
    decided = await asyncio.gather(first, batching.decide(decisions[1]))
    assert [d.new for d in decided] == [True, True]
    assert counting.writes == [2]


async def test_calls_made_during_a_batch_count_their_linger_from_their_own_arrival(
    counting: CountingStore,
) -> None:
    """A decision that came while the batch ahead was held, and has lingered since, goes right
    after it."""
    loop = asyncio.get_running_loop()
    decisions = await _decisions(counting, 2)
    counting.gate = asyncio.Event()
    batching = BatchingStore(counting, linger_s=1.0)
    first = asyncio.ensure_future(batching.decide(decisions[0]))
    await eventually(_answer(lambda: counting.writes == [1]), 30, "the first batch at the store")
    arrived = loop.time()
    second = asyncio.ensure_future(batching.decide(decisions[1]))
    await eventually(_answer(lambda: loop.time() - arrived > 1.0), 30, "a linger gone by")
    counting.gate.set()
    released = loop.time()
    decided = await asyncio.wait_for(asyncio.gather(first, second), 30)
    assert [d.new for d in decided] == [True, True]
    assert loop.time() - released < 0.5  # not another full linger after the batch ahead
    assert counting.writes == [1, 1]


def _answer(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool | None]]:
    async def check() -> bool | None:
        return True if condition() else None

    return check


async def test_each_batch_is_reported_with_its_kind_and_size(counting: CountingStore) -> None:
    """on_batch sees every batch the store answered: reads and decisions apart, with their size
    and how long the store took."""
    seen: list[tuple[str, int]] = []
    took: list[float] = []

    def on_batch(kind: str, size: int, seconds: float) -> None:
        seen.append((kind, size))
        took.append(seconds)

    batching = BatchingStore(counting, on_batch=on_batch)
    sessions = [await counting.store.create_session(legacy()) for _ in range(2)]
    await asyncio.gather(*(batching.get_session(f"absent-{i}") for i in range(3)))
    decisions = [decision(s.out_seq_no, f"cred-{i}") for i, s in enumerate(sessions)]
    await asyncio.gather(*(batching.decide(d) for d in decisions))
    assert seen == [("read", 3), ("decide", 2)]
    assert all(seconds > 0 for seconds in took)
