"""Rows ↔ model: the column lists both backends select, and the conversions.

Rows are ``sqlite3.Row`` or ``asyncpg.Record``; both index by column name. SQLite keeps
datetimes as fixed-width ISO text, PostgreSQL as ``timestamptz``; :func:`moment` reads both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from shared.store.model import Decision, NewSession, Session, UnpublishedExpiry, utc
from shared.store.protect import Protector
from shared.vocabulary import Flow, Outcome, Reason, Status

SESSION_COLUMNS = (
    "out_seq_no",
    "flow",
    "status",
    "reason",
    "wechat_code",
    "openid",
    "id_md5_mac",
    "name_md5_mac",
    "cert_hash_sealed",
    "user_id_key",
    "verify_id",
    "created_at",
    "updated_at",
    "expires_at",
)
DECISION_COLUMNS = (
    "out_seq_no",
    "credential",
    "outcome",
    "reason",
    "wechat_code",
    "message_id",
    "decided_at",
    "decided_by",
)
OUTBOX_COLUMNS = ("message_id", "out_seq_no", "flow", "openid", "decided_at")


class Row(Protocol):
    """A database row addressable by column name."""

    def __getitem__(self, key: str, /) -> Any: ...


def moment(value: datetime | str) -> datetime:
    """A stored datetime (ISO text or aware datetime) as an aware UTC datetime."""
    return utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def iso(value: datetime) -> str:
    """The fixed-width UTC text SQLite stores, so that text order is time order."""
    return utc(value).isoformat(timespec="microseconds")


def _reason(value: str | None) -> Reason | None:
    return None if value is None else Reason(value)


def protected_session(new: NewSession, protector: Protector, now: datetime) -> Session:
    """The row to store for ``new``: md5s MACed (lower-cased first), cert_hash sealed."""

    def mac(md5: str | None) -> str | None:
        return None if md5 is None else protector.mac(md5.lower())

    sealed = None if new.cert_hash is None else protector.seal(new.cert_hash)
    return Session(
        out_seq_no=new.out_seq_no,
        flow=new.flow,
        status=Status.PENDING,
        reason=None,
        wechat_code=None,
        openid=new.openid,
        id_md5_mac=mac(new.id_card_md5),
        name_md5_mac=mac(new.name_md5),
        cert_hash_sealed=sealed,
        user_id_key=new.user_id_key,
        verify_id=new.verify_id,
        created_at=utc(now),
        updated_at=utc(now),
        expires_at=utc(new.expires_at),
    )


def session_from(row: Row) -> Session:
    """A :class:`Session` from a row holding :data:`SESSION_COLUMNS`."""
    return Session(
        out_seq_no=row["out_seq_no"],
        flow=Flow(row["flow"]),
        status=Status(row["status"]),
        reason=_reason(row["reason"]),
        wechat_code=row["wechat_code"],
        openid=row["openid"],
        id_md5_mac=row["id_md5_mac"],
        name_md5_mac=row["name_md5_mac"],
        cert_hash_sealed=row["cert_hash_sealed"],
        user_id_key=row["user_id_key"],
        verify_id=row["verify_id"],
        created_at=moment(row["created_at"]),
        updated_at=moment(row["updated_at"]),
        expires_at=moment(row["expires_at"]),
    )


def decision_from(row: Row) -> Decision:
    """A :class:`Decision` from a row holding :data:`DECISION_COLUMNS`."""
    return Decision(
        out_seq_no=row["out_seq_no"],
        credential=row["credential"],
        outcome=Outcome(row["outcome"]),
        reason=_reason(row["reason"]),
        wechat_code=row["wechat_code"],
        message_id=row["message_id"],
        decided_at=moment(row["decided_at"]),
        decided_by=row["decided_by"],
    )


def expiry_entry(session: Session, decision: Decision) -> UnpublishedExpiry:
    """The outbox entry of an expiry ``decision`` just taken about the claimed ``session``."""
    return UnpublishedExpiry(
        message_id=decision.message_id,
        out_seq_no=session.out_seq_no,
        flow=session.flow,
        openid=session.openid,
        decided_at=decision.decided_at,
    )


def unpublished_from(row: Row) -> UnpublishedExpiry:
    """An :class:`UnpublishedExpiry` from a row holding :data:`OUTBOX_COLUMNS`."""
    return UnpublishedExpiry(
        message_id=row["message_id"],
        out_seq_no=row["out_seq_no"],
        flow=Flow(row["flow"]),
        openid=row["openid"],
        decided_at=moment(row["decided_at"]),
    )


def replaceable(new: Status) -> tuple[Status, ...]:
    """The statuses a decision leading to ``new`` may overwrite.

    Open sessions (pending, queued) take any decision. A final status other than verified is
    replaced only by verified (a later successful attempt wins). Verified is never replaced.
    """
    if new is Status.VERIFIED:
        return tuple(s for s in Status if s is not Status.VERIFIED)
    return (Status.PENDING, Status.QUEUED)


def sql_list(statuses: tuple[Status, ...]) -> str:
    """``('a', 'b')`` for an SQL ``IN``; the values are enum constants, never input."""
    return "(" + ", ".join(f"'{s.value}'" for s in statuses) + ")"
