"""Test support for the store suite: the database under test, raw access to it, factories."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from shared.store import Decision, NewSession, Store, open_store
from shared.store.migrations import Dialect, migrate_postgres, migrate_sqlite
from shared.vocabulary import Flow, Outcome, Reason

DATA_KEY = "test-data-key-0123456789abcdef"
NAME = "张三"
ID_NUMBER = "11010519491231002X"


def id_md5(number: str = ID_NUMBER) -> str:
    """md5 of the ID number with a final upper-case X, lowercase hex (WeChat's rule)."""
    return hashlib.md5(number.upper().encode("ascii")).hexdigest()


def name_md5(name: str = NAME) -> str:
    """md5 of the UTF-8 name, lowercase hex."""
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def cert_hash(name: str = NAME, number: str = ID_NUMBER) -> str:
    """The v2 cert_hash recipe (sha256 of the base64-joined cert_info fields)."""

    def b64(value: str) -> str:
        return base64.b64encode(value.encode("utf-8")).decode("ascii")

    joined = f"cert_type={b64('IDENTITY_CARD')}&cert_name={b64(name)}&cert_no={b64(number)}"
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def seq() -> str:
    """A fresh out_seq_no."""
    return "t" + uuid.uuid4().hex[:20]


def now() -> datetime:
    """The current UTC time."""
    return datetime.now(UTC)


def legacy(out_seq_no: str | None = None, expires_in: float = 300) -> NewSession:
    """A legacy session for 张三, expiring ``expires_in`` seconds from now."""
    return NewSession(
        out_seq_no=out_seq_no or seq(),
        flow=Flow.LEGACY,
        expires_at=now() + timedelta(seconds=expires_in),
        openid="o-openid",
        id_card_md5=id_md5(),
        name_md5=name_md5(),
        user_id_key="uk-" + uuid.uuid4().hex[:8],
    )


def v2(out_seq_no: str | None = None, expires_in: float = 300) -> NewSession:
    """A v2 session for 张三, expiring ``expires_in`` seconds from now."""
    return NewSession(
        out_seq_no=out_seq_no or seq(),
        flow=Flow.V2,
        expires_at=now() + timedelta(seconds=expires_in),
        openid="o-openid",
        cert_hash=cert_hash(),
        verify_id="vid-" + uuid.uuid4().hex,
    )


def decision(
    out_seq_no: str,
    credential: str | None,
    reason: Reason | None = None,
    message_id: str | None = None,
    decided_by: str = "test",
) -> Decision:
    """A decision: verified without a reason, otherwise the reason's outcome."""
    return Decision(
        out_seq_no=out_seq_no,
        credential=credential,
        outcome=Outcome.VERIFIED if reason is None else reason.outcome,
        reason=reason,
        wechat_code=0 if reason is None else 1,
        message_id=message_id or uuid.uuid4().hex,
        decided_at=now(),
        decided_by=decided_by,
    )


@dataclass(frozen=True)
class Database:
    """One throw-away database: a SQLite file, or a PostgreSQL schema."""

    kind: Dialect
    url: str
    path: Path | None = None

    async def open(self) -> Store:
        """A store on this database."""
        return await open_store(self.url, DATA_KEY)

    async def migrate_to(self, version: int) -> None:
        """Apply the migrations up to ``version`` only: the database of an older release."""
        if self.path is not None:
            with closing(sqlite3.connect(self.path, isolation_level=None)) as lite:
                migrate_sqlite(lite, target=version)
            return
        conn = await asyncpg.connect(self.url)
        try:
            await migrate_postgres(conn, target=version)
        finally:
            await conn.close()

    async def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` directly (not through the store) and return the rows."""
        if self.path is not None:
            with closing(sqlite3.connect(self.path)) as lite, lite:
                return lite.execute(sql).fetchall()
        conn = await asyncpg.connect(self.url)
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    async def count(self, sql: str) -> int:
        """The single integer ``sql`` selects."""
        return int((await self.rows(sql))[0][0])
