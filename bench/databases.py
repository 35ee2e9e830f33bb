"""Throw-away databases for the benchmarks: a SQLite file, or a PostgreSQL schema.

:func:`database` yields the ``WXFACE_DATABASE_URL`` of a fresh, empty store of either backend
and removes it afterwards (the SQLite file goes with its directory; the PostgreSQL schema is
dropped with everything in it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

BACKENDS = ("sqlite", "postgres")
POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def database(kind: str, dsn: str, workdir: Path) -> AsyncIterator[str]:
    """A fresh database URL of ``kind`` (``sqlite`` in ``workdir``, or ``postgres`` at ``dsn``)."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench-store.db'}"
        return
    if kind != "postgres":
        raise ValueError(f"unknown store backend {kind!r}: one of {', '.join(BACKENDS)}")
    schema = f"wxbench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        separator = "&" if "?" in dsn else "?"
        yield f"{dsn}{separator}search_path={schema}"
    finally:
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()
