"""The shared store: PostgreSQL through an asyncpg pool, for receivers and workers on many hosts.

asyncpg prepares and caches each statement per connection, so the fixed SQL below is parsed
once per connection. A decision is one statement in the common case (the log insert and the
session update in one CTE), and so is a worker's batch of decisions on distinct sessions
(the same CTE over arrays: one round trip for the batch). Exactly-once comes from the unique
ledger columns (``ON CONFLICT DO NOTHING``) and, for the expiry sweep and its outbox,
``FOR UPDATE SKIP LOCKED``.
The schema is the first of the connection's ``search_path`` (``?search_path=`` in the URL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.errors import SessionExistsError, StoreError, StoreUnavailableError
from shared.store.migrations import migrate_postgres
from shared.store.model import Clock, Decided, Decision, NewSession, Session, UnpublishedExpiry
from shared.store.protect import Protector
from shared.store.rows import (
    DECISION_COLUMNS,
    OUTBOX_COLUMNS,
    SESSION_COLUMNS,
    decision_from,
    expiry_entry,
    protected_session,
    replaceable,
    session_from,
    sql_list,
    unpublished_from,
)
from shared.vocabulary import Outcome, Reason, Status

POOL_MAX_SIZE = 10
Connection = asyncpg.Connection | PoolConnectionProxy
# the server cannot answer now, or answered "try again": none says anything about the data
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # 08: the connection failed or is gone
    asyncpg.InterfaceError,  # the client's side of the connection is closed
    asyncpg.OperatorInterventionError,  # 57: shutting down, starting up, query cancelled
    asyncpg.InsufficientResourcesError,  # 53: too many connections, out of memory or disk
    asyncpg.TransactionRollbackError,  # 40: a deadlock's victim, a serialization failure
)

_S = ", ".join(SESSION_COLUMNS)
_D = ", ".join(DECISION_COLUMNS)
_O = ", ".join(OUTBOX_COLUMNS)
_INSERT_SESSION = (
    f"INSERT INTO sessions ({_S}) VALUES ({', '.join(f'${i}' for i in range(1, 15))}) "
    "ON CONFLICT (out_seq_no) DO NOTHING RETURNING 1"
)
_GET_SESSION = f"SELECT {_S} FROM sessions WHERE out_seq_no = $1"
_GET_SESSIONS = f"SELECT {_S} FROM sessions WHERE out_seq_no = ANY($1::text[])"
_QUEUE = (
    "UPDATE sessions SET status = 'queued', updated_at = $2 "
    f"WHERE out_seq_no = $1 AND status = 'pending' RETURNING {_S}"
)
_LOG_VALUES = f"INSERT INTO decision_log ({_D}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
_LOG = _LOG_VALUES + "ON CONFLICT DO NOTHING"
# log and apply in one statement; the last sub-select reads the pre-statement snapshot, which
# is the session's current status whenever the update did not touch it
_DECIDE = {
    outcome: (
        f"WITH logged AS ({_LOG} RETURNING out_seq_no), "
        "applied AS (UPDATE sessions s SET status = $3, reason = $4, wechat_code = $5, "
        "updated_at = $7 FROM logged WHERE s.out_seq_no = logged.out_seq_no "
        f"AND s.status IN {sql_list(replaceable(outcome.status))} RETURNING s.status) "
        "SELECT EXISTS (SELECT 1 FROM logged) AS new, coalesce((SELECT status FROM applied), "
        "(SELECT status FROM sessions WHERE out_seq_no = $1)) AS status"
    )
    for outcome in Outcome
}
# a batch of decisions on distinct sessions and credentials in one statement: each row logged in
# the given order and applied as _DECIDE would; "new" and "status" come back in that order
_BATCH = (
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], "
    f"$6::text[], $7::timestamptz[], $8::text[]) WITH ORDINALITY AS b({_D}, ord)"
)
_REPLACEABLE = (
    "CASE l.outcome "
    + " ".join(
        f"WHEN '{o.value}' THEN s.status IN {sql_list(replaceable(o.status))}" for o in Outcome
    )
    + " END"
)
_DECIDE_MANY = (
    f"WITH batch AS ({_BATCH}), "
    f"logged AS (INSERT INTO decision_log ({_D}) SELECT {_D} FROM batch ORDER BY ord "
    "ON CONFLICT DO NOTHING RETURNING out_seq_no, outcome, reason, wechat_code, message_id, "
    "decided_at), "
    "applied AS (UPDATE sessions s SET status = l.outcome, reason = l.reason, "
    "wechat_code = l.wechat_code, updated_at = l.decided_at FROM logged l "
    f"WHERE s.out_seq_no = l.out_seq_no AND {_REPLACEABLE} RETURNING s.out_seq_no, s.status) "
    "SELECT l.message_id IS NOT NULL AS new, coalesce(a.status, s.status) AS status "
    "FROM batch b LEFT JOIN logged l ON l.message_id = b.message_id "
    "LEFT JOIN applied a ON a.out_seq_no = b.out_seq_no "
    "LEFT JOIN sessions s ON s.out_seq_no = b.out_seq_no ORDER BY b.ord"
)
_FIND_DECISION = (
    f"SELECT {_D}, (SELECT status FROM sessions WHERE out_seq_no = $3) AS status "
    "FROM decision_log WHERE credential = $1 OR message_id = $2 LIMIT 1"
)
_DECISIONS_FOR = f"SELECT {_D} FROM decision_log WHERE out_seq_no = $1 ORDER BY id"
_CLAIM = (
    "WITH due AS (SELECT out_seq_no FROM sessions WHERE status IN ('pending', 'queued') "
    "AND expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
    "UPDATE sessions s SET status = 'expired', reason = 'session_expired', wechat_code = NULL, "
    f"updated_at = $1 FROM due WHERE s.out_seq_no = due.out_seq_no "
    f"RETURNING {', '.join('s.' + c for c in SESSION_COLUMNS)}"
)
# the claim is the first lease: leased_at starts at the decision time
_OUTBOX = (
    f"INSERT INTO expiry_outbox ({_O}, leased_at) VALUES ($1, $2, $3, $4, $5, $5) "
    "ON CONFLICT DO NOTHING"
)
_TAKE = (
    "WITH due AS (SELECT message_id FROM expiry_outbox WHERE leased_at < $2 "
    "ORDER BY leased_at LIMIT $3 FOR UPDATE SKIP LOCKED) "
    "UPDATE expiry_outbox o SET leased_at = $1 FROM due WHERE o.message_id = due.message_id "
    f"RETURNING {', '.join('o.' + c for c in OUTBOX_COLUMNS)}"
)
_PUBLISHED = "DELETE FROM expiry_outbox WHERE message_id = ANY($1::text[])"
_PURGE = (
    "WITH gone AS (DELETE FROM sessions WHERE updated_at < $1 RETURNING 1) "
    "SELECT count(*) FROM gone"
)


def _session_params(s: Session) -> tuple[Any, ...]:
    return (
        *(s.out_seq_no, s.flow.value, s.status.value, _value(s.reason), s.wechat_code, s.openid),
        *(s.id_md5_mac, s.name_md5_mac, s.cert_hash_sealed, s.user_id_key, s.verify_id),
        *(s.created_at, s.updated_at, s.expires_at),
    )


def _decision_params(d: Decision) -> tuple[Any, ...]:
    return (
        *(d.out_seq_no, d.credential, d.outcome.value, _value(d.reason), d.wechat_code),
        *(d.message_id, d.decided_at, d.decided_by),
    )


def _outbox_params(e: UnpublishedExpiry) -> tuple[Any, ...]:
    return (e.message_id, e.out_seq_no, e.flow.value, e.openid, e.decided_at)


def _value(reason: Reason | None) -> str | None:
    return None if reason is None else reason.value


def _status(value: str | None) -> Status | None:
    return None if value is None else Status(value)


async def _decide(conn: Connection, d: Decision) -> Decided:
    """One decision (see :meth:`Store.decide`); atomic alone, or inside a transaction."""
    row = await conn.fetchrow(_DECIDE[d.outcome], *_decision_params(d))
    if row is not None and row["new"]:
        return Decided(d, new=True, reused=False, status=_status(row["status"]))
    return await _earlier(conn, d)


async def _decide_apart(conn: Connection, decisions: Sequence[Decision]) -> list[Decided]:
    """Decisions on distinct sessions, credentials and message ids, in one statement.

    Nothing in such a batch can touch what another of its decisions touches, so logging them
    all and then applying them all ends as deciding each in turn. A decision whose credential
    or message id was logged before gets that earlier decision back, as from :func:`_decide`;
    that lookup follows the committed statement, so when it fails the batch fails with its
    decisions recorded, and a retry gets each back as logged before (as after a lost reply).
    """
    columns = zip(*(_decision_params(d) for d in decisions), strict=True)
    rows = await conn.fetch(_DECIDE_MANY, *(list(c) for c in columns))
    return [
        Decided(d, new=True, reused=False, status=_status(row["status"]))
        if row["new"]
        else await _earlier(conn, d)
        for d, row in zip(decisions, rows, strict=True)
    ]


def _apart(decisions: Sequence[Decision]) -> bool:
    """True when no two decisions share a session, a credential or a message id."""
    n = len(decisions)
    credentials = [d.credential for d in decisions if d.credential is not None]
    return (
        len({d.out_seq_no for d in decisions}) == n
        and len({d.message_id for d in decisions}) == n
        and len(set(credentials)) == len(credentials)
    )


async def _earlier(conn: Connection, d: Decision) -> Decided:
    """The logged decision that ``d``'s credential or message id conflicted with."""
    found = await conn.fetchrow(_FIND_DECISION, d.credential, d.message_id, d.out_seq_no)
    if found is None:  # cannot happen: the insert conflicted with a committed row
        raise StoreError("decision conflicted but no earlier decision is visible")
    stored = decision_from(found)
    reused = stored.out_seq_no != d.out_seq_no
    return Decided(stored, new=False, reused=reused, status=_status(found["status"]))


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: skip asyncpg's reset query (a round trip per use).

    The store leaves no session state behind: no LISTEN, no SET, advisory locks only
    transaction-scoped; asyncpg still rolls back a transaction left open.
    """


def _expiry(session: Session, now: datetime, by: str, message_id: Callable[[str], str]) -> Decision:
    reason = Reason.SESSION_EXPIRED
    mid = message_id(session.out_seq_no)
    return Decision(session.out_seq_no, None, reason.outcome, reason, None, mid, now, by)


class PostgresStore:
    """:class:`shared.store.base.Store` on PostgreSQL (see the module docstring)."""

    def __init__(self, pool: asyncpg.Pool, protector: Protector, clock: Clock) -> None:
        """Use :meth:`open`."""
        self._pool = pool
        self._protector = protector
        self._clock = clock

    @classmethod
    async def open(cls, dsn: str, protector: Protector, clock: Clock) -> PostgresStore:
        """Create the pool and migrate the schema."""
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=POOL_MAX_SIZE, reset=_keep_session
            )
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"PostgreSQL: {type(exc).__name__}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate_postgres(conn)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, protector, clock)

    @property
    def protector(self) -> Protector:
        """MACs md5s/credentials and seals/unseals the cert_hash under the data key."""
        return self._protector

    @property
    def local_reads(self) -> bool:
        """False: every read is a round trip to the server."""
        return False

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[Connection]:
        """A pooled connection; a lost connection or a "try again" answer (a deadlock, a server
        shutting down, no connection slot free) becomes StoreUnavailableError."""
        try:
            async with self._pool.acquire() as conn:
                yield conn
        except _UNAVAILABLE as exc:
            raise StoreUnavailableError(f"PostgreSQL: {type(exc).__name__}") from exc

    async def create_session(self, new: NewSession) -> Session:
        """Store a pending session; raise SessionExistsError if the out_seq_no is taken."""
        session = protected_session(new, self._protector, self._clock())
        async with self._conn() as conn:
            created = await conn.fetchval(_INSERT_SESSION, *_session_params(session))
        if created is None:
            raise SessionExistsError(f"session {new.out_seq_no} already exists")
        return session

    async def get_session(self, out_seq_no: str) -> Session | None:
        """The session, or None."""
        async with self._conn() as conn:
            row = await conn.fetchrow(_GET_SESSION, out_seq_no)
        return None if row is None else session_from(row)

    async def get_sessions(self, out_seq_nos: Sequence[str]) -> dict[str, Session]:
        """The sessions that exist among ``out_seq_nos``, by out_seq_no, in one read."""
        if not out_seq_nos:
            return {}
        async with self._conn() as conn:
            rows = await conn.fetch(_GET_SESSIONS, list(dict.fromkeys(out_seq_nos)))
        return {s.out_seq_no: s for s in map(session_from, rows)}

    async def mark_queued(self, out_seq_no: str) -> Session | None:
        """Move pending → queued (any other status is left alone); return the session."""
        async with self._conn() as conn:
            row = await conn.fetchrow(_QUEUE, out_seq_no, self._clock())
            if row is None:
                row = await conn.fetchrow(_GET_SESSION, out_seq_no)
        return None if row is None else session_from(row)

    async def decide(self, decision: Decision) -> Decided:
        """Record a decision once per credential and apply it (see the Store protocol)."""
        async with self._conn() as conn:
            return await _decide(conn, decision)

    async def decide_many(self, decisions: Sequence[Decision]) -> list[Decided]:
        """:meth:`decide` for each, in order, in one transaction.

        The worker's batches name each session and credential once: those go as one statement
        (one round trip instead of one per decision and two for the transaction). A batch
        that names one twice is decided one statement at a time, so the later decision sees
        the earlier one.
        """
        if not decisions:
            return []
        async with self._conn() as conn:
            if len(decisions) == 1:
                return [await _decide(conn, decisions[0])]
            if _apart(decisions):
                return await _decide_apart(conn, decisions)
            async with conn.transaction():
                return [await _decide(conn, d) for d in decisions]

    async def decisions_for(self, out_seq_no: str) -> list[Decision]:
        """Every logged decision about a session, oldest first."""
        async with self._conn() as conn:
            rows = await conn.fetch(_DECISIONS_FOR, out_seq_no)
        return [decision_from(r) for r in rows]

    async def claim_expired(
        self, now: datetime, limit: int, decided_by: str, message_id: Callable[[str], str]
    ) -> list[Session]:
        """Expire up to ``limit`` overdue open sessions, each claimed by one caller only."""
        async with self._conn() as conn, conn.transaction():
            claimed = [session_from(r) for r in await conn.fetch(_CLAIM, now, limit)]
            logged = [_expiry(s, now, decided_by, message_id) for s in claimed]
            await conn.executemany(_LOG, [_decision_params(d) for d in logged])
            entries = [expiry_entry(s, d) for s, d in zip(claimed, logged, strict=True)]
            await conn.executemany(_OUTBOX, [_outbox_params(e) for e in entries])
        return claimed

    async def take_unpublished_expiries(
        self, now: datetime, leased_before: datetime, limit: int
    ) -> list[UnpublishedExpiry]:
        """Lease up to ``limit`` unpublished expiries whose lease began before ``leased_before``."""
        async with self._conn() as conn:
            rows = await conn.fetch(_TAKE, now, leased_before, limit)
        return [unpublished_from(r) for r in rows]

    async def mark_expiries_published(self, message_ids: Sequence[str]) -> None:
        """Drop these expiries from the outbox (their events are confirmed), in one statement."""
        if message_ids:
            async with self._conn() as conn:
                await conn.execute(_PUBLISHED, list(dict.fromkeys(message_ids)))

    async def purge_sessions(self, older_than: datetime) -> int:
        """Delete sessions last updated before ``older_than``; the decision log stays."""
        async with self._conn() as conn:
            return int(await conn.fetchval(_PURGE, older_than))

    async def ping(self) -> None:
        """Return when the database answers; raise StoreUnavailableError otherwise."""
        async with self._conn() as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        """Close the pool."""
        await self._pool.close()
