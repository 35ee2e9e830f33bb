"""Schema migrations: recorded once, idempotent, safe when several stores open together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from shared.errors import ConfigError, StoreError
from shared.store import open_store
from shared.store.migrations import Dialect, load, split_sqlite
from tests.shared.store.support import DATA_KEY, Database, legacy

MakeDatabase = Callable[[], Awaitable[Database]]


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_migrations_are_numbered_from_one(dialect: Dialect) -> None:
    """Each dialect ships migrations 1..n with SQL in them."""
    migrations = load(dialect)
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all("CREATE" in m.sql for m in migrations)


def test_sqlite_split_keeps_trigger_bodies_whole() -> None:
    """Statements split at their ends, not at the semicolons inside BEGIN … END."""
    script = (
        "-- heading\nCREATE TABLE t (a INTEGER);\n"
        "CREATE TRIGGER g BEFORE DELETE ON t\nBEGIN\n  SELECT RAISE(ABORT, 'no');\nEND;\n"
        "-- trailing comment\n"
    )
    statements = split_sqlite(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")
    with pytest.raises(StoreError, match="incomplete"):
        split_sqlite("CREATE TABLE t (a INTEGER)")


async def test_reopening_is_idempotent_and_keeps_data(database: Database) -> None:
    """A second open applies nothing again and sees the first store's rows."""
    first = await database.open()
    created = await first.create_session(legacy())
    await first.close()
    second = await database.open()
    try:
        assert await second.get_session(created.out_seq_no) == created
    finally:
        await second.close()
    rows = await database.rows("SELECT version FROM schema_version ORDER BY version")
    assert [r[0] for r in rows] == [m.version for m in load(database.kind)]


async def test_five_stores_opening_a_fresh_database_at_once(database: Database) -> None:
    """Concurrent start-ups on an empty database migrate it exactly once, all usable."""
    stores = await asyncio.gather(*(database.open() for _ in range(5)))
    try:
        for store in stores:
            await store.ping()
        created = await stores[0].create_session(legacy())
        assert await stores[4].get_session(created.out_seq_no) == created
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    versions = await database.rows("SELECT version FROM schema_version")
    assert len(versions) == len(load(database.kind))


async def test_a_newer_schema_is_refused(database: Database) -> None:
    """A database migrated by newer code refuses to open instead of misreading it."""
    store = await database.open()
    await store.close()
    applied = "'2030-01-01T00:00:00+00:00'" if database.kind == "sqlite" else "now()"
    await database.rows(
        f"INSERT INTO schema_version (version, name, applied_at) VALUES (999, 'future', {applied})"
    )
    with pytest.raises(StoreError, match="newer"):
        await database.open()


async def test_unknown_url_scheme_is_a_config_error() -> None:
    """Only sqlite:/// and postgresql:// URLs open a store."""
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        await open_store("mysql://localhost/wxface", DATA_KEY)
