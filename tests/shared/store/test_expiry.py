"""The expiry sweep (exactly once under concurrency) and retention (the log outlives sessions)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from shared.store import Session, Store
from shared.vocabulary import Outcome, Reason, Status
from tests.shared.store.support import Database, decision, legacy, now, v2


def _expiry_id(out_seq_no: str) -> str:
    return "expired-" + out_seq_no


async def test_claim_expires_only_overdue_open_sessions(store: Store) -> None:
    """Overdue pending/queued sessions expire and are logged; others are untouched."""
    overdue = await store.create_session(legacy(expires_in=-60))
    queued = await store.create_session(v2(expires_in=-30))
    await store.mark_queued(queued.out_seq_no)
    current = await store.create_session(legacy(expires_in=600))
    decided = await store.create_session(legacy(expires_in=-60))
    await store.decide(decision(decided.out_seq_no, "cred-x"))
    claimed = await store.claim_expired(now(), 10, "sweeper-1", _expiry_id)
    assert {s.out_seq_no for s in claimed} == {overdue.out_seq_no, queued.out_seq_no}
    for session in claimed:
        assert (session.status, session.reason) == (Status.EXPIRED, Reason.SESSION_EXPIRED)
        assert await store.get_session(session.out_seq_no) == session
        [logged] = await store.decisions_for(session.out_seq_no)
        assert (logged.outcome, logged.reason, logged.credential) == (
            Outcome.EXPIRED,
            Reason.SESSION_EXPIRED,
            None,
        )
        assert (logged.message_id, logged.decided_by) == (
            _expiry_id(session.out_seq_no),
            "sweeper-1",
        )
    for out_seq_no, status in (
        (current.out_seq_no, Status.PENDING),
        (decided.out_seq_no, Status.VERIFIED),
    ):
        stored = await store.get_session(out_seq_no)
        assert stored is not None
        assert stored.status is status
    assert await store.claim_expired(now(), 10, "sweeper-1", _expiry_id) == []


async def test_claim_respects_the_limit_oldest_first(store: Store) -> None:
    """At most ``limit`` sessions per call, the longest overdue first."""
    sessions = [await store.create_session(legacy(expires_in=-100 + i)) for i in range(5)]
    first = await store.claim_expired(now(), 2, "s", _expiry_id)
    assert {s.out_seq_no for s in first} == {s.out_seq_no for s in sessions[:2]}
    rest = await store.claim_expired(now(), 10, "s", _expiry_id)
    assert len(rest) == 3


async def test_concurrent_sweepers_claim_each_session_exactly_once(
    store: Store, other_store: Store, database: Database
) -> None:
    """Six sweepers on two store instances share 30 overdue sessions without overlap."""
    overdue = {(await store.create_session(legacy(expires_in=-60))).out_seq_no for _ in range(30)}

    async def sweep(s: Store, name: str) -> list[Session]:
        mine: list[Session] = []
        while batch := await s.claim_expired(now(), 4, name, _expiry_id):
            mine.extend(batch)
        return mine

    results = await asyncio.gather(
        *(sweep(s, f"sweeper-{i}") for i, s in enumerate([store, other_store] * 3))
    )
    claimed = [s.out_seq_no for batch in results for s in batch]
    assert sorted(claimed) == sorted(overdue)
    assert await database.count("SELECT count(*) FROM decision_log") == 30


async def test_expired_session_can_still_be_verified_but_not_rejected(store: Store) -> None:
    """After expiry a late verified decision wins; a late rejection does not."""
    session = await store.create_session(legacy(expires_in=-60))
    await store.claim_expired(now(), 10, "s", _expiry_id)
    late = await store.decide(decision(session.out_seq_no, "cred-l1", Reason.NOT_PASSED))
    assert late.status is Status.EXPIRED
    assert (await store.decide(decision(session.out_seq_no, "cred-l2"))).status is Status.VERIFIED


async def test_purge_removes_old_sessions_and_keeps_the_decision_log(
    store: Store, database: Database
) -> None:
    """Purging deletes sessions updated before the cut-off; every decision stays."""
    old = await store.create_session(legacy())
    await store.decide(decision(old.out_seq_no, "cred-p"))
    cutoff = now()
    young = await store.create_session(legacy())
    assert await store.purge_sessions(cutoff) == 1
    assert await store.get_session(old.out_seq_no) is None
    assert await store.get_session(young.out_seq_no) == young
    assert [d.credential for d in await store.decisions_for(old.out_seq_no)] == ["cred-p"]
    replay = await store.decide(decision(old.out_seq_no, "cred-p", Reason.NOT_PASSED))
    assert (replay.new, replay.status) == (False, None)
    assert await store.purge_sessions(cutoff - timedelta(days=1)) == 0
    assert await database.count("SELECT count(*) FROM decision_log") == 1
