"""verify_push / build_push: every mode and format, and every hostile input to its own error."""

from __future__ import annotations

import base64
import contextlib
from dataclasses import replace
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import (
    AppidMismatchError,
    AuthenticationError,
    Base64Error,
    FieldTypeError,
    MalformedPushError,
    MissingFieldError,
    NoAesKeyError,
    PaddingError,
    PlaintextRefusedError,
    PushError,
    SignatureError,
    TimestampError,
)
from shared.wechat.crypto import AesCipher, aes_key
from shared.wechat.document import render
from shared.wechat.event import FaceIdentifyEvent, GenericEvent
from shared.wechat.push import (
    BodyFormat,
    PushMode,
    PushPolicy,
    PushQuery,
    build_push,
    parse_event,
    serialize_event,
    verify_handshake,
    verify_push,
)
from shared.wechat.signature import sign

TOKEN = "tok3n"
APPID = "wxba5fad812f8e6fb9"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CIPHER = AesCipher(KEY)
NOW = 1_714_112_445
NONCE = "415670741"
POLICY = PushPolicy(token=TOKEN, appid=APPID, cipher=CIPHER)
PLAIN_POLICY = PushPolicy(token=TOKEN, appid=APPID, cipher=None)
FACE = FaceIdentifyEvent(
    ToUserName="gh_81fxxxxxxxx",
    FromUserName="oRRn15NUibBxxxxxxxxx",
    CreateTime=NOW,
    MsgType="event",
    Event="face_identify",
    openid="oRRn15NUibBxxxxxxxxx",
    out_seq_no="test1234",
    verify_result="XXIzTtMqCxwOaawoE91-VNGAC3v1j9MP",
)

xml_text = st.text(
    st.characters(blacklist_categories=["Cs"]).filter(lambda c: c not in "\ufffe\uffff")
).filter(lambda s: all(c in "\t\n\r" or c >= " " for c in s))
face_events = st.builds(
    FaceIdentifyEvent,
    ToUserName=xml_text,
    FromUserName=xml_text,
    CreateTime=st.integers(0, 2**32 - 1),
    MsgType=st.just("event"),
    Event=st.just("face_identify"),
    openid=xml_text.filter(bool),
    out_seq_no=st.from_regex(r"\A[A-Za-z0-9_-]{5,32}\Z"),
    verify_result=xml_text.filter(lambda s: 1 <= len(s) <= 1024),
)


def push(
    mode: PushMode = PushMode.SAFE,
    fmt: BodyFormat = BodyFormat.JSON,
    event: FaceIdentifyEvent = FACE,
    appid: str = APPID,
) -> tuple[dict[str, str], bytes]:
    """What WeChat would send for ``event``."""
    return build_push(event, fmt, mode, TOKEN, appid, CIPHER, NOW, NONCE)


def sealed_push(inner: bytes | str) -> tuple[dict[str, str], bytes]:
    """A correctly signed safe JSON push whose ciphertext holds ``inner`` (bytes: raw, padded)."""
    if isinstance(inner, str):
        encrypt = CIPHER.encrypt(inner, APPID)
    else:
        key = aes_key(KEY)
        enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        encrypt = base64.b64encode(enc.update(inner) + enc.finalize()).decode()
    return signed_encrypt(encrypt)


def signed_encrypt(encrypt: Any) -> tuple[dict[str, str], bytes]:
    """A safe JSON push with this Encrypt value and a valid msg_signature over it."""
    query = {
        "timestamp": str(NOW),
        "nonce": NONCE,
        "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, str(NOW), NONCE, str(encrypt)),
    }
    return query, orjson.dumps({"ToUserName": "gh_1", "Encrypt": encrypt})


def check(query: dict[str, str], body: bytes, policy: PushPolicy = POLICY) -> Any:
    """verify_push at NOW."""
    return verify_push(PushQuery.from_mapping(query), body, policy, NOW)


