"""Decisions: the single-use credential ledger, never-downgrade, replays and reuse."""

from __future__ import annotations

import asyncio

import pytest

from shared.store import Store
from shared.store.model import Decision
from shared.vocabulary import Reason, Status
from tests.shared.store.support import Database, decision, legacy, seq


async def _status(store: Store, out_seq_no: str) -> Status:
    session = await store.get_session(out_seq_no)
    assert session is not None
    return session.status


async def test_decision_sets_status_reason_and_code(store: Store) -> None:
    """A first decision is new, logged, and applied to the open session."""
    session = await store.create_session(legacy())
    made = decision(session.out_seq_no, "cred-a", Reason.IDENTITY_MISMATCH)
    decided = await store.decide(made)
    assert (decided.decision, decided.new, decided.reused) == (made, True, False)
    assert decided.status is Status.REJECTED
    stored = await store.get_session(session.out_seq_no)
    assert stored is not None
    assert (stored.status, stored.reason, stored.wechat_code) == (
        Status.REJECTED,
        Reason.IDENTITY_MISMATCH,
        1,
    )
    assert await store.decisions_for(session.out_seq_no) == [made]


async def test_replayed_credential_returns_the_first_decision(store: Store) -> None:
    """The same credential decided again returns the first decision and changes nothing."""
    session = await store.create_session(legacy())
    first = decision(session.out_seq_no, "cred-b", Reason.NOT_PASSED)
    await store.decide(first)
    replay = await store.decide(decision(session.out_seq_no, "cred-b"))  # now says verified
    assert (replay.decision, replay.new, replay.reused) == (first, False, False)
    assert replay.status is Status.REJECTED
    assert await _status(store, session.out_seq_no) is Status.REJECTED
    assert await store.decisions_for(session.out_seq_no) == [first]


async def test_credential_presented_for_another_session_is_reuse(store: Store) -> None:
    """A credential already decided for session A, presented for B, comes back as reused."""
    a = await store.create_session(legacy())
    b = await store.create_session(legacy())
    first = decision(a.out_seq_no, "cred-c")
    await store.decide(first)
    again = await store.decide(decision(b.out_seq_no, "cred-c"))
    assert (again.decision, again.new, again.reused) == (first, False, True)
    assert again.status is Status.PENDING
    assert await _status(store, b.out_seq_no) is Status.PENDING
    reject = decision(b.out_seq_no, None, Reason.CREDENTIAL_REUSED, message_id="reuse-" + seq())
    assert (await store.decide(reject)).status is Status.REJECTED
    twice = await store.decide(
        decision(b.out_seq_no, None, Reason.CREDENTIAL_REUSED, message_id=reject.message_id)
    )
    assert (twice.decision, twice.new) == (reject, False)
    assert await store.decisions_for(b.out_seq_no) == [reject]


async def test_verified_is_never_downgraded(store: Store) -> None:
    """After verified, a rejected or failed decision (new credential) is logged, not applied."""
    session = await store.create_session(legacy())
    await store.decide(decision(session.out_seq_no, "cred-d1"))
    for i, reason in enumerate((Reason.NOT_PASSED, Reason.UPSTREAM_UNAVAILABLE)):
        later = await store.decide(decision(session.out_seq_no, f"cred-d{i + 2}", reason))
        assert later.new
        assert later.status is Status.VERIFIED
    stored = await store.get_session(session.out_seq_no)
    assert stored is not None
    assert (stored.status, stored.reason, stored.wechat_code) == (Status.VERIFIED, None, 0)
    assert len(await store.decisions_for(session.out_seq_no)) == 3


@pytest.mark.parametrize("first", [Reason.NOT_PASSED, Reason.UPSTREAM_UNAVAILABLE])
async def test_final_non_verified_status_yields_only_to_verified(
    store: Store, first: Reason
) -> None:
    """rejected/failed stay against another non-verified decision; a verified one wins."""
    session = await store.create_session(legacy())
    await store.decide(decision(session.out_seq_no, "cred-e1", first))
    other = Reason.CREDENTIAL_INVALID
    kept = await store.decide(decision(session.out_seq_no, "cred-e2", other))
    assert kept.status is first.outcome.status
    stored = await store.get_session(session.out_seq_no)
    assert stored is not None
    assert stored.reason is first
    won = await store.decide(decision(session.out_seq_no, "cred-e3"))
    assert won.status is Status.VERIFIED
    stored = await store.get_session(session.out_seq_no)
    assert stored is not None
    assert (stored.reason, stored.wechat_code) == (None, 0)


