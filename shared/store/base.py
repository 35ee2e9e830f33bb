"""The state store seam: the :class:`Store` protocol and :func:`open_store`, which picks the
implementation from the database URL (``sqlite:///path`` or ``postgresql://…``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from shared.errors import ConfigError
from shared.store.model import (
    Clock,
    Decided,
    Decision,
    NewSession,
    Session,
    UnpublishedExpiry,
    utc_now,
)
from shared.store.postgres import PostgresStore
from shared.store.protect import Protector
from shared.store.sqlite import SqliteStore

SQLITE_SCHEME = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Store(Protocol):
    """Sessions, the credential ledger and the decision log, with transactional changes."""

    @property
    def protector(self) -> Protector:
        """MACs md5s/credentials and seals/unseals the cert_hash under the data key."""
        ...

    @property
    def local_reads(self) -> bool:
        """True when a read is answered in this process, with no round trip (SQLite)."""
        ...

    async def create_session(self, new: NewSession) -> Session:
        """Store a pending session; raise SessionExistsError if the out_seq_no is taken."""
        ...

    async def get_session(self, out_seq_no: str) -> Session | None:
        """The session, or None."""
        ...

    async def get_sessions(self, out_seq_nos: Sequence[str]) -> dict[str, Session]:
        """The sessions that exist among ``out_seq_nos``, by out_seq_no, in one read."""
        ...

    async def mark_queued(self, out_seq_no: str) -> Session | None:
        """Move pending → queued (any other status is left alone); return the session."""
        ...

    async def decide(self, decision: Decision) -> Decided:
        """Record a decision once per credential (and per message_id) and apply it.

        If the credential (or message_id) is already in the log, nothing changes and the
        stored decision comes back (``new=False``; ``reused`` when it is another session's).
        Otherwise the decision is logged and the session's status/reason/wechat_code are set,
        unless the session is verified already, or final and the decision is not verified.
        """
        ...

    async def decide_many(self, decisions: Sequence[Decision]) -> list[Decided]:
        """:meth:`decide` for each, in order, in one transaction."""
        ...

    async def decisions_for(self, out_seq_no: str) -> list[Decision]:
        """Every logged decision about a session, oldest first (survives purging)."""
        ...

    async def claim_expired(
        self, now: datetime, limit: int, decided_by: str, message_id: Callable[[str], str]
    ) -> list[Session]:
        """Expire up to ``limit`` open sessions whose expires_at < now, each for one caller.

        Each becomes expired/session_expired, logged with ``message_id(out_seq_no)`` and, in
        the same transaction, put in the expiry outbox (leased to this caller from ``now``)
        until :meth:`mark_expiries_published`; the sessions are returned as they are now.
        """
        ...

    async def take_unpublished_expiries(
        self, now: datetime, leased_before: datetime, limit: int
    ) -> list[UnpublishedExpiry]:
        """Lease up to ``limit`` outbox expiries whose last lease began before ``leased_before``.

        Each is leased to this caller from ``now`` (a concurrent caller cannot take it until
        that lease is older than its own ``leased_before`` too), oldest lease first.
        """
        ...

    async def mark_expiries_published(self, message_ids: Sequence[str]) -> None:
        """Take these expiries out of the outbox (the broker confirmed their events)."""
        ...

    async def purge_sessions(self, older_than: datetime) -> int:
        """Delete sessions last updated before ``older_than``; the decision log stays."""
        ...

    async def ping(self) -> None:
        """Return when the database answers; raise StoreUnavailableError otherwise."""
        ...

    async def close(self) -> None:
        """Release connections and threads."""
        ...


async def open_store(database_url: str, data_key: str, *, clock: Clock = utc_now) -> Store:
    """Open (and migrate) the store named by ``database_url``, protecting data with data_key."""
    protector = Protector(data_key)
    if database_url.startswith(SQLITE_SCHEME):
        return await SqliteStore.open(database_url.removeprefix(SQLITE_SCHEME), protector, clock)
    if database_url.startswith(POSTGRES_SCHEMES):
        return await PostgresStore.open(database_url, protector, clock)
    raise ConfigError("WXFACE_DATABASE_URL must start with sqlite:/// or postgresql://")
