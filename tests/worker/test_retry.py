"""Tests of the retry policy: jittered back-off over fixed tiers, inside the credential's life."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.vocabulary import Flow
from worker.retry import RetryPolicy, credential_deadline

TIERS = (1.0, 5.0, 15.0, 60.0)
POLICY = RetryPolicy(TIERS, base_s=1.0, cap_s=60.0, margin_s=5.0)
NOW = 1_700_000_000.0


def test_first_retries_are_short_and_later_ones_longer() -> None:
    """The mean delay grows with the attempt number, up to the cap."""
    rng = random.Random(7)
    means = [
        statistics.mean(POLICY.delay(n, NOW, NOW + 10_000, rng) or 0 for _ in range(400))
        for n in range(8)
    ]
    assert means[0] < 2.0
    assert means == sorted(means)
    assert 50.0 <= means[-1] <= 60.0


def test_delays_are_jittered() -> None:
    """The same attempt does not always land in the same tier (no thundering herd)."""
    rng = random.Random(1)
    assert len({POLICY.delay(3, NOW, NOW + 10_000, rng) for _ in range(200)}) > 1


def test_never_past_the_credential_life() -> None:
    """A tier that would end after deadline - margin is never chosen."""
    rng = random.Random(2)
    for _ in range(200):
        assert POLICY.delay(10, NOW, NOW + 25.0, rng) in (1.0, 5.0, 15.0)


def test_gives_up_when_no_tier_fits() -> None:
    """With less life left than the shortest tier plus the margin, the policy gives up."""
    assert POLICY.delay(0, NOW, NOW + 5.5, random.Random(3)) is None
    assert POLICY.delay(0, NOW, NOW - 1.0, random.Random(3)) is None


def test_floor_is_respected() -> None:
    """A minute-quota retry waits at least its floor, or gives up if that does not fit."""
    rng = random.Random(4)
    assert POLICY.delay(0, NOW, NOW + 1000.0, rng, floor_s=60.0) == 60.0
    assert POLICY.delay(0, NOW, NOW + 30.0, rng, floor_s=60.0) is None


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    life=st.integers(min_value=-400, max_value=40_000).map(lambda q: q / 4),  # exact sums
    floor=st.sampled_from([0.0, 1.0, 60.0]),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_delay_is_a_fitting_tier_or_none(
    attempt: int, life: float, floor: float, seed: int
) -> None:
    """Whatever the inputs, the delay is one of the tiers, at least the floor, inside the life."""
    delay = POLICY.delay(attempt, NOW, NOW + life, random.Random(seed), floor_s=floor)
    fits = [t for t in TIERS if t >= floor and t + POLICY.margin_s <= life]
    if not fits:
        assert delay is None
    else:
        assert delay in fits


def test_legacy_deadline_counts_from_the_earlier_of_push_and_receipt() -> None:
    """A verify_result lives credential_ttl_s from the earlier of CreateTime and receipt."""
    assert (
        credential_deadline(
            Flow.LEGACY, received_at=NOW, create_time=int(NOW) - 20, credential_ttl_s=300,
            session_expires_at=NOW + 3600,
        )
        == NOW - 20 + 300
    )  # fmt: skip
    assert (
        credential_deadline(
            Flow.LEGACY, received_at=NOW, create_time=None, credential_ttl_s=300,
            session_expires_at=None,
        )
        == NOW + 300
    )  # fmt: skip


@pytest.mark.parametrize(("expires_at", "expected"), [(NOW + 3000, NOW + 3000), (None, NOW + 300)])
def test_v2_deadline_is_the_session_expiry(expires_at: float | None, expected: float) -> None:
    """A verify_id lives until its session expires (falling back to the credential TTL)."""
    deadline = credential_deadline(
        Flow.V2, received_at=NOW, create_time=None, credential_ttl_s=300,
        session_expires_at=expires_at,
    )  # fmt: skip
    assert deadline == expected
