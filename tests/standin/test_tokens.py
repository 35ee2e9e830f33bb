"""The stand-in's token rules: classic overlap, stable sharing and renewal, force_refresh."""

from __future__ import annotations

from standin.tokens import EXPIRED, INVALID, NOT_LATEST, OK, TokenStore
from tests.standin.fakes import FakeClock


def _store(clock: FakeClock, ttl_s: int = 7200, overlap_s: float = 300) -> TokenStore:
    return TokenStore(ttl_s, overlap_s, clock)


def test_unknown_token_is_invalid() -> None:
    """A token never issued (or none at all) answers 40014."""
    store = _store(FakeClock())
    assert store.check("made-up") == INVALID
    assert store.check(None) == INVALID


def test_classic_fetch_retires_previous_after_overlap() -> None:
    """A new cgi-bin/token fetch leaves the old token valid for the overlap, then 40001."""
    clock = FakeClock()
    store = _store(clock)
    old, expires_in = store.issue_classic()
    assert expires_in == 7200
    new, _ = store.issue_classic()
    assert new != old
    clock.advance(299)
    assert (store.check(old), store.check(new)) == (OK, OK)
    clock.advance(2)
    assert (store.check(old), store.check(new)) == (NOT_LATEST, OK)


def test_token_expires() -> None:
    """A token past its expires_in answers 42001."""
    clock = FakeClock()
    store = _store(clock, ttl_s=100, overlap_s=10)
    token, _ = store.issue_classic()
    clock.advance(100)
    assert store.check(token) == EXPIRED


def test_stable_token_is_shared_then_renewed_near_expiry() -> None:
    """Normal-mode stable_token returns the same token, a successor in its last minutes."""
    clock = FakeClock()
    store = _store(clock)
    first, expires_in = store.issue_stable(force_refresh=False)
    clock.advance(1000)
    again, left = store.issue_stable(force_refresh=False)
    assert (again, expires_in, left) == (first, 7200, 6200)
    clock.advance(6000)  # 200 s left: inside the 300 s hand-over
    successor, _ = store.issue_stable(force_refresh=False)
    assert successor != first
    assert (store.check(first), store.check(successor)) == (OK, OK)
    assert store.fetches == 3


def test_force_refresh_retires_at_once_and_is_rate_limited() -> None:
    """force_refresh retires the stable token now; another within 30 s changes nothing."""
    clock = FakeClock()
    store = _store(clock)
    first, _ = store.issue_stable(force_refresh=False)
    second, _ = store.issue_stable(force_refresh=True)
    assert second != first
    assert store.check(first) == NOT_LATEST
    clock.advance(10)
    assert store.issue_stable(force_refresh=True)[0] == second


def test_stable_and_classic_are_isolated() -> None:
    """A classic fetch does not retire the stable token, nor the reverse."""
    clock = FakeClock()
    store = _store(clock)
    stable, _ = store.issue_stable(force_refresh=False)
    classic, _ = store.issue_classic()
    store.issue_classic()
    store.issue_stable(force_refresh=True)
    clock.advance(301)
    assert store.check(classic) == NOT_LATEST  # by the second classic fetch
    assert store.check(stable) == NOT_LATEST  # by force_refresh, not by classic
    assert store.issue_classic()[0] != stable


def test_invalidate_retires_live_tokens() -> None:
    """invalidate() retires every live token now (or just the one named)."""
    clock = FakeClock()
    store = _store(clock)
    a, _ = store.issue_classic()
    b, _ = store.issue_stable(force_refresh=False)
    assert store.invalidate(b) == 1
    assert (store.check(a), store.check(b)) == (OK, NOT_LATEST)
    assert store.invalidate() == 1
    assert store.check(a) == NOT_LATEST
