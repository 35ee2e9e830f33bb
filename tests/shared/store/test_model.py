"""The store's model: input validation, UTC normalisation and the status-replacement rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.store.model import Decision, NewSession
from shared.store.rows import replaceable
from shared.vocabulary import Flow, Outcome, Reason, Status
from tests.shared.store.support import decision, now


def test_new_session_refuses_malformed_md5_and_naive_datetimes() -> None:
    """md5s must be 32 hex characters and expires_at timezone-aware."""
    with pytest.raises(ValueError, match="id_card_md5"):
        NewSession("abcde", Flow.LEGACY, now(), id_card_md5="11010519491231002X")
    with pytest.raises(ValueError, match="timezone-aware"):
        NewSession("abcde", Flow.LEGACY, datetime(2030, 1, 1))
    with pytest.raises(ValueError, match="out_seq_no"):
        NewSession("", Flow.LEGACY, now())


def test_datetimes_are_normalised_to_utc() -> None:
    """A +08:00 datetime is kept as the same instant in UTC."""
    beijing = datetime(2030, 1, 1, 8, tzinfo=timezone(timedelta(hours=8)))
    session = NewSession("abcde", Flow.LEGACY, beijing)
    assert session.expires_at == beijing
    assert session.expires_at.utcoffset() == timedelta(0)


def test_decision_pairs_outcome_and_reason_as_the_contract_does() -> None:
    """Verified has no reason; a reason must imply the decision's outcome."""
    with pytest.raises(ValueError, match="reason is required"):
        Decision("abcde", None, Outcome.REJECTED, None, None, "m", now(), "t")
    with pytest.raises(ValueError, match="reason is required"):
        Decision("abcde", None, Outcome.VERIFIED, Reason.NOT_PASSED, None, "m", now(), "t")
    with pytest.raises(ValueError, match="implies outcome"):
        Decision("abcde", None, Outcome.FAILED, Reason.SESSION_EXPIRED, None, "m", now(), "t")
    assert decision("abcde", None, Reason.UPSTREAM_UNAVAILABLE).outcome is Outcome.FAILED


@pytest.mark.parametrize(
    ("new", "allowed"),
    [
        (
            Status.VERIFIED,
            {Status.PENDING, Status.QUEUED, Status.REJECTED, Status.EXPIRED, Status.FAILED},
        ),
        (Status.REJECTED, {Status.PENDING, Status.QUEUED}),
        (Status.EXPIRED, {Status.PENDING, Status.QUEUED}),
        (Status.FAILED, {Status.PENDING, Status.QUEUED}),
    ],
)
def test_replacement_rule(new: Status, allowed: set[Status]) -> None:
    """Open sessions take any decision, other finals only verified, verified nothing."""
    assert set(replaceable(new)) == allowed
