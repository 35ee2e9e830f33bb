"""Event models: face_identify is validated strictly, other events pass through with extras."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.errors import FieldTypeError, MissingFieldError
from shared.wechat.event import FaceIdentifyEvent, GenericEvent, build_event

SECRET = "XXIzTtMqCxwOaawoE91-secret-verify-result"


def face(**changes: Any) -> dict[str, Any]:
    """A valid face_identify document, with ``changes`` applied (None removes a field)."""
    doc: dict[str, Any] = {
        "ToUserName": "gh_81fxxxxxxxx",
        "FromUserName": "oRRn15NUibBxxxxxxxxx",
        "CreateTime": 1703657835,
        "MsgType": "event",
        "Event": "face_identify",
        "openid": "oRRn15NUibBxxxxxxxxx",
        "out_seq_no": "test1234",
        "verify_result": SECRET,
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def test_face_identify_documents_build_the_face_model() -> None:
    """The documented example becomes a FaceIdentifyEvent; unknown fields are ignored."""
    event = build_event(face(check_alive_type=1))
    assert isinstance(event, FaceIdentifyEvent)
    assert event.out_seq_no == "test1234"
    assert not hasattr(event, "check_alive_type")


def test_xml_style_numbers_in_strings_are_accepted() -> None:
    """CreateTime arrives as text from XML and is converted to an int."""
    event = build_event(face(CreateTime="1703657835"))
    assert event.CreateTime == 1703657835


def test_face_event_is_frozen() -> None:
    """Events are immutable values."""
    event = FaceIdentifyEvent.model_validate(face())
    with pytest.raises(ValidationError):
        event.openid = "other"  # type: ignore[misc]


@pytest.mark.parametrize("out_seq_no", ["abcde", "A" * 32, "a_b-c9"])
def test_out_seq_no_accepts_the_documented_alphabet(out_seq_no: str) -> None:
    """5–32 characters of [A-Za-z0-9_-] are accepted."""
    assert build_event(face(out_seq_no=out_seq_no)).Event == "face_identify"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("out_seq_no", "abcd"),
        ("out_seq_no", "A" * 33),
        ("out_seq_no", "abc de"),
        ("out_seq_no", "abcdé"),
        ("out_seq_no", "abcde\n"),
        ("openid", ""),
        ("openid", 123),
        ("verify_result", ""),
        ("verify_result", "v" * 1025),
        ("CreateTime", "abc"),
        ("CreateTime", -1),
        ("CreateTime", 2**32),
        ("CreateTime", 1.5),
        ("MsgType", "text"),
        ("ToUserName", ["gh"]),
    ],
)
def test_bad_fields_name_the_field(field: str, value: object) -> None:
    """A wrongly typed or shaped field is a FieldTypeError naming the field."""
    with pytest.raises(FieldTypeError, match=f"^invalid field {field}$"):
        build_event(face(**{field: value}))


@pytest.mark.parametrize(
    "field", ["ToUserName", "FromUserName", "CreateTime", "openid", "out_seq_no", "verify_result"]
)
def test_missing_fields_name_the_field(field: str) -> None:
    """An absent field is a MissingFieldError naming the field."""
    with pytest.raises(MissingFieldError, match=f"^missing field {field}$"):
        build_event(face(**{field: None}))


def test_errors_never_carry_the_value() -> None:
    """Neither the message nor the exception chain reveals verify_result."""
    with pytest.raises(FieldTypeError) as info:
        build_event(face(verify_result=SECRET * 100))
    assert SECRET not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_other_events_keep_their_extra_fields() -> None:
    """A debug event becomes a GenericEvent with its extra fields kept."""
    event = build_event(
        {
            "ToUserName": "gh_97417a04a28d",
            "FromUserName": "o9AgO5Kd5ggOC-bXrbNODIiE3bGY",
            "CreateTime": 1714037059,
            "MsgType": "event",
            "Event": "debug_demo",
            "debug_str": "hello world",
        }
    )
    assert isinstance(event, GenericEvent)
    assert event.model_extra == {"debug_str": "hello world"}


def test_generic_event_needs_only_the_header() -> None:
    """FromUserName and Event are optional for other events (text messages have no Event)."""
    event = build_event({"ToUserName": "gh", "CreateTime": "1", "MsgType": "text"})
    assert isinstance(event, GenericEvent)
    assert (event.FromUserName, event.Event) == (None, None)


@pytest.mark.parametrize(
    "doc",
    [
        {"CreateTime": 1, "MsgType": "event"},
        {"ToUserName": "gh", "CreateTime": "abc", "MsgType": "event"},
        {"ToUserName": "gh", "CreateTime": 1, "MsgType": "event", "Event": ["face_identify"]},
    ],
)
def test_generic_event_errors_are_push_errors(doc: dict[str, object]) -> None:
    """Header problems of other events are malformed-push errors too."""
    with pytest.raises((MissingFieldError, FieldTypeError)):
        build_event(doc)
