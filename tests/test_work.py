"""Tests of shared.work: the intake message, its deterministic id and its encoding."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import WorkItemError
from shared.vocabulary import Flow
from shared.work import WorkItem

_TEXT = st.text(min_size=1, max_size=40)


def _item(**overrides: object) -> WorkItem:
    values: dict[str, object] = {
        "kind": "push",
        "flow": Flow.LEGACY,
        "appid": "wx1234567890abcdef",
        "out_seq_no": "seq00001",
        "openid": "oUser",
        "verify_result": "cred",
        "create_time": 1714037059,
        "received_at": 1714037060.5,
        **overrides,
    }
    return WorkItem.model_validate(values)


def test_message_id_is_the_same_for_the_same_credential() -> None:
    """A retried push and a result re-submission of the same credential share the message_id."""
    push = _item()
    resubmitted = _item(kind="result", openid=None, create_time=None, received_at=9.0)
    assert push.message_id() == resubmitted.message_id()
    assert len(push.message_id()) == 32
    int(push.message_id(), 16)


@pytest.mark.parametrize(
    "change",
    [{"verify_result": "other"}, {"out_seq_no": "seq00002"}, {"flow": Flow.V2}, {"appid": "wxz"}],
)
def test_message_id_differs_for_another_credential(change: dict[str, object]) -> None:
    """Changing the appid, flow, out_seq_no or credential changes the message_id."""
    assert _item(**change).message_id() != _item().message_id()


@given(
    out_seq_no=_TEXT,
    verify_result=st.none() | _TEXT,
    openid=st.none() | _TEXT,
    create_time=st.none() | st.integers(0, 2**32 - 1),
    received_at=st.floats(0, 2e9),
    flow=st.sampled_from(Flow),
)
def test_encode_decode_round_trip(
    out_seq_no: str,
    verify_result: str | None,
    openid: str | None,
    create_time: int | None,
    received_at: float,
    flow: Flow,
) -> None:
    """decode(encode(item)) is the item, for any field values."""
    item = _item(
        out_seq_no=out_seq_no,
        verify_result=verify_result,
        openid=openid,
        create_time=create_time,
        received_at=received_at,
        flow=flow,
    )
    assert WorkItem.decode(item.encode()) == item


@given(st.binary(max_size=200))
def test_garbage_raises_a_clear_error(data: bytes) -> None:
    """Arbitrary bytes either decode or raise WorkItemError, never anything else."""
    with contextlib.suppress(WorkItemError):
        WorkItem.decode(data)


def test_error_names_fields_not_values() -> None:
    """The decode error names the bad field but never echoes the credential."""
    body = b'{"kind":"push","flow":"nope","appid":"a","out_seq_no":"s","verify_result":"SECRET"}'
    with pytest.raises(WorkItemError, match="flow") as info:
        WorkItem.decode(body)
    assert "SECRET" not in str(info.value)


def test_work_item_is_frozen() -> None:
    """A work item cannot be changed after creation."""
    item = _item()
    with pytest.raises(ValueError, match="frozen"):
        item.out_seq_no = "x"  # type: ignore[misc]
