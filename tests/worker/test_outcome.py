"""Tests of the outcome event: the contract's CloudEvent shape and its deterministic id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.vocabulary import Flow, Outcome, Reason
from worker.outcome import OutcomeEvent, OutcomeEventError, outcome_message_id

MOMENT = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)


def event(**changes: object) -> OutcomeEvent:
    """A rejected legacy event, with ``changes`` applied."""
    fields: dict[str, object] = {
        "message_id": outcome_message_id("wx1234567890abcdef", "seq-001", "credential"),
        "appid": "wx1234567890abcdef",
        "out_seq_no": "seq-001",
        "openid": "o-applicant",
        "flow": Flow.LEGACY,
        "outcome": Outcome.REJECTED,
        "reason": Reason.IDENTITY_MISMATCH,
        "wechat_code": 0,
        "time": MOMENT,
    }
    fields.update(changes)
    return OutcomeEvent(**fields)  # type: ignore[arg-type]


def test_body_is_the_contract_cloudevent() -> None:
    """The body has exactly the contract's CloudEvents 1.0 fields and data."""
    ev = event()
    assert orjson.loads(ev.encode()) == {
        "specversion": "1.0",
        "id": ev.message_id,
        "source": "wxface",
        "type": "wxface.identity.rejected",
        "subject": "seq-001",
        "time": "2024-05-01T08:30:15.123456Z",
        "datacontenttype": "application/json",
        "data": {
            "appid": "wx1234567890abcdef",
            "out_seq_no": "seq-001",
            "openid": "o-applicant",
            "flow": "legacy",
            "outcome": "rejected",
            "reason": "identity_mismatch",
            "wechat_code": 0,
        },
    }
    assert ev.routing_key == "identity.rejected"


def test_verified_event_has_null_reason() -> None:
    """A verified event carries reason null and routing key identity.verified."""
    ev = event(outcome=Outcome.VERIFIED, reason=None, wechat_code=10000, flow=Flow.V2)
    data = orjson.loads(ev.encode())["data"]
    assert (data["reason"], data["wechat_code"], data["flow"]) == (None, 10000, "v2")
    assert ev.routing_key == "identity.verified"


def test_time_is_rendered_in_utc() -> None:
    """A decision time in another zone is rendered as the same instant in UTC (RFC 3339)."""
    shanghai = MOMENT.astimezone(timezone(timedelta(hours=8)))
    assert orjson.loads(event(time=shanghai).encode())["time"] == "2024-05-01T08:30:15.123456Z"


def test_naive_time_is_refused() -> None:
    """A naive datetime is a bug, not a time: encoding refuses it."""
    with pytest.raises(ValueError, match="timezone-aware"):
        event(time=datetime(2024, 5, 1)).encode()


def test_message_id_is_deterministic_and_hides_the_credential() -> None:
    """The same decision always gets the same id; another credential or session another one."""
    first = outcome_message_id("wxapp", "seq-1", "verify-result-abc")
    assert first == outcome_message_id("wxapp", "seq-1", "verify-result-abc")
    assert first != outcome_message_id("wxapp", "seq-1", "verify-result-abd")
    assert first != outcome_message_id("wxapp", "seq-2", "verify-result-abc")
    assert first != outcome_message_id("wxapq", "seq-1", "verify-result-abc")
    assert len(first) == 32
    assert "verify-result" not in first


def test_message_id_parts_cannot_be_shifted() -> None:
    """Moving characters between parts gives another id (parts are separated)."""
    assert outcome_message_id("wx", "ab", "c") != outcome_message_id("wx", "a", "bc")


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b"{}", b'{"id": 1}', b"not json", b'{"data": null}'],
)
def test_decode_rejects_non_events(body: bytes) -> None:
    """Bodies that are not outcome events raise OutcomeEventError, nothing else."""
    with pytest.raises(OutcomeEventError):
        OutcomeEvent.decode(body)


TEXT = st.text(min_size=1, max_size=40)


@given(
    out_seq_no=TEXT,
    openid=st.none() | TEXT,
    flow=st.sampled_from(Flow),
    reason=st.none() | st.sampled_from(Reason),
    code=st.none() | st.integers(min_value=-(2**31), max_value=2**31),
    moment=st.datetimes(timezones=st.just(UTC)),
)
def test_encode_decode_round_trip(
    out_seq_no: str,
    openid: str | None,
    flow: Flow,
    reason: Reason | None,
    code: int | None,
    moment: datetime,
) -> None:
    """decode(encode(e)) == e for any event."""
    outcome = Outcome.VERIFIED if reason is None else reason.outcome
    ev = event(
        out_seq_no=out_seq_no, openid=openid, flow=flow, outcome=outcome, reason=reason,
        wechat_code=code, time=moment,
    )  # fmt: skip
    assert OutcomeEvent.decode(ev.encode()) == ev
