"""errcode classification: every documented code lands in the kind the docs prescribe."""

from __future__ import annotations

import pytest

from shared.errors import WechatApiError, WechatErrorKind
from shared.wechat import errcode as ec

K = WechatErrorKind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (0, None),
        (-1, K.TRANSIENT),
        (ec.TRANSPORT_TIMEOUT, K.TRANSIENT),
        (ec.TRANSPORT_CONNECTION, K.TRANSIENT),
        (ec.TRANSPORT_SERVER_ERROR, K.TRANSIENT),
        (ec.TRANSPORT_BAD_BODY, K.TRANSIENT),
        (ec.TRANSPORT_UNEXPECTED_STATUS, K.CONFIG),
        (40001, K.TOKEN),
        (40014, K.TOKEN),
        (42001, K.TOKEN),
        (45011, K.QUOTA),
        (45009, K.QUOTA),
        (84001, K.PERMANENT),
        (84002, K.PERMANENT),
        (84003, K.PERMANENT),
        (40003, K.PERMANENT),
        (40097, K.PERMANENT),
        (40002, K.CONFIG),
        (40013, K.CONFIG),
        (40125, K.CONFIG),
        (40164, K.CONFIG),
        (40243, K.CONFIG),
        (89503, K.CONFIG),
        (61004, K.CONFIG),
        (48001, K.CONFIG),
        (47001, K.CONFIG),
        (123456, K.TRANSIENT),  # unknown: no verdict, retried with back-off
        (-77, K.TRANSIENT),
    ],
)
def test_classify(code: int, kind: WechatErrorKind | None) -> None:
    """classify maps each errcode to its kind (None for success)."""
    assert ec.classify(code) is kind


def test_local_codes_are_distinct_and_negative() -> None:
    """The transport codes never collide with each other, with -1 or with WeChat's codes."""
    local = [
        ec.TRANSPORT_TIMEOUT,
        ec.TRANSPORT_CONNECTION,
        ec.TRANSPORT_SERVER_ERROR,
        ec.TRANSPORT_BAD_BODY,
        ec.TRANSPORT_UNEXPECTED_STATUS,
    ]
    assert len(set(local)) == len(local)
    assert all(code < -1 for code in local)


def test_api_error_carries_code_message_and_kind() -> None:
    """api_error builds the classified WechatApiError; errcode 0 is refused."""
    err = ec.api_error(84002, "user info expired")
    assert isinstance(err, WechatApiError)
    assert (err.errcode, err.errmsg, err.kind) == (84002, "user info expired", K.PERMANENT)
    with pytest.raises(ValueError, match="errcode 0"):
        ec.api_error(0, "ok")


def test_daily_quota_is_told_apart_from_minute_quota() -> None:
    """45009 (daily, alert) and 45011 (minute, back off) share a kind but not the alert."""
    assert ec.is_daily_quota(45009)
    assert not ec.is_daily_quota(45011)


@pytest.mark.parametrize(
    ("code", "in_progress"),
    [(10300, True), (10005, True), (10000, False), (10004, False), (90017, False), (0, False)],
)
def test_in_progress_verify_ret(code: int, in_progress: bool) -> None:
    """Only the "not finished" verify_ret values ask for another query."""
    assert ec.is_in_progress_verify_ret(code) is in_progress
