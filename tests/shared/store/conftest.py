"""Fixtures of the store suite: every test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from shared.store import Store
from shared.store.migrations import Dialect
from tests.shared.store.support import Database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Dialect:
    """The backend under test."""
    kind: Dialect = request.param
    return kind


@pytest.fixture
async def make_database(
    backend: Dialect, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[[], Awaitable[Database]]]:
    """A factory of fresh, empty databases of the backend under test, dropped afterwards."""
    schemas: list[str] = []
    dsn = request.getfixturevalue("postgres_dsn") if backend == "postgres" else ""

    async def make() -> Database:
        if backend == "sqlite":
            path = tmp_path / f"store-{uuid.uuid4().hex[:8]}.db"
            return Database("sqlite", f"sqlite:///{path}", path)
        schema = f"wxt_store_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(f"CREATE SCHEMA {schema}")
        finally:
            await conn.close()
        schemas.append(schema)
        separator = "&" if "?" in dsn else "?"
        return Database("postgres", f"{dsn}{separator}search_path={schema}")

    yield make
    if schemas:
        conn = await asyncpg.connect(dsn)
        try:
            for schema in schemas:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()


@pytest.fixture
async def database(make_database: Callable[[], Awaitable[Database]]) -> Database:
    """A fresh database of the backend under test."""
    return await make_database()


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    """A store on the fresh database, closed afterwards."""
    opened = await database.open()
    yield opened
    await opened.close()


@pytest.fixture
async def other_store(database: Database, store: Store) -> AsyncIterator[Store]:
    """A second, independent store on the same database (like a second process)."""
    opened = await database.open()
    yield opened
    await opened.close()