async def test_decision_for_unknown_session_is_logged(store: Store) -> None:
    """The ledger records a credential even when no session exists; status is None."""
    out_seq_no = seq()
    made = decision(out_seq_no, "cred-f", Reason.UNKNOWN_SESSION)
    decided = await store.decide(made)
    assert (decided.new, decided.status) == (True, None)
    assert await store.decisions_for(out_seq_no) == [made]
    assert (await store.decide(decision(out_seq_no, "cred-f"))).decision == made


async def test_concurrent_decisions_on_one_credential_make_one_decision(
    store: Store, other_store: Store, database: Database
) -> None:
    """50 concurrent decides (two store instances) → one ledger row, one answer for all."""
    session = await store.create_session(legacy())
    stores = [store, other_store] * 25
    credential = store.protector.credential_hash("verify-result-" + seq())
    results = await asyncio.gather(
        *(
            s.decide(decision(session.out_seq_no, credential, None if i % 2 else Reason.NOT_PASSED))
            for i, s in enumerate(stores)
        )
    )
    assert len({r.decision for r in results}) == 1
    assert sum(r.new for r in results) == 1
    assert not any(r.reused for r in results)
    winner = results[0].decision
    assert await _status(store, session.out_seq_no) is winner.outcome.status
    sql = f"SELECT count(*) FROM decision_log WHERE credential = '{credential}'"
    assert await database.count(sql) == 1


async def test_decide_many_is_decide_in_order(store: Store) -> None:
    """A batch applies in order, including a repeat of its own credential."""
    a = await store.create_session(legacy())
    b = await store.create_session(legacy())
    batch = [
        decision(a.out_seq_no, "cred-g1", Reason.NOT_PASSED),
        decision(b.out_seq_no, "cred-g2"),
        decision(b.out_seq_no, "cred-g1"),
        decision(a.out_seq_no, "cred-g3"),
    ]
    results = await store.decide_many(batch)
    assert [r.new for r in results] == [True, True, False, True]
    assert results[2].reused
    assert results[2].decision == batch[0]
    assert [r.status for r in results] == [Status.REJECTED] + [Status.VERIFIED] * 3
    assert await store.decide_many([]) == []


async def test_a_batch_of_first_decisions_is_logged_and_applied(store: Store) -> None:
    """New credentials on open sessions, each named once (a worker's usual batch): every
    decision logged once and applied, with its reason, code and time, as decide would."""
    sessions = [await store.create_session(legacy()) for _ in range(5)]
    reasons = [None, Reason.NOT_PASSED, None, Reason.IDENTITY_MISMATCH, None]
    batch = [
        decision(s.out_seq_no, f"cred-k{i}-{seq()}", reason)
        for i, (s, reason) in enumerate(zip(sessions, reasons, strict=True))
    ]
    results = await store.decide_many(batch)
    assert [(r.decision, r.new, r.reused) for r in results] == [(d, True, False) for d in batch]
    for made, result in zip(batch, results, strict=True):
        stored = await store.get_session(made.out_seq_no)
        assert stored is not None
        assert (stored.status, stored.reason, stored.wechat_code, stored.updated_at) == (
            made.outcome.status, made.reason, made.wechat_code, made.decided_at,
        )  # fmt: skip
        assert result.status is made.outcome.status
        assert await store.decisions_for(made.out_seq_no) == [made]