@pytest.mark.parametrize("mode", list(PushMode))
@pytest.mark.parametrize("fmt", list(BodyFormat))
@settings(max_examples=25, deadline=None)
@given(event=face_events)
def test_build_then_verify_round_trips(mode: PushMode, fmt: BodyFormat, event: Any) -> None:
    """Whatever build_push sends in any mode and format, verify_push accepts and reads back."""
    query, body = build_push(event, fmt, mode, TOKEN, APPID, CIPHER, NOW, NONCE)
    policy = replace(POLICY, allow_plaintext=True)
    verified = verify_push(PushQuery.from_mapping(query), body, policy, NOW)
    assert (verified.event, verified.mode, verified.fmt) == (event, mode, fmt)


@pytest.mark.parametrize("fmt", list(BodyFormat))
@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(event=face_events)
def test_serialize_then_parse_round_trips(fmt: BodyFormat, event: FaceIdentifyEvent) -> None:
    """parse_event inverts serialize_event for any XML-legal text (``]]>`` and CR included)."""
    assert parse_event(serialize_event(event, fmt)) == event


@pytest.mark.parametrize("fmt", list(BodyFormat))
def test_generic_events_round_trip_with_their_extras(fmt: BodyFormat) -> None:
    """A debug event with string extras survives serialize → parse in both formats."""
    event = GenericEvent.model_validate(
        {"ToUserName": "gh", "CreateTime": 1, "MsgType": "event", "debug_str": "hi 中"}
    )
    assert parse_event(serialize_event(event, fmt)) == event


def test_safe_xml_body_has_only_to_user_name_and_encrypt() -> None:
    """Safe mode sends <xml><ToUserName/><Encrypt/></xml> and the six query parameters."""
    query, body = push(PushMode.SAFE, BodyFormat.XML)
    assert body.startswith(b"<xml><ToUserName><![CDATA[gh_81fxxxxxxxx]]></ToUserName><Encrypt>")
    assert b"verify_result" not in body
    assert set(query) == {"signature", "timestamp", "nonce", "openid", "encrypt_type"} | {
        "msg_signature"
    }
    assert query["openid"] == FACE.openid


def test_compatible_body_carries_plaintext_and_encrypt() -> None:
    """Compatible mode sends every plaintext field plus Encrypt in one document."""
    _, body = push(PushMode.COMPATIBLE)
    doc = orjson.loads(body)
    assert doc["out_seq_no"] == FACE.out_seq_no
    assert "Encrypt" in doc


def test_compatible_event_comes_from_the_ciphertext() -> None:
    """Tampering with the unauthenticated plaintext part of a compatible push has no effect."""
    query, body = push(PushMode.COMPATIBLE)
    doc = orjson.loads(body) | {"out_seq_no": "attacker1", "verify_result": "forged"}
    verified = check(query, orjson.dumps(doc))
    assert verified.event == FACE


def test_plaintext_is_accepted_without_an_aes_key() -> None:
    """With no EncodingAESKey configured, a signed plaintext push is accepted."""
    query, body = push(PushMode.PLAINTEXT, BodyFormat.XML)
    assert check(query, body, PLAIN_POLICY).event == FACE


def test_safe_push_without_url_signature_is_accepted() -> None:
    """msg_signature alone authenticates an encrypted push (the official sample omits signature)."""
    query, body = push()
    del query["signature"]
    assert check(query, body).event == FACE


def test_timestamp_skew_boundary_is_inclusive() -> None:
    """Exactly skew_s seconds either side is still accepted."""
    query, body = push()
    for now in (NOW - 300, NOW + 300):
        verify_push(PushQuery.from_mapping(query), body, POLICY, now)


def test_handshake_echoes_echostr_verbatim() -> None:
    """A signed GET returns echostr unchanged, even an empty one."""
    query = PushQuery(signature=sign(TOKEN, str(NOW), NONCE), timestamp=str(NOW), nonce=NONCE)
    assert verify_handshake(query, " 43751 2094 ", POLICY, NOW) == " 43751 2094 "
    assert verify_handshake(query, "", POLICY, NOW) == ""


