"""The expiry outbox: a claimed expiry stays takeable, under a lease, until marked published."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from shared.store import Store, UnpublishedExpiry
from shared.vocabulary import Flow, Outcome, Reason
from tests.shared.store.support import Database, decision, legacy, now, seq, v2

LEASE = timedelta(seconds=60)
LONG_AGO = "'2024-05-01T08:00:00.000000+00:00'"


def _expiry_id(out_seq_no: str) -> str:
    return "expired-" + out_seq_no


async def _take(store: Store, at: datetime, limit: int = 10) -> list[UnpublishedExpiry]:
    """What a sweeper running at ``at`` with a one-minute lease takes."""
    return await store.take_unpublished_expiries(at, at - LEASE, limit)


async def test_a_claimed_expiry_is_taken_again_only_once_its_lease_ran_out(store: Store) -> None:
    """Unpublished, an expiry is due a lease after its claim, and a lease after each take."""
    session = await store.create_session(v2(expires_in=-60))
    claimed_at = now()
    await store.claim_expired(claimed_at, 10, "sweeper-1", _expiry_id)
    assert await _take(store, claimed_at) == []
    assert await _take(store, claimed_at + LEASE / 2) == []
    [entry] = await _take(store, claimed_at + LEASE * 2)
    assert entry == UnpublishedExpiry(
        _expiry_id(session.out_seq_no), session.out_seq_no, Flow.V2, session.openid, claimed_at
    )
    [logged] = await store.decisions_for(session.out_seq_no)
    assert (logged.message_id, logged.decided_at) == (entry.message_id, entry.decided_at)
    assert await _take(store, claimed_at + LEASE * 2.5) == []  # leased at 2 leases
    assert await _take(store, claimed_at + LEASE * 3.5) == [entry]  # that taker died too


async def test_a_published_expiry_is_never_taken_again(store: Store, database: Database) -> None:
    """Marked published, expiries leave the outbox; the rest stay; other decisions never enter."""
    expiring = [await store.create_session(legacy(expires_in=-60)) for _ in range(3)]
    decided = await store.create_session(legacy())
    await store.decide(decision(decided.out_seq_no, "cred-o", Reason.NOT_PASSED))
    claimed_at = now()
    await store.claim_expired(claimed_at, 10, "sweeper-1", _expiry_id)
    published = [_expiry_id(s.out_seq_no) for s in expiring[:2]]
    await store.mark_expiries_published(published)
    later = claimed_at + LEASE * 2
    assert [e.message_id for e in await _take(store, later)] == [_expiry_id(expiring[2].out_seq_no)]
    await store.mark_expiries_published([*published, _expiry_id(expiring[2].out_seq_no)])
    await store.mark_expiries_published([])
    assert await _take(store, later + LEASE * 2) == []
    assert await database.count("SELECT count(*) FROM expiry_outbox") == 0
    assert await database.count("SELECT count(*) FROM decision_log") == 4  # the log keeps all


async def test_concurrent_takers_lease_each_expiry_to_one_of_them(
    store: Store, other_store: Store
) -> None:
    """Six takers on two store instances share 30 unpublished expiries without overlap."""
    overdue = [(await store.create_session(legacy(expires_in=-60))).out_seq_no for _ in range(30)]
    claimed_at = now()
    assert len(await store.claim_expired(claimed_at, 100, "crashed-sweeper", _expiry_id)) == 30

    async def drain(s: Store) -> list[str]:
        mine: list[str] = []
        while batch := await _take(s, claimed_at + LEASE * 2, limit=4):
            mine.extend(e.message_id for e in batch)
        return mine

    results = await asyncio.gather(*(drain(s) for s in [store, other_store] * 3))
    taken = [message_id for mine in results for message_id in mine]
    assert sorted(taken) == sorted(_expiry_id(s) for s in overdue)


async def test_upgrading_a_database_republishes_no_history(database: Database) -> None:
    """A database of migration 1 upgrades in place; expiries decided before count as published."""
    await database.migrate_to(1)
    old = seq()
    await database.rows(
        "INSERT INTO sessions (out_seq_no, flow, status, reason, openid, created_at, updated_at, "
        f"expires_at) VALUES ('{old}', 'legacy', 'expired', 'session_expired', 'o-openid', "
        f"{LONG_AGO}, {LONG_AGO}, {LONG_AGO})"
    )
    await database.rows(
        "INSERT INTO decision_log (out_seq_no, outcome, reason, message_id, decided_at, "
        f"decided_by) VALUES ('{old}', 'expired', 'session_expired', '{_expiry_id(old)}', "
        f"{LONG_AGO}, 'old-sweeper')"
    )
    store = await database.open()
    try:
        assert await _take(store, now() + timedelta(days=1)) == []
        [logged] = await store.decisions_for(old)
        assert (logged.outcome, logged.message_id) == (Outcome.EXPIRED, _expiry_id(old))
        fresh = await store.create_session(legacy(expires_in=-60))
        claimed_at = now()
        await store.claim_expired(claimed_at, 10, "new-sweeper", _expiry_id)
        [entry] = await _take(store, claimed_at + LEASE * 2)
        assert entry.out_seq_no == fresh.out_seq_no
    finally:
        await store.close()
    versions = await database.rows("SELECT version FROM schema_version ORDER BY version")
    assert [v[0] for v in versions] == [1, 2]
