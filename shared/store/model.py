"""What the state store holds: sessions and decisions, as frozen dataclasses.

No field is a name or an ID number. A :class:`NewSession` carries md5s and the ``cert_hash`` as
the caller computed them; the stored :class:`Session` has only their protected forms
(``*_mac``: HMAC under the data key; ``cert_hash_sealed``: AES-GCM under the data key).
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.vocabulary import Flow, Outcome, Reason, Status

_MD5_RE = re.compile(r"[0-9a-fA-F]{32}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default store clock)."""
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is a programming error."""
    if moment.tzinfo is UTC:  # what the store reads back and the clocks give: already so
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes given to the store must be timezone-aware")
    return moment.astimezone(UTC)


def _check_md5(label: str, value: str | None) -> None:
    if value is not None and not _MD5_RE.fullmatch(value):
        raise ValueError(f"{label} must be 32 hex characters")


@dataclass(frozen=True, slots=True)
class NewSession:
    """A verification session as the business API registers it.

    ``id_card_md5``/``name_md5`` are md5 hex digests (any case; the store lower-cases them
    before protecting them); ``cert_hash`` is the v2 cert_hash in the clear (the store seals it).
    """

    out_seq_no: str
    flow: Flow
    expires_at: datetime
    openid: str | None = None
    id_card_md5: str | None = None
    name_md5: str | None = None
    cert_hash: str | None = None
    user_id_key: str | None = None
    verify_id: str | None = None

    def __post_init__(self) -> None:
        """Refuse an empty ``out_seq_no``, malformed md5s and naive datetimes; store UTC."""
        if not self.out_seq_no:
            raise ValueError("out_seq_no must not be empty")
        _check_md5("id_card_md5", self.id_card_md5)
        _check_md5("name_md5", self.name_md5)
        object.__setattr__(self, "expires_at", utc(self.expires_at))


@dataclass(frozen=True, slots=True)
class Session:
    """A stored verification session.

    Compare md5s with ``store.protector.matches(session.id_md5_mac, md5.lower())``; recover
    the cert_hash with ``store.protector.unseal(session.cert_hash_sealed)``.
    """

    out_seq_no: str
    flow: Flow
    status: Status
    reason: Reason | None
    wechat_code: int | None
    openid: str | None
    id_md5_mac: str | None
    name_md5_mac: str | None
    cert_hash_sealed: str | None
    user_id_key: str | None
    verify_id: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision about a session, as recorded in the append-only decision log.

    ``credential`` is the ledger key, ``store.protector.credential_hash(verify_result or
    verify_id)``; ``None`` for decisions not tied to a credential (expiry, credential reuse).
    ``message_id`` is the id of the outcome event, and identifies this decision.
    """

    out_seq_no: str
    credential: str | None
    outcome: Outcome
    reason: Reason | None
    wechat_code: int | None
    message_id: str
    decided_at: datetime
    decided_by: str

    def __post_init__(self) -> None:
        """Hold the contract's outcome/reason pairing: verified has no reason, others have one."""
        if (self.outcome is Outcome.VERIFIED) != (self.reason is None):
            raise ValueError("a reason is required exactly when the outcome is not verified")
        if self.reason is not None and self.reason.outcome is not self.outcome:
            raise ValueError(f"reason {self.reason} implies outcome {self.reason.outcome}")
        object.__setattr__(self, "decided_at", utc(self.decided_at))


@dataclass(frozen=True, slots=True)
class Decided:
    """What :meth:`Store.decide` did.

    ``decision`` is the decision as stored: the caller's own when ``new``, otherwise the one
    recorded earlier for the same credential (or message_id), to be re-published unchanged.
    ``reused`` is true when that earlier decision belongs to another session: the credential
    was already spent there. ``status`` is the session's status after the call (``None``: no
    such session).
    """

    decision: Decision
    new: bool
    reused: bool
    status: Status | None


@dataclass(frozen=True, slots=True)
class UnpublishedExpiry:
    """An expiry decision whose event the broker has not confirmed yet: an expiry-outbox entry.

    It holds what the ``session_expired`` event is built from, as it was when the session was
    claimed (``decided_at`` is the decision's time), so that every publication of it — the
    first and any after a crash — is the same event byte for byte.
    """

    message_id: str
    out_seq_no: str
    flow: Flow
    openid: str | None
    decided_at: datetime

    def __post_init__(self) -> None:
        """Store the decision time in UTC (a naive datetime is refused)."""
        object.__setattr__(self, "decided_at", utc(self.decided_at))
