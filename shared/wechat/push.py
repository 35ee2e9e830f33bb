"""Message push: query + body → a verified event, and the reverse for the stand-in.

Pure: no I/O, the clock is passed in. ``verify_push`` is the receiver's whole check of a POST
(docs/wechat-api.md §1.3–1.5): fresh timestamp, body format and mode, signatures (before any
decryption), policy, decryption with the appid check, and the event model. Every failure is a
``PushError``. ``build_push`` produces what WeChat would send, in any mode and format.

Decisions the documentation leaves open: when both ``signature`` and ``msg_signature`` are
present both must verify; a query announcing encryption (``encrypt_type=aes`` or a
``msg_signature``) with no ``Encrypt`` in the body is a missing field; an encrypted push while no
EncodingAESKey is configured is ``NoAesKeyError`` (400, after the signatures verified), because
reading the unauthenticated plaintext half of a compatible push would defeat the encryption.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from shared.errors import (
    AuthenticationError,
    FieldTypeError,
    MissingFieldError,
    NoAesKeyError,
    PlaintextRefusedError,
    TimestampError,
)
from shared.wechat import document
from shared.wechat.crypto import AesCipher
from shared.wechat.document import BodyFormat
from shared.wechat.event import FaceIdentifyEvent, GenericEvent, PushEvent, build_event
from shared.wechat.signature import sign, verify

__all__ = [
    "BodyFormat",
    "PushMode",
    "PushPolicy",
    "PushQuery",
    "VerifiedPush",
    "build_push",
    "parse_event",
    "serialize_event",
    "verify_handshake",
    "verify_push",
]

_SAFE_KEYS = frozenset({"ToUserName", "Encrypt"})
_MAX_TIMESTAMP_DIGITS = 12


class PushMode(StrEnum):
    """Message encryption mode (消息加解密方式)."""

    PLAINTEXT = "plaintext"
    COMPATIBLE = "compatible"
    SAFE = "safe"


@dataclass(frozen=True)
class PushQuery:
    """The query parameters WeChat puts on a push or handshake URL."""

    signature: str | None = None
    timestamp: str | None = None
    nonce: str | None = None
    openid: str | None = None
    encrypt_type: str | None = None
    msg_signature: str | None = None

    @classmethod
    def from_mapping(cls, m: Mapping[str, str]) -> PushQuery:
        """Pick the known parameters out of a request's query mapping."""
        return cls(
            signature=m.get("signature"),
            timestamp=m.get("timestamp"),
            nonce=m.get("nonce"),
            openid=m.get("openid"),
            encrypt_type=m.get("encrypt_type"),
            msg_signature=m.get("msg_signature"),
        )


@dataclass(frozen=True)
class PushPolicy:
    """What the receiver accepts: our Token and appid, the AES key if any, the allowed skew."""

    token: str
    appid: str
    cipher: AesCipher | None
    allow_plaintext: bool = False
    skew_s: int = 300


@dataclass(frozen=True)
class VerifiedPush:
    """An authenticated, decrypted, validated push."""

    event: PushEvent
    mode: PushMode
    fmt: BodyFormat


def verify_handshake(query: PushQuery, echostr: str | None, policy: PushPolicy, now: float) -> str:
    """The GET URL-verification handshake: ``echostr`` verbatim if the signature verifies."""
    timestamp = _fresh_timestamp(query.timestamp, now, policy.skew_s)
    verify(query.signature, policy.token, timestamp, query.nonce or "")
    if echostr is None:
        raise AuthenticationError("handshake without echostr")
    return echostr


