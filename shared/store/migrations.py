"""Versioned schema migrations, applied at start-up by every process that opens the store.

Migrations are the files ``sql/<dialect>/NNNN_<name>.sql``, applied in order, each recorded in
``schema_version``. Several processes may start at once: SQLite serialises them with
``BEGIN IMMEDIATE`` (the database write lock), PostgreSQL with a transaction-scoped advisory
lock, and each re-reads the version under the lock, so every migration runs exactly once.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Literal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from shared.errors import StoreError

Dialect = Literal["sqlite", "postgres"]

# any fixed bigint; it only has to differ from other advisory-lock users of the database
ADVISORY_LOCK_KEY = 0x77786661_63650001
_FILE_RE = re.compile(r"(\d{4})_(\w+)\.sql")

_SQLITE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""
_POSTGRES_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
_CURRENT = "SELECT coalesce(max(version), 0) FROM schema_version"


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered schema change."""

    version: int
    name: str
    sql: str


def load(dialect: Dialect) -> list[Migration]:
    """The migrations of ``dialect``, in order; versions must run 1, 2, 3 … without gaps."""
    found = []
    for entry in (resources.files(__package__) / "sql" / dialect).iterdir():
        match = _FILE_RE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise StoreError(f"{dialect} migrations are not numbered 1..n")
    return found


def _pending(dialect: Dialect, current: int, target: int | None) -> list[Migration]:
    known = load(dialect)
    if current > len(known):
        raise StoreError(f"database schema version {current} is newer than this code's")
    return known[current:target]


def split_sqlite(script: str) -> list[str]:
    """Split a script into statements (trigger bodies stay whole)."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    leftover = [line for line in pending.splitlines() if not line.strip().startswith("--")]
    if "".join(leftover).strip():
        raise StoreError("migration ends with an incomplete statement")
    return statements


def migrate_sqlite(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Bring an (autocommit-mode) SQLite connection's schema up to date; return the version.

    ``target`` stops at that version instead (tests build databases of older releases).
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SQLITE_VERSION_TABLE)
        current = int(conn.execute(_CURRENT).fetchone()[0])
        for migration in _pending("sqlite", current, target):
            for statement in split_sqlite(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            current = migration.version
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return current


async def migrate_postgres(
    conn: asyncpg.Connection | PoolConnectionProxy, target: int | None = None
) -> int:
    """Bring a PostgreSQL schema (the first of the search_path) up to date; return the version.

    ``target`` stops at that version instead (tests build databases of older releases).
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", ADVISORY_LOCK_KEY)
        await conn.execute(_POSTGRES_VERSION_TABLE)
        current = int(await conn.fetchval(_CURRENT))
        for migration in _pending("postgres", current, target):
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            current = migration.version
    return current
