"""A database that cannot answer is StoreUnavailableError (retry later), on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing, suppress
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.errors import ConfigError, StoreUnavailableError
from shared.store import open_store
from shared.store.model import utc_now
from shared.store.protect import Protector
from shared.store.sqlite import SqliteStore
from shared.store.sqlite_connection import LOCK_POLL_MAX_S, LOCK_POLL_S, execute_when_free
from shared.vocabulary import Status
from tests.polling import eventually
from tests.shared.store.support import DATA_KEY, Database, decision, legacy


async def test_sqlite_write_lock_held_too_long_is_unavailable(tmp_path: Path) -> None:
    """Another process holding the write lock past the busy timeout → unavailable, then fine."""
    path = tmp_path / "locked.db"
    store = await SqliteStore.open(str(path), Protector(DATA_KEY), utc_now, busy_timeout_ms=50)
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StoreUnavailableError, match="locked"):
                await store.create_session(legacy())
            other.execute("ROLLBACK")
        created = await store.create_session(legacy())
        assert await store.get_session(created.out_seq_no) == created
    finally:
        await store.close()


async def test_sqlite_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    """A database file in a missing directory cannot be opened."""
    with pytest.raises(StoreUnavailableError):
        await open_store(f"sqlite:///{tmp_path}/missing/dir/x.db", DATA_KEY)


async def test_unreachable_postgres_is_unavailable() -> None:
    """Nothing listening on the port → unavailable, not a crash with a driver error."""
    with pytest.raises(StoreUnavailableError):
        await open_store("postgresql://postgres@127.0.0.1:1/postgres", DATA_KEY)


async def test_close_twice_is_harmless(database: Database) -> None:
    """close() may be called again (shutdown paths overlap)."""
    store = await database.open()
    await store.ping()
    await store.close()
    await store.close()


async def test_only_sqlite_answers_reads_in_process(database: Database) -> None:
    """The worker lingers for company only where a read is a round trip (PostgreSQL)."""
    store = await database.open()
    try:
        assert store.local_reads is (database.path is not None)
    finally:
        await store.close()


async def test_sqlite_reads_do_not_wait_behind_a_blocked_write(tmp_path: Path) -> None:
    """A write stuck on another process's lock leaves reads alone (WAL: readers never wait)."""
    path = tmp_path / "busy.db"
    store = await SqliteStore.open(str(path), Protector(DATA_KEY), utc_now, busy_timeout_ms=3000)
    try:
        created = await store.create_session(legacy())
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            # tasks start in the order they were made: the write reaches the store first
            writing = asyncio.ensure_future(store.create_session(legacy()))
            reading = asyncio.ensure_future(store.get_session(created.out_seq_no))
            assert await asyncio.wait_for(reading, timeout=1.0) == created
            assert not writing.done()  # still waiting for the lock while the read came back
            other.execute("ROLLBACK")
        assert (await writing).status is Status.PENDING
    finally:
        await store.close()


class _RefusingReader:
    """The store's reader connection, but SQLite turns it away (SQLITE_BUSY) while ``refusing``.

    WAL readers hear SQLITE_BUSY only in rare moments (another connection recovering the WAL
    after a crash, or holding the file in exclusive mode); this plays such a moment.
    """

    def __init__(self, conn: sqlite3.Connection, error: str = "database is locked") -> None:
        self.conn = conn
        self.error = error
        self.refusing = True
        self.refusals = 0

    def execute(self, *args: Any) -> sqlite3.Cursor:
        if self.refusing:
            self.refusals += 1
            exc = sqlite3.OperationalError(self.error)
            busy = self.error == "database is locked"
            exc.sqlite_errorcode = sqlite3.SQLITE_BUSY_RECOVERY if busy else sqlite3.SQLITE_IOERR
            raise exc
        return self.conn.execute(*args)

    def close(self) -> None:
        self.conn.close()


async def _refusing_store(
    path: Path, busy_timeout_ms: int, error: str = "database is locked"
) -> tuple[SqliteStore, _RefusingReader]:
    store = await SqliteStore.open(
        str(path), Protector(DATA_KEY), utc_now, busy_timeout_ms=busy_timeout_ms
    )
    reader = _RefusingReader(store._reader, error)  # the seam this test plays on
    store._reader = reader  # type: ignore[assignment]
    return store, reader


async def test_sqlite_read_turned_away_retries_with_the_loop_free(tmp_path: Path) -> None:
    """Reads run on the loop's thread; one SQLite turns away is tried again later, and the
    loop goes on meanwhile (here: the test's own polling runs while the read waits)."""
    store, reader = await _refusing_store(tmp_path / "busy.db", 10_000)
    try:
        created = await store.create_session(legacy())
        reading = asyncio.ensure_future(store.get_session(created.out_seq_no))
        await eventually(_at_least(lambda: reader.refusals, 3), 30, "three refused tries")
        assert not reading.done()
        reader.refusing = False
        assert await asyncio.wait_for(reading, 30) == created
    finally:
        reader.refusing = False
        await store.close()


async def test_sqlite_read_turned_away_past_the_busy_timeout_is_unavailable(
    tmp_path: Path,
) -> None:
    """A reader still turned away after the busy timeout: unavailable, as a writer would be."""
    store, reader = await _refusing_store(tmp_path / "busy.db", 50)
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            await store.get_session("any")
        assert reader.refusals > 1
    finally:
        reader.refusing = False
        await store.close()