def verify_push(query: PushQuery, body: bytes, policy: PushPolicy, now: float) -> VerifiedPush:
    """Authenticate and read one POSTed push; raises a ``PushError`` subclass on any failure."""
    timestamp = _fresh_timestamp(query.timestamp, now, policy.skew_s)
    nonce = query.nonce or ""
    fmt, outer = document.parse(body)
    encrypt = outer.get("Encrypt")
    if encrypt is None:
        return _verify_plaintext(query, outer, fmt, policy, timestamp)
    if not isinstance(encrypt, str):
        raise FieldTypeError("invalid field Encrypt")
    verify(query.msg_signature, policy.token, timestamp, nonce, encrypt, name="msg_signature")
    if query.signature is not None:
        verify(query.signature, policy.token, timestamp, nonce)
    if policy.cipher is None:
        raise NoAesKeyError("encrypted push but no EncodingAESKey is configured")
    mode = PushMode.SAFE if outer.keys() <= _SAFE_KEYS else PushMode.COMPATIBLE
    # the event comes from the authenticated ciphertext only, never from compatible-mode plaintext
    inner = policy.cipher.decrypt(encrypt, policy.appid)
    return VerifiedPush(event=parse_event(inner), mode=mode, fmt=fmt)


def _verify_plaintext(
    query: PushQuery,
    fields: dict[str, object],
    fmt: BodyFormat,
    policy: PushPolicy,
    timestamp: str,
) -> VerifiedPush:
    if query.encrypt_type == "aes" or query.msg_signature is not None:
        raise MissingFieldError("missing field Encrypt")
    if policy.cipher is not None and not policy.allow_plaintext:
        raise PlaintextRefusedError("plaintext push refused: an EncodingAESKey is configured")
    verify(query.signature, policy.token, timestamp, query.nonce or "")
    return VerifiedPush(event=build_event(fields), mode=PushMode.PLAINTEXT, fmt=fmt)


def _fresh_timestamp(timestamp: str | None, now: float, skew_s: int) -> str:
    """``timestamp`` as sent, after checking it is a decimal within ``skew_s`` of ``now``."""
    if not timestamp:
        raise TimestampError("timestamp missing")
    # isdigit alone admits non-ASCII digits, which int() would also accept
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise TimestampError("timestamp is not a decimal number of seconds")
    if abs(int(timestamp) - now) > skew_s:
        raise TimestampError("timestamp outside the allowed skew")
    return timestamp


def serialize_event(event: PushEvent, fmt: BodyFormat) -> str:
    """The event as WeChat sends it: compact JSON, or ``<xml>`` with CDATA strings, bare ints."""
    return document.render(_fields(event), fmt)


def parse_event(text: str) -> PushEvent:
    """Inverse of ``serialize_event`` (format sniffed); raises ``MalformedPushError`` subclasses."""
    _, fields = document.parse(text.encode("utf-8", "surrogatepass"))
    return build_event(fields)


def _fields(event: PushEvent) -> dict[str, object]:
    fields = event.model_dump(mode="json")
    if isinstance(event, GenericEvent):  # absent optional header fields stay absent
        fields = {k: v for k, v in fields.items() if v is not None}
    return fields


def build_push(
    event: PushEvent,
    fmt: BodyFormat,
    mode: PushMode,
    token: str,
    appid: str,
    cipher: AesCipher | None,
    timestamp: int,
    nonce: str,
    openid: str | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query parameters and body WeChat would send for ``event`` (stand-in and tests)."""
    ts = str(timestamp)
    query = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce}
    fields = _fields(event)
    if mode is PushMode.PLAINTEXT:
        return query, document.render(fields, fmt).encode("utf-8")
    if cipher is None:
        raise ValueError(f"{mode} mode needs an AesCipher")
    encrypt = cipher.encrypt(document.render(fields, fmt), appid)
    outer: dict[str, object] = {"ToUserName": event.ToUserName}
    if mode is PushMode.COMPATIBLE:
        outer = dict(fields)
    outer["Encrypt"] = encrypt
    query |= {
        "openid": openid or _openid(event),
        "encrypt_type": "aes",
        "msg_signature": sign(token, ts, nonce, encrypt),
    }
    return query, document.render(outer, fmt).encode("utf-8")


def _openid(event: PushEvent) -> str:
    if isinstance(event, FaceIdentifyEvent):
        return event.openid
    return event.FromUserName or ""