async def test_a_batch_with_a_replay_and_a_decided_session_is_decide_in_order(
    store: Store, database: Database
) -> None:
    """A batch holding a replayed credential and a rejection for a verified session ends as
    deciding each in turn: the replay gets the first decision, the verified session stays
    verified, the rest are applied, and nothing is logged twice."""
    done, replayed, fresh = [await store.create_session(legacy()) for _ in range(3)]
    await store.decide(decision(done.out_seq_no, "cred-m1"))
    first = decision(replayed.out_seq_no, "cred-m2", Reason.NOT_PASSED)
    await store.decide(first)
    batch = [
        decision(done.out_seq_no, "cred-m3", Reason.NOT_PASSED),
        decision(replayed.out_seq_no, "cred-m2"),
        decision(fresh.out_seq_no, "cred-m4"),
    ]
    results = await store.decide_many(batch)
    assert [(r.new, r.reused, r.status) for r in results] == [
        (True, False, Status.VERIFIED), (False, False, Status.REJECTED),
        (True, False, Status.VERIFIED),
    ]  # fmt: skip
    assert results[1].decision == first
    assert await _status(store, done.out_seq_no) is Status.VERIFIED
    assert await _status(store, fresh.out_seq_no) is Status.VERIFIED
    for credential in ("cred-m1", "cred-m2", "cred-m3", "cred-m4"):
        sql = f"SELECT count(*) FROM decision_log WHERE credential = '{credential}'"
        assert await database.count(sql) == 1


async def test_decision_log_is_append_only(store: Store, database: Database) -> None:
    """The database itself refuses UPDATE and DELETE on the decision log."""
    session = await store.create_session(legacy())
    await store.decide(decision(session.out_seq_no, "cred-h"))
    for sql in ("UPDATE decision_log SET outcome = 'rejected'", "DELETE FROM decision_log"):
        with pytest.raises(Exception, match="append-only"):
            await database.rows(sql)
    assert await database.count("SELECT count(*) FROM decision_log") == 1


async def test_a_batch_with_a_reused_credential_and_a_repeated_reuse_decision(
    store: Store,
) -> None:
    """In a batch of distinct sessions: a credential decided for another session comes back
    as reused, a credential-less decision seen before comes back as the first, and the
    others are applied."""
    a, b, c, d = [await store.create_session(legacy()) for _ in range(4)]
    first = decision(a.out_seq_no, "cred-n1")
    await store.decide(first)
    reject = decision(c.out_seq_no, None, Reason.CREDENTIAL_REUSED, message_id="reuse-" + seq())
    await store.decide(reject)
    batch = [
        decision(b.out_seq_no, "cred-n1"),
        decision(c.out_seq_no, None, Reason.CREDENTIAL_REUSED, message_id=reject.message_id),
        decision(d.out_seq_no, "cred-n2", Reason.NOT_PASSED),
    ]
    results = await store.decide_many(batch)
    assert [(r.decision, r.new, r.reused) for r in results] == [
        (first, False, True), (reject, False, False), (batch[2], True, False),
    ]  # fmt: skip
    assert [r.status for r in results] == [Status.PENDING, Status.REJECTED, Status.REJECTED]
    assert await _status(store, b.out_seq_no) is Status.PENDING


async def test_concurrent_batches_from_two_stores_decide_each_credential_once(
    store: Store, other_store: Store, database: Database
) -> None:
    """Two stores (two workers) decide the same credentials in concurrent batches, each in
    ledger order and with its own verdicts: one decision per credential, and every caller
    gets that one back."""
    sessions = [await store.create_session(legacy()) for _ in range(20)]
    credentials = sorted(f"cred-p{i:02d}-{seq()}" for i in range(20))
    pairs = list(zip(sessions, credentials, strict=True))

    def batches(reason: Reason | None) -> list[list[Decision]]:
        made = [decision(s.out_seq_no, c, reason) for s, c in pairs]
        return [made[i : i + 5] for i in range(0, 20, 5)]

    runs = [store.decide_many(b) for b in batches(None)]
    runs += [other_store.decide_many(b) for b in batches(Reason.NOT_PASSED)]
    results = [r for batch in await asyncio.gather(*runs) for r in batch]
    by_credential: dict[str | None, set[Decision]] = {}
    for result in results:
        by_credential.setdefault(result.decision.credential, set()).add(result.decision)
    assert all(len(found) == 1 for found in by_credential.values())
    assert sum(r.new for r in results) == 20
    for s, c in pairs:
        (winner,) = by_credential[c]
        assert await _status(store, s.out_seq_no) is winner.outcome.status
        sql = f"SELECT count(*) FROM decision_log WHERE credential = '{c}'"
        assert await database.count(sql) == 1
