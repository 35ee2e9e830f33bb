"""Nothing personal at rest: no name, ID number, md5 or cert_hash in the database's bytes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from shared.store import Store
from shared.vocabulary import Reason
from tests.shared.store.support import (
    ID_NUMBER,
    NAME,
    Database,
    cert_hash,
    decision,
    id_md5,
    legacy,
    name_md5,
    now,
    v2,
)

CREDENTIAL = "verify-result-plaintext-credential-0001"


def _forbidden() -> dict[str, bytes]:
    values = {
        "name": NAME,
        "id_number": ID_NUMBER,
        "id_number_lower_x": ID_NUMBER.lower(),
        "id_md5": id_md5(),
        "name_md5": name_md5(),
        "cert_hash": cert_hash(),
        "credential": CREDENTIAL,
    }
    found = {k: v.encode("utf-8") for k, v in values.items()}
    found.update({k + "_upper": v.upper().encode("utf-8") for k, v in values.items()})
    return found


async def _fill(store: Store) -> None:
    a = await store.create_session(legacy())
    b = await store.create_session(v2())
    await store.decide(decision(a.out_seq_no, store.protector.credential_hash(CREDENTIAL)))
    await store.decide(
        decision(b.out_seq_no, store.protector.credential_hash("x"), Reason.NOT_PASSED)
    )
    await store.create_session(v2(expires_in=-60))  # its expiry waits in the outbox
    assert len(await store.claim_expired(now(), 10, "sweeper", lambda seq: "expired-" + seq)) == 1


def _occurrences(blob: bytes) -> dict[str, int]:
    return {label: blob.count(value) for label, value in _forbidden().items()}


def _sqlite_bytes(path: Path) -> bytes:
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


async def _postgres_text(database: Database) -> bytes:
    tables = await database.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    assert {"sessions", "decision_log", "expiry_outbox", "schema_version"} <= {t[0] for t in tables}
    dump = [
        str(r) for (table,) in tables for r in await database.rows(f"SELECT t::text FROM {table} t")
    ]
    return "\n".join(dump).encode("utf-8")


async def test_no_plaintext_personal_data_at_rest(store: Store, database: Database) -> None:
    """After sessions and decisions for 张三, none of the sensitive strings is stored."""
    await _fill(store)
    if database.path is not None:
        assert database.path.with_name(database.path.name + "-wal").exists()
        assert set(_occurrences(_sqlite_bytes(database.path)).values()) == {0}
        await store.close()  # checkpoints the WAL into the main file
        assert set(_occurrences(_sqlite_bytes(database.path)).values()) == {0}
        return
    dump = await _postgres_text(database)
    assert b"v1." in dump  # the dump does hold the sealed cert_hash and the sessions
    assert set(_occurrences(dump).values()) == {0}


async def test_the_scan_would_see_plaintext(database: Database) -> None:
    """The scanner itself finds a forbidden value written in the clear (the test can fail)."""
    store = await database.open()
    try:
        await store.create_session(replace(legacy(), openid=id_md5()))  # misuse on purpose
        if database.path is not None:
            assert _occurrences(_sqlite_bytes(database.path))["id_md5"] >= 1
        else:
            assert _occurrences(await _postgres_text(database))["id_md5"] >= 1
    finally:
        await store.close()