@pytest.mark.parametrize(
    ("signature", "timestamp", "echostr", "error"),
    [
        (None, str(NOW), "1", SignatureError),
        ("0" * 40, str(NOW), "1", SignatureError),
        (sign(TOKEN, "1", NONCE), "1", "1", TimestampError),
        (sign(TOKEN, "x", NONCE), "x", "1", TimestampError),
        (sign(TOKEN, str(NOW), NONCE), str(NOW), None, AuthenticationError),
    ],
)
def test_handshake_refusals(
    signature: str | None, timestamp: str, echostr: str | None, error: type[Exception]
) -> None:
    """Missing or wrong signatures, stale or non-numeric timestamps and no echostr are refused."""
    query = PushQuery(signature=signature, timestamp=timestamp, nonce=NONCE)
    with pytest.raises(error):
        verify_handshake(query, echostr, POLICY, NOW)


def with_query(**changes: str | None) -> tuple[dict[str, str], bytes]:
    """A valid safe push with query parameters changed (None removes one)."""
    query, body = push(PushMode.COMPATIBLE)
    return changed(query, changes), body


def plain(**changes: str | None) -> tuple[dict[str, str], bytes]:
    """A valid plaintext JSON push with query parameters changed (None removes one)."""
    query, body = push(PushMode.PLAINTEXT)
    return changed(query, changes), body


