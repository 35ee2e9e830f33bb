"""Logging: the redaction safety net masks personal data and secrets."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from shared.log import (
    _AMQP_PASSWORD_RE,
    _ID_NUMBER_RE,
    _URL_SECRET_RE,
    MASK,
    UtcTimestamp,
    configure_logging,
    get_logger,
    redact,
    redact_text,
)


def test_sensitive_keys_are_masked() -> None:
    """Names, ID numbers, credentials and tokens passed as fields never survive."""
    event = redact(
        None,
        "info",
        {
            "event": "x",
            "name": "张三",
            "id_card_number": "11010519491231002X",
            "verify_result": "XXIzTt",
            "access_token": "ACCESS",
            "nested": {"cert_no": "310101199801011234", "ok": 1},
        },
    )
    assert event["name"] == MASK
    assert event["id_card_number"] == MASK
    assert event["verify_result"] == MASK
    assert event["access_token"] == MASK
    assert event["nested"] == {"cert_no": MASK, "ok": 1}


def test_patterns_in_free_text_are_masked() -> None:
    """ID numbers, URL tokens and broker passwords inside messages are masked."""
    event = redact(
        None,
        "info",
        {"event": "GET /x?access_token=abc&y=1 for 11010519491231002x via amqp://u:pw@h/"},
    )
    text = event["event"]
    assert "abc" not in text
    assert "11010519491231002x" not in text
    assert "pw@" not in text
    assert "y=1" in text
    assert redact_text("?ACCESS_TOKEN=abc") == f"?ACCESS_TOKEN={MASK}"  # any case


def test_stdlib_records_go_through_redaction_as_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A stdlib logger's record is rendered as one JSON line with redaction applied."""
    configure_logging("json", "info")
    try:
        logging.getLogger("some.library").warning("token fetch ?access_token=SECRET1 failed")
        structlog.contextvars.bind_contextvars(request_id="r1")
        get_logger("wx").info("push_accepted", verify_result="SECRET2")
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["logger"] == "some.library"
    assert "SECRET1" not in lines[0]["event"]
    assert lines[1]["request_id"] == "r1"
    assert lines[1]["verify_result"] == MASK


_SECRET_PARTS = st.sampled_from(
    ["11010519491231002X", "310101199801011234", "access_token=", "SECRET=", "verify_result=",
     "amqp://u:", "amqps://guest:", "pw@", "@", "=", "&", " ", "x", "9", "/", "?"]
)  # fmt: skip


@given(st.lists(st.one_of(_SECRET_PARTS, st.text(max_size=6)), max_size=12).map("".join))
def test_the_quick_gate_never_skips_a_text_the_patterns_would_change(text: str) -> None:
    """redact_text's quick gate masks exactly what the three substitutions mask."""
    unconditional = _ID_NUMBER_RE.sub(MASK, text)
    unconditional = _URL_SECRET_RE.sub(lambda m: m.group(1) + MASK, unconditional)
    unconditional = _AMQP_PASSWORD_RE.sub(lambda m: m.group(1) + MASK + "@", unconditional)
    assert redact_text(text) == unconditional


def test_exception_text_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """A traceback (formatted before redaction runs) never carries an ID number."""
    configure_logging("json", "info")
    try:
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            get_logger("wx").exception("failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.splitlines()[0])
    assert "11010519491231002X" not in line["exception"]
    assert (line["level"], line["logger"], line["event"]) == ("error", "wx", "failed")


def test_timestamps_are_utc_iso_with_microseconds_at_a_fixed_width() -> None:
    """A line's timestamp reads back as the UTC moment it was written, six fraction digits."""
    before = datetime.now(UTC)
    text = UtcTimestamp()(None, "info", {})["timestamp"]
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text), text
    assert before <= datetime.fromisoformat(text) <= after


def test_timestamps_follow_the_clock_across_seconds() -> None:
    """The once-a-second part is formatted afresh when the second changes, back or forth."""
    moments = iter([1_780_000_000.0, 1_780_000_000.999999, 1_780_000_001.25, 1_779_999_999.5])
    stamp = UtcTimestamp(lambda: next(moments))
    stamps = [stamp(None, "info", {})["timestamp"] for _ in range(4)]
    assert stamps == [
        "2026-05-28T20:26:40.000000Z",
        "2026-05-28T20:26:40.999999Z",
        "2026-05-28T20:26:41.250000Z",
        "2026-05-28T20:26:39.500000Z",
    ]