async def test_sqlite_read_failing_otherwise_is_unavailable_at_once(tmp_path: Path) -> None:
    """Any other error of SQLite's is no lock to wait for: unavailable on the first try."""
    store, reader = await _refusing_store(tmp_path / "broken.db", 10_000, "disk I/O error")
    try:
        with pytest.raises(StoreUnavailableError, match="disk I/O error"):
            await store.get_session("any")
        assert reader.refusals == 1
    finally:
        reader.refusing = False
        await store.close()


def _at_least(count: Callable[[], int], n: int) -> Callable[[], Awaitable[bool | None]]:
    async def check() -> bool | None:
        return True if count() >= n else None

    return check


def test_sqlite_writer_polls_for_a_taken_write_lock(tmp_path: Path) -> None:
    """A taken lock is retried after LOCK_POLL_S, then a little longer each time, up to a cap."""
    path = tmp_path / "poll.db"
    with (
        closing(sqlite3.connect(path, isolation_level=None)) as writer,
        closing(sqlite3.connect(path, isolation_level=None)) as other,
    ):
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA busy_timeout = 0")
        other.execute("BEGIN IMMEDIATE")
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            if len(slept) == 30:
                other.execute("ROLLBACK")  # the other process commits

        execute_when_free(writer, "BEGIN IMMEDIATE", 10.0, sleep=sleep)
        assert writer.in_transaction
        assert len(slept) == 30
        assert slept[0] == LOCK_POLL_S
        assert slept[1:4] == pytest.approx([LOCK_POLL_S * 1.25**i for i in (1, 2, 3)])
        assert slept[-1] == LOCK_POLL_MAX_S  # no faster than that however long it waits
        writer.execute("ROLLBACK")


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite:///"])
async def test_sqlite_without_a_file_is_a_configuration_error(url: str) -> None:
    """An in-memory or temporary database is private to one connection: refused, clearly."""
    with pytest.raises(ConfigError, match="file path"):
        await open_store(url, DATA_KEY)


async def _backend_waiting_for_a_lock(other: asyncpg.Connection) -> int | None:
    """The pid of the store's backend once it waits for a row lock ``other`` holds."""
    pid: int | None = await other.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid()"
    )
    return pid


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_ending_the_connection_mid_statement_is_unavailable(
    database: Database,
) -> None:
    """The server ends the store's connection during a decision (a restart, a failover,
    pg_terminate_backend): unavailable, so the caller retries; nothing was decided, and the
    retry, on a new connection, decides."""
    store = await database.open()
    try:
        session = await store.create_session(legacy())
        other = await asyncpg.connect(database.url)
        try:
            async with other.transaction():
                await other.execute(_LOCK_SESSION, session.out_seq_no)
                blocked = asyncio.create_task(store.decide(decision(session.out_seq_no, "cred")))
                pid = await eventually(
                    lambda: _backend_waiting_for_a_lock(other), 10, "the decision waits"
                )
                await other.execute("SELECT pg_terminate_backend($1)", pid)
                with pytest.raises(StoreUnavailableError, match="PostgreSQL"):
                    await blocked
        finally:
            await other.close()
        decided = await store.decide(decision(session.out_seq_no, "cred"))
        assert (decided.new, decided.status) == (True, Status.VERIFIED)
    finally:
        await store.close()


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_postgres_deadlock_victim_is_unavailable(database: Database) -> None:
    """A batch that PostgreSQL picks as a deadlock's victim was rolled back whole: unavailable
    (retry), and the retry decides every decision in it once."""
    store = await database.open()
    try:
        a, b = [await store.create_session(legacy()) for _ in range(2)]
        batch = [decision(b.out_seq_no, "cred-1"), decision(a.out_seq_no, "cred-2")]
        other = await asyncpg.connect(database.url)
        try:
            await other.execute("SET deadlock_timeout = '30s'")  # the batch detects the cycle
            held = other.transaction()
            await held.start()
            try:
                await other.execute(_LOCK_SESSION, a.out_seq_no)
                blocked = asyncio.create_task(store.decide_many(batch))
                await eventually(lambda: _backend_waiting_for_a_lock(other), 10, "the batch waits")
                # the batch logged cred-1 before it waited for a: logging it here closes the cycle
                with suppress(asyncpg.DeadlockDetectedError):
                    await other.execute(_LOG_CREDENTIAL, b.out_seq_no, "cred-1")
            finally:
                await held.rollback()
            with pytest.raises(StoreUnavailableError, match="DeadlockDetectedError"):
                await blocked
        finally:
            await other.close()
        decided = await store.decide_many(batch)
        assert [(d.new, d.status) for d in decided] == [(True, Status.VERIFIED)] * 2
    finally:
        await store.close()


_LOCK_SESSION = "SELECT 1 FROM sessions WHERE out_seq_no = $1 FOR UPDATE"
_LOG_CREDENTIAL = (
    "INSERT INTO decision_log (out_seq_no, credential, outcome, message_id, decided_at, "
    "decided_by) VALUES ($1, $2, 'verified', 'other', now(), 'test') ON CONFLICT DO NOTHING"
)
