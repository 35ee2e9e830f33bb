"""SQLite connections of the embedded store: opening one, the writer's thread, a taken lock.

Writes go to the writer's connection, on its own thread: every write is a plain function
that runs whole there (``BEGIN IMMEDIATE`` … ``COMMIT`` in one hop, :func:`transaction`), so
coroutines of one process never interleave inside a transaction, a commit's ``fdatasync``
never holds up the event loop, and processes queue on SQLite's write lock for up to the busy
timeout. A writer that finds the lock taken retries after :data:`LOCK_POLL_S`, then a quarter
longer each time up to :data:`LOCK_POLL_MAX_S`, rather than through SQLite's busy handler,
whose sleeps grow 1, 2, 5, 10 … ms: another worker's commit holds the lock for about a
millisecond, and that backoff made waiting for it most of a decision's latency whenever two
workers shared the file. The cap keeps a writer from spinning while a long transaction holds
the lock. ``synchronous=FULL``: a committed decision survives power loss.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from shared.errors import StoreUnavailableError
from shared.store.migrations import migrate_sqlite

T = TypeVar("T")
BUSY_TIMEOUT_MS = 10_000
LOCK_POLL_S = 0.0005  # a writer's first retry of another process's write lock
LOCK_POLL_MAX_S = 0.005  # and its longest pause between retries


def connect(path: str, busy_timeout_ms: int, *, writer: bool = True) -> sqlite3.Connection:
    """A connection to the WAL file; the writer's sets it up and migrates the schema first.

    Neither keeps a busy handler once open: the writer polls for the lock on its thread
    (:func:`execute_when_free`), the reader on the event loop (``SqliteStore._read``).
    """
    conn = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if writer:
            # switching a fresh file to WAL needs an exclusive lock, and SQLite answers
            # "database is locked" at once (no busy handler) while another process opens it
            execute_when_free(conn, "PRAGMA journal_mode = WAL", busy_timeout_ms / 1000)
            conn.execute("PRAGMA synchronous = FULL")
            migrate_sqlite(conn)
        conn.execute("PRAGMA busy_timeout = 0")
    except BaseException:
        conn.close()
        raise
    return conn


class ConnectionThread:
    """One connection and the one thread that uses it."""

    def __init__(self, conn: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._thread = thread

    @classmethod
    async def open(cls, opening: Callable[[], sqlite3.Connection], name: str) -> ConnectionThread:
        """Start the thread (named ``name``) and open the connection on it with ``opening``."""
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        try:
            conn = await _on(thread, opening)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        return cls(conn, thread)

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """``job(connection)`` on the thread; SQLite's OperationalError as StoreUnavailableError."""
        return await _on(self._thread, partial(job, self._conn))

    async def close(self) -> None:
        """Close the connection, then stop the thread."""
        await _on(self._thread, self._conn.close)
        self._thread.shutdown(wait=True)


def transaction(
    conn: sqlite3.Connection, job: Callable[[sqlite3.Connection], T], lock_wait_s: float
) -> T:
    """Run ``job`` between BEGIN IMMEDIATE (take the write lock first) and COMMIT."""
    execute_when_free(conn, "BEGIN IMMEDIATE", lock_wait_s)
    try:
        result = job(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def execute_when_free(
    conn: sqlite3.Connection,
    sql: str,
    within_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Execute ``sql``, retrying while another connection holds the lock it needs (see the module).

    The writer's connection has no busy handler (``busy_timeout = 0``), so a taken lock is
    SQLITE_BUSY at once; after ``within_s`` it is raised ("database is locked").
    """
    deadline, pauses = clock() + within_s, lock_pauses()
    while True:
        try:
            conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or clock() >= deadline:
                raise
        sleep(next(pauses))  # on the store's writer thread, never the event loop


def lock_pauses() -> Iterator[float]:
    """The waits between tries for a taken lock: LOCK_POLL_S, a quarter longer each time, capped."""
    pause = LOCK_POLL_S
    while True:
        yield pause
        pause = min(pause * 1.25, LOCK_POLL_MAX_S)


def is_busy(exc: BaseException | None) -> bool:
    """SQLITE_BUSY or one of its extended codes: another connection holds a lock we need."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code: int | None = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


async def _on(thread: ThreadPoolExecutor, job: Callable[[], T]) -> T:
    """Run ``job`` on the writer's thread; a locked or broken database is 'unavailable'."""
    try:
        return await asyncio.get_running_loop().run_in_executor(thread, job)
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"SQLite: {exc}") from exc


def run_here(job: Callable[[], T]) -> T:
    """Run ``job`` here and now; a locked or broken database is 'unavailable'."""
    try:
        return job()
    except sqlite3.OperationalError as exc:
        raise StoreUnavailableError(f"SQLite: {exc}") from exc
