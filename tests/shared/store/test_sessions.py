"""Sessions: create, read, 409 on duplicates (also under concurrency), pending → queued."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from shared.errors import SessionExistsError
from shared.store import Store
from shared.vocabulary import Flow, Reason, Status
from tests.shared.store.support import (
    Database,
    cert_hash,
    decision,
    id_md5,
    legacy,
    name_md5,
    seq,
    v2,
)


async def test_create_then_get_returns_the_pending_session(store: Store) -> None:
    """A created session reads back equal, pending, with protected md5s."""
    new = legacy()
    created = await store.create_session(new)
    assert await store.get_session(new.out_seq_no) == created
    assert created.status is Status.PENDING
    assert created.flow is Flow.LEGACY
    assert (created.reason, created.wechat_code) == (None, None)
    assert created.user_id_key == new.user_id_key
    assert created.expires_at == new.expires_at
    assert created.id_md5_mac is not None
    assert created.name_md5_mac is not None
    assert store.protector.matches(created.id_md5_mac, id_md5())
    assert store.protector.matches(created.name_md5_mac, name_md5())
    assert not store.protector.matches(created.id_md5_mac, name_md5())


async def test_md5s_are_lower_cased_before_protection(store: Store) -> None:
    """Upper-case md5 input matches the lowercase digest later."""
    created = await store.create_session(replace(legacy(), id_card_md5=id_md5().upper()))
    assert created.id_md5_mac is not None
    assert store.protector.matches(created.id_md5_mac, id_md5())


async def test_v2_cert_hash_is_sealed_and_recoverable(store: Store) -> None:
    """The stored cert_hash is sealed; unseal gives the original back."""
    new = v2()
    await store.create_session(new)
    stored = await store.get_session(new.out_seq_no)
    assert stored is not None
    assert stored.cert_hash_sealed is not None
    assert stored.cert_hash_sealed != cert_hash()
    assert store.protector.unseal(stored.cert_hash_sealed) == cert_hash()
    assert stored.verify_id == new.verify_id


async def test_unknown_session_is_none(store: Store) -> None:
    """get_session and mark_queued return None for an unknown out_seq_no."""
    assert await store.get_session(seq()) is None
    assert await store.mark_queued(seq()) is None


async def test_duplicate_out_seq_no_raises_session_exists(store: Store) -> None:
    """A second create with the same out_seq_no raises and leaves the first intact."""
    first = await store.create_session(legacy())
    with pytest.raises(SessionExistsError):
        await store.create_session(v2(first.out_seq_no))
    assert await store.get_session(first.out_seq_no) == first


async def test_concurrent_creates_of_one_out_seq_no_admit_exactly_one(
    store: Store, other_store: Store, database: Database
) -> None:
    """50 concurrent creates (over two store instances): one succeeds, 49 get 409."""
    out_seq_no = seq()
    stores = [store, other_store] * 25
    results = await asyncio.gather(
        *(s.create_session(legacy(out_seq_no)) for s in stores), return_exceptions=True
    )
    created = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, SessionExistsError)]
    assert (len(created), len(refused)) == (1, 49)
    assert await store.get_session(out_seq_no) == created[0]
    sql = f"SELECT count(*) FROM sessions WHERE out_seq_no = '{out_seq_no}'"
    assert await database.count(sql) == 1


async def test_mark_queued_moves_pending_to_queued_only(store: Store) -> None:
    """pending → queued; a queued or decided session is left as it is."""
    created = await store.create_session(legacy())
    queued = await store.mark_queued(created.out_seq_no)
    assert queued is not None
    assert queued.status is Status.QUEUED
    assert queued.updated_at >= created.updated_at
    again = await store.mark_queued(created.out_seq_no)
    assert again == queued
    await store.decide(decision(created.out_seq_no, "cred-1", Reason.NOT_PASSED))
    decided = await store.mark_queued(created.out_seq_no)
    assert decided is not None
    assert decided.status is Status.REJECTED


async def test_get_sessions_reads_many_at_once_and_skips_unknown(store: Store) -> None:
    """get_sessions returns each existing session by out_seq_no, none for unknown ones, each
    as get_session reads it (a decided one with its reason and code, a v2 one sealed)."""
    first, second = legacy(), v2()
    created = [await store.create_session(first), await store.create_session(second)]
    await store.decide(decision(first.out_seq_no, "cred-many", Reason.NOT_PASSED))
    keys = [first.out_seq_no, "no-such-session", second.out_seq_no, first.out_seq_no]
    found = await store.get_sessions(keys)
    assert found == {s.out_seq_no: await store.get_session(s.out_seq_no) for s in created}
    assert found[first.out_seq_no].reason is Reason.NOT_PASSED
    assert found[second.out_seq_no] == created[1]
    assert await store.get_sessions([]) == {}
