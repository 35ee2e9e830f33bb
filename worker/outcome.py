"""The outcome event: CloudEvents 1.0 structured JSON on ``{prefix}.identity``.

Pure. An event's ``id`` (= the AMQP ``message_id``) is derived from the appid, the out_seq_no
and the credential it decides, so every re-publication of the same decision — after a crash,
a redelivery, a replayed push — carries the same id and downstream can de-duplicate on it. The
credential itself never leaves: only a truncated SHA-256 over it does. ``time`` is the moment
of the decision as stored, so a re-publication is byte-for-byte the same event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.vocabulary import Flow, Outcome, Reason

SOURCE = "wxface"
TYPE_PREFIX = "wxface.identity."
CONTENT_TYPE = "application/json"
SESSION_EXPIRED_MARK = "\x00session_expired"  # stands in for a credential in sweep decisions
_ID_NAMESPACE = b"wxface.identity.v1"


class OutcomeEventError(ValueError):
    """A body that is not a wxface outcome event."""


def outcome_message_id(appid: str, out_seq_no: str, credential: str) -> str:
    """The deterministic message_id of the decision about ``credential`` for this session."""
    digest = hashlib.sha256(_ID_NAMESPACE)
    for part in (appid, out_seq_no, credential):
        digest.update(b"\x00" + part.encode())
    return digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class OutcomeEvent:
    """One decision, as downstream services receive it."""

    message_id: str
    appid: str
    out_seq_no: str
    openid: str | None
    flow: Flow
    outcome: Outcome
    reason: Reason | None
    wechat_code: int | None
    time: datetime

    @property
    def routing_key(self) -> str:
        """``identity.<outcome>`` on the identity topic exchange."""
        return f"identity.{self.outcome.value}"

    def encode(self) -> bytes:
        """The structured-mode CloudEvent body."""
        return orjson.dumps(
            {
                "specversion": "1.0",
                "id": self.message_id,
                "source": SOURCE,
                "type": TYPE_PREFIX + self.outcome.value,
                "subject": self.out_seq_no,
                "time": _rfc3339(self.time),
                "datacontenttype": CONTENT_TYPE,
                "data": {
                    "appid": self.appid,
                    "out_seq_no": self.out_seq_no,
                    "openid": self.openid,
                    "flow": self.flow.value,
                    "outcome": self.outcome.value,
                    "reason": None if self.reason is None else self.reason.value,
                    "wechat_code": self.wechat_code,
                },
            }
        )

    @classmethod
    def decode(cls, body: bytes) -> OutcomeEvent:
        """Parse an event body (tests, the demo and the DLQ tool read them back)."""
        try:
            doc: Any = orjson.loads(body)
            data = doc["data"]
            reason = data["reason"]
            return cls(
                message_id=_text(doc["id"]),
                appid=_text(data["appid"]),
                out_seq_no=_text(doc["subject"]),
                openid=None if data["openid"] is None else _text(data["openid"]),
                flow=Flow(data["flow"]),
                outcome=Outcome(data["outcome"]),
                reason=None if reason is None else Reason(reason),
                wechat_code=_code(data["wechat_code"]),
                time=datetime.fromisoformat(doc["time"]),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise OutcomeEventError(f"not an outcome event: {type(exc).__name__}") from exc


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("event time must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string")
    return value


def _code(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TypeError("wechat_code must be an integer or null")
