"""Logging: the redaction safety net masks personal data and secrets."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.log import MASK, configure_logging, get_logger, redact


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