def changed(query: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    """``query`` with ``changes`` applied; a None value removes the parameter."""
    merged: dict[str, str | None] = {**query, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def face_json(**changes: Any) -> str:
    """The FACE event as JSON with fields changed (None removes one)."""
    doc = {**FACE.model_dump(), **changes}
    return orjson.dumps({k: v for k, v in doc.items() if v is not None}).decode()


def raw_layout(msg: bytes, appid: bytes, pad: bytes) -> bytes:
    """random ‖ length ‖ msg ‖ appid ‖ pad, for hand-made corrupt plaintexts."""
    return b"r" * 16 + len(msg).to_bytes(4, "big") + msg + appid + pad


def case(
    name: str,
    sent: tuple[dict[str, str], bytes],
    error: type[PushError],
    policy: PushPolicy = POLICY,
) -> Any:
    """One hostile push: what is sent, the error it must raise, under which policy."""
    return pytest.param(*sent, error, policy, id=name)


ENTITY_XML = b'<!DOCTYPE xml [<!ENTITY e "x">]><xml><A>&e;</A></xml>'
BAD_PAD = raw_layout(b"m", APPID.encode(), b"\x00" * 25)
NOT_UTF8 = raw_layout(b"\xff", APPID.encode(), b"\x19" * 25)
PLAIN_QUERY, SAFE_QUERY = plain()[0], with_query()[0]

HOSTILE = [
    case("bad plaintext signature", plain(signature="0" * 40), SignatureError, PLAIN_POLICY),
    case("missing plaintext signature", plain(signature=None), SignatureError, PLAIN_POLICY),
    case("bad msg_signature", with_query(msg_signature="0" * 40), SignatureError),
    case("missing msg_signature", with_query(msg_signature=None), SignatureError),
    case("valid msg_signature, wrong signature", with_query(signature="f" * 40), SignatureError),
    case("stale timestamp", with_query(timestamp=str(NOW - 301)), TimestampError),
    case("future timestamp", with_query(timestamp=str(NOW + 301)), TimestampError),
    case("missing timestamp", with_query(timestamp=None), TimestampError),
    case("non-numeric timestamp", with_query(timestamp="17141l2445"), TimestampError),
    case("signed timestamp", with_query(timestamp="+1714112445"), TimestampError),
    case("non-ASCII digits", with_query(timestamp="١٧١٤١١٢٤٤٥"), TimestampError),
    case("huge timestamp", with_query(timestamp="9" * 400), TimestampError),
    case("wrong appid", push(appid="wx0000000000000000"), AppidMismatchError),
    case("bad base64", signed_encrypt("not*base64"), Base64Error),
    case("truncated base64", signed_encrypt(CIPHER.encrypt("x", APPID)[:-4]), Base64Error),
    case("empty Encrypt", signed_encrypt(""), Base64Error),
    case("Encrypt not a string", signed_encrypt(12345), FieldTypeError),
    case("bad padding", sealed_push(BAD_PAD), PaddingError),
    case("non-UTF-8 message", sealed_push(NOT_UTF8), PaddingError),
    case("garbage body", (PLAIN_QUERY, b"garbage"), MalformedPushError, PLAIN_POLICY),
    case("empty body", (PLAIN_QUERY, b""), MalformedPushError, PLAIN_POLICY),
    case("binary body", (PLAIN_QUERY, b"\x89PNG\r\n\x1a\n"), MalformedPushError, PLAIN_POLICY),
    case("XML entity", (PLAIN_QUERY, ENTITY_XML), MalformedPushError, PLAIN_POLICY),
    case("JSON array", (PLAIN_QUERY, b"[{}]"), MalformedPushError, PLAIN_POLICY),
    case("inner not a document", sealed_push("hello"), MalformedPushError),
    case("inner XML entity", sealed_push(ENTITY_XML.decode()), MalformedPushError),
    case("missing field", sealed_push(face_json(verify_result=None)), MissingFieldError),
    case("wrongly typed field", sealed_push(face_json(CreateTime="abc")), FieldTypeError),
    case("safe body missing Encrypt", (SAFE_QUERY, b'{"ToUserName":"gh_1"}'), MissingFieldError),
    case("plaintext refused", plain(), PlaintextRefusedError),
    case("encrypted without a key", push(), NoAesKeyError, PLAIN_POLICY),
]


@pytest.mark.parametrize(("query", "body", "error", "policy"), HOSTILE)
def test_hostile_pushes_map_to_their_specific_error(
    query: dict[str, str], body: bytes, error: type[PushError], policy: PushPolicy
) -> None:
    """Each class of hostile input raises its own PushError subclass (and so its HTTP status)."""
    with pytest.raises(PushError) as info:
        check(query, body, policy)
    assert type(info.value) is error


def test_signatures_are_checked_before_decryption() -> None:
    """A forged msg_signature over an undecryptable Encrypt is a signature error, not 400."""
    query, body = signed_encrypt("not*base64")
    query["msg_signature"] = "0" * 40
    with pytest.raises(SignatureError):
        check(query, body)


valid_query = st.sampled_from([push()[0], plain()[0], with_query(signature=None)[0]])


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(valid_query, st.binary(max_size=600))
def test_arbitrary_bodies_raise_only_push_errors(query: dict[str, str], body: bytes) -> None:
    """Random bytes as a body never escape as anything but a PushError."""
    for policy in (POLICY, PLAIN_POLICY, replace(POLICY, allow_plaintext=True)):
        with contextlib.suppress(PushError):
            check(query, body, policy)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)
documents = st.dictionaries(
    st.sampled_from([*FACE.model_dump(), "Encrypt", "__dict__", "model_config"]) | st.text(),
    json_values,
    max_size=10,
).map(lambda d: d if "Event" not in d or d["Event"] is None else {**d, "Event": "face_identify"})


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(documents, st.sampled_from(list(BodyFormat)))
def test_arbitrary_decrypted_messages_raise_only_push_errors(
    doc: dict[str, Any], fmt: BodyFormat
) -> None:
    """Any authenticated document (JSON, or XML when renderable) gives an event or a PushError."""
    try:
        inner = orjson.dumps(doc).decode() if fmt is BodyFormat.JSON else _xml(doc)
    except (ValueError, TypeError):
        return
    for query, body, policy in [
        (*sealed_push(inner), POLICY),
        (plain()[0], inner.encode(), PLAIN_POLICY),
    ]:
        with contextlib.suppress(PushError):
            check(query, body, policy)


def _xml(doc: dict[str, Any]) -> str:
    return render(doc, BodyFormat.XML)
