"""The embedded store: one SQLite file in WAL mode, shared safely by several processes.

Each store owns two connections (:mod:`shared.store.sqlite_connection`). Writes run whole on
the writer's own thread, one transaction each, waiting briefly for another process's write
lock; ``synchronous=FULL``: a committed decision survives power loss.

Reads run on the event loop's own thread. In WAL mode a reader never waits for a writer, so a
read does not queue behind a commit or another process's write lock, and the store's reads
are a few rows by key: tens of microseconds, less than handing them to a thread and waking
the loop with the answer (the worker benchmark measured it: BENCHMARKS.md, session 11). In
the rare moments SQLite does refuse a reader (another connection recovering the WAL after a
crash, or holding the file in exclusive mode), the read is retried on the same schedule as a
writer's, with the event loop free in between.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from shared.errors import ConfigError, SessionExistsError, StoreError, StoreUnavailableError
from shared.store.model import Clock, Decided, Decision, NewSession, Session, UnpublishedExpiry
from shared.store.protect import Protector
from shared.store.rows import (
    DECISION_COLUMNS,
    OUTBOX_COLUMNS,
    SESSION_COLUMNS,
    decision_from,
    expiry_entry,
    iso,
    protected_session,
    replaceable,
    session_from,
    sql_list,
    unpublished_from,
)
from shared.store.sqlite_connection import (
    BUSY_TIMEOUT_MS,
    ConnectionThread,
    connect,
    is_busy,
    lock_pauses,
    run_here,
    transaction,
)
from shared.vocabulary import Outcome, Reason, Status

T = TypeVar("T")

_S = ", ".join(SESSION_COLUMNS)
_D = ", ".join(DECISION_COLUMNS)
_O = ", ".join(OUTBOX_COLUMNS)
_INSERT_SESSION = (
    f"INSERT INTO sessions ({_S}) VALUES ({', '.join('?' * len(SESSION_COLUMNS))}) "
    "ON CONFLICT (out_seq_no) DO NOTHING RETURNING 1"
)
_GET_SESSION = f"SELECT {_S} FROM sessions WHERE out_seq_no = ?"
_GET_SESSIONS = f"SELECT {_S} FROM sessions WHERE out_seq_no IN "
_QUEUE = (
    "UPDATE sessions SET status = 'queued', updated_at = ? "
    "WHERE out_seq_no = ? AND status = 'pending'"
)
_LOG = (
    f"INSERT INTO decision_log ({_D}) VALUES ({', '.join('?' * len(DECISION_COLUMNS))}) "
    "ON CONFLICT DO NOTHING"
)
_FIND_DECISION = f"SELECT {_D} FROM decision_log WHERE credential = ? OR message_id = ? LIMIT 1"
_DECISIONS_FOR = f"SELECT {_D} FROM decision_log WHERE out_seq_no = ? ORDER BY id"
_STATUS = "SELECT status FROM sessions WHERE out_seq_no = ?"
_APPLY = {
    outcome: "UPDATE sessions SET status = ?, reason = ?, wechat_code = ?, updated_at = ? "
    f"WHERE out_seq_no = ? AND status IN {sql_list(replaceable(outcome.status))}"
    for outcome in Outcome
}
_CLAIM = (
    "UPDATE sessions SET status = 'expired', reason = 'session_expired', wechat_code = NULL, "
    "updated_at = ? WHERE out_seq_no IN (SELECT out_seq_no FROM sessions "
    "WHERE status IN ('pending', 'queued') AND expires_at < ? ORDER BY expires_at LIMIT ?) "
    f"RETURNING {_S}"
)
_OUTBOX = (
    f"INSERT INTO expiry_outbox ({_O}, leased_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_TAKE = (
    "UPDATE expiry_outbox SET leased_at = ? WHERE message_id IN (SELECT message_id "
    "FROM expiry_outbox WHERE leased_at < ? ORDER BY leased_at LIMIT ?) "
    f"RETURNING {_O}"
)
_PUBLISHED = "DELETE FROM expiry_outbox WHERE message_id IN "
_PURGE = "DELETE FROM sessions WHERE updated_at < ?"


def _session_params(s: Session) -> tuple[Any, ...]:
    return (
        *(s.out_seq_no, s.flow.value, s.status.value, _value(s.reason), s.wechat_code, s.openid),
        *(s.id_md5_mac, s.name_md5_mac, s.cert_hash_sealed, s.user_id_key, s.verify_id),
        *(iso(s.created_at), iso(s.updated_at), iso(s.expires_at)),
    )


def _decision_params(d: Decision) -> tuple[Any, ...]:
    return (
        *(d.out_seq_no, d.credential, d.outcome.value, _value(d.reason), d.wechat_code),
        *(d.message_id, iso(d.decided_at), d.decided_by),
    )


def _value(reason: Reason | None) -> str | None:
    return None if reason is None else reason.value


def _status(conn: sqlite3.Connection, out_seq_no: str) -> Status | None:
    row = conn.execute(_STATUS, (out_seq_no,)).fetchone()
    return None if row is None else Status(row[0])


def _decide(conn: sqlite3.Connection, d: Decision) -> Decided:
    """One decision inside an open write transaction (see :meth:`Store.decide`).

    Changed-row counts instead of ``RETURNING``: each statement is one SQLite step, and every
    step gives up the GIL, which the busy event-loop thread then holds for up to a switch
    interval — fewer steps make a batch cheaper and quicker on the store's writer thread.
    """
    if conn.execute(_LOG, _decision_params(d)).rowcount == 0:
        found = conn.execute(_FIND_DECISION, (d.credential, d.message_id)).fetchone()
        if found is None:  # cannot happen: the insert conflicted with a committed row
            raise StoreError("decision conflicted but no earlier decision is visible")
        stored = decision_from(found)
        reused = stored.out_seq_no != d.out_seq_no
        return Decided(stored, new=False, reused=reused, status=_status(conn, d.out_seq_no))
    params = (d.outcome.value, _value(d.reason), d.wechat_code, iso(d.decided_at), d.out_seq_no)
    applied = conn.execute(_APPLY[d.outcome], params).rowcount == 1
    status = d.outcome.status if applied else _status(conn, d.out_seq_no)
    return Decided(d, new=True, reused=False, status=status)


def _expiry(session: Session, now: datetime, by: str, message_id: Callable[[str], str]) -> Decision:
    reason = Reason.SESSION_EXPIRED
    mid = message_id(session.out_seq_no)
    return Decision(session.out_seq_no, None, reason.outcome, reason, None, mid, now, by)


def _outbox_params(e: UnpublishedExpiry) -> tuple[Any, ...]:
    # the claim is the first lease: leased_at starts at the decision time
    decided_at = iso(e.decided_at)
    return (e.message_id, e.out_seq_no, e.flow.value, e.openid, decided_at, decided_at)


def _claim(
    conn: sqlite3.Connection,
    now: datetime,
    limit: int,
    decided_by: str,
    message_id: Callable[[str], str],
) -> list[Session]:
    """Expire up to ``limit`` overdue open sessions, log each and put it in the outbox."""
    claimed = [session_from(r) for r in conn.execute(_CLAIM, (iso(now), iso(now), limit))]
    logged = [_expiry(s, now, decided_by, message_id) for s in claimed]
    conn.executemany(_LOG, [_decision_params(d) for d in logged])
    entries = [expiry_entry(s, d) for s, d in zip(claimed, logged, strict=True)]
    conn.executemany(_OUTBOX, [_outbox_params(e) for e in entries])
    return claimed


def _take(
    conn: sqlite3.Connection, now: datetime, leased_before: datetime, limit: int
) -> list[UnpublishedExpiry]:
    """Lease up to ``limit`` outbox entries last leased before ``leased_before`` to the caller."""
    rows = conn.execute(_TAKE, (iso(now), iso(leased_before), limit)).fetchall()
    return [unpublished_from(r) for r in rows]


def _mark_published(conn: sqlite3.Connection, message_ids: tuple[str, ...]) -> None:
    conn.execute(_PUBLISHED + "(" + ", ".join("?" * len(message_ids)) + ")", message_ids)


class SqliteStore:
    """:class:`shared.store.base.Store` on one SQLite file (see the module docstring)."""

    def __init__(
        self,
        writer: ConnectionThread,
        reader: sqlite3.Connection,
        protector: Protector,
        clock: Clock,
        lock_wait_s: float,
    ) -> None:
        """Use :meth:`open`."""
        self._writer = writer
        self._reader = reader
        self._protector = protector
        self._clock = clock
        self._lock_wait_s = lock_wait_s
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str,
        protector: Protector,
        clock: Clock,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
    ) -> SqliteStore:
        """Connect to (creating if needed) and migrate the database file at ``path``.

        An operation waits up to ``busy_timeout_ms`` for another process's write lock, then
        raises StoreUnavailableError.
        """
        if path in ("", ":memory:"):  # private to one connection: nothing would be shared
            raise ConfigError("the SQLite store needs a file path (sqlite:///path/to/file.db)")
        writer = await ConnectionThread.open(
            partial(connect, path, busy_timeout_ms), "wxface-sqlite"
        )
        try:
            reader = run_here(partial(connect, path, busy_timeout_ms, writer=False))
        except BaseException:
            await writer.close()
            raise
        return cls(writer, reader, protector, clock, busy_timeout_ms / 1000)

    @property
    def protector(self) -> Protector:
        """MACs md5s/credentials and seals/unseals the cert_hash under the data key."""
        return self._protector

    @property
    def local_reads(self) -> bool:
        """True: reads run on the event loop's thread (see the module)."""
        return True

    async def _read(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the reader's connection, here on the loop's thread (see the module)."""
        deadline, pauses = time.monotonic() + self._lock_wait_s, lock_pauses()
        while True:
            try:
                return run_here(partial(job, self._reader))
            except StoreUnavailableError as exc:
                if not is_busy(exc.__cause__) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(next(pauses))

    async def _write(self, job: Callable[[sqlite3.Connection], T]) -> T:
        return await self._writer.run(partial(transaction, job=job, lock_wait_s=self._lock_wait_s))

    async def create_session(self, new: NewSession) -> Session:
        """Store a pending session; raise SessionExistsError if the out_seq_no is taken."""
        session = protected_session(new, self._protector, self._clock())
        params = _session_params(session)
        if not await self._write(lambda c: c.execute(_INSERT_SESSION, params).fetchone()):
            raise SessionExistsError(f"session {new.out_seq_no} already exists")
        return session

    async def get_session(self, out_seq_no: str) -> Session | None:
        """The session, or None."""
        row = await self._read(lambda c: c.execute(_GET_SESSION, (out_seq_no,)).fetchone())
        return None if row is None else session_from(row)

    async def get_sessions(self, out_seq_nos: Sequence[str]) -> dict[str, Session]:
        """The sessions that exist among ``out_seq_nos``, by out_seq_no, in one read."""
        keys = tuple(dict.fromkeys(out_seq_nos))
        if not keys:
            return {}
        sql = _GET_SESSIONS + "(" + ", ".join("?" * len(keys)) + ")"
        rows = await self._read(lambda c: c.execute(sql, keys).fetchall())
        return {s.out_seq_no: s for s in map(session_from, rows)}

    async def mark_queued(self, out_seq_no: str) -> Session | None:
        """Move pending → queued (any other status is left alone); return the session."""
        now = iso(self._clock())

        def job(conn: sqlite3.Connection) -> sqlite3.Row | None:
            conn.execute(_QUEUE, (now, out_seq_no))
            row: sqlite3.Row | None = conn.execute(_GET_SESSION, (out_seq_no,)).fetchone()
            return row

        row = await self._write(job)
        return None if row is None else session_from(row)

    async def decide(self, decision: Decision) -> Decided:
        """Record a decision once per credential and apply it (see the Store protocol)."""
        return await self._write(partial(_decide, d=decision))

    async def decide_many(self, decisions: Sequence[Decision]) -> list[Decided]:
        """:meth:`decide` for each, in order, in one transaction."""
        return await self._write(lambda c: [_decide(c, d) for d in decisions])

    async def decisions_for(self, out_seq_no: str) -> list[Decision]:
        """Every logged decision about a session, oldest first."""
        rows = await self._read(lambda c: c.execute(_DECISIONS_FOR, (out_seq_no,)).fetchall())
        return [decision_from(r) for r in rows]

    async def claim_expired(
        self, now: datetime, limit: int, decided_by: str, message_id: Callable[[str], str]
    ) -> list[Session]:
        """Expire up to ``limit`` overdue open sessions, each claimed by one caller only."""
        return await self._write(
            partial(_claim, now=now, limit=limit, decided_by=decided_by, message_id=message_id)
        )

    async def take_unpublished_expiries(
        self, now: datetime, leased_before: datetime, limit: int
    ) -> list[UnpublishedExpiry]:
        """Lease up to ``limit`` unpublished expiries whose lease began before ``leased_before``."""
        return await self._write(partial(_take, now=now, leased_before=leased_before, limit=limit))

    async def mark_expiries_published(self, message_ids: Sequence[str]) -> None:
        """Drop these expiries from the outbox (their events are confirmed), in one statement."""
        keys = tuple(dict.fromkeys(message_ids))
        if keys:
            await self._write(partial(_mark_published, message_ids=keys))

    async def purge_sessions(self, older_than: datetime) -> int:
        """Delete sessions last updated before ``older_than``; the decision log stays."""
        return await self._write(lambda c: c.execute(_PURGE, (iso(older_than),)).rowcount)

    async def ping(self) -> None:
        """Return when the database answers; raise StoreUnavailableError otherwise."""
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        """Close both connections and stop their threads (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        self._reader.close()
        await self._writer.close()
