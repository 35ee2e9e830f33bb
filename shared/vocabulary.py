"""The contract's vocabulary: flows, session statuses, outcomes and reason codes.

The values are the wire strings of ``CONTRACT.md`` (HTTP bodies, event payloads, routing keys,
stored rows), so these enums are the single place they are spelled.
"""

from __future__ import annotations

from enum import StrEnum


class Flow(StrEnum):
    """Which WeChat API generation a verification uses."""

    LEGACY = "legacy"  # getuseridkey → face_identify push → getinfo
    V2 = "v2"  # getverifyid → wx.requestFacialVerify → queryverifyinfo


class Status(StrEnum):
    """A verification session's status, as the business API reports it."""

    PENDING = "pending"
    QUEUED = "queued"
    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True once a decision has been made."""
        return self not in (Status.PENDING, Status.QUEUED)


class Outcome(StrEnum):
    """The outcome of an identity event (routing key ``identity.<outcome>``)."""

    VERIFIED = "verified"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"

    @property
    def status(self) -> Status:
        """The session status this outcome leaves behind."""
        return Status(self.value)


class Reason(StrEnum):
    """Why an outcome is not ``verified`` (contract reason codes)."""

    NOT_PASSED = "not_passed"
    IDENTITY_MISMATCH = "identity_mismatch"
    OPENID_MISMATCH = "openid_mismatch"
    CREDENTIAL_INVALID = "credential_invalid"
    CREDENTIAL_EXPIRED = "credential_expired"
    CREDENTIAL_NOT_FOUND = "credential_not_found"
    CREDENTIAL_REUSED = "credential_reused"
    UNKNOWN_SESSION = "unknown_session"
    SESSION_EXPIRED = "session_expired"
    UPSTREAM_UNAVAILABLE = "upstream_unavailable"

    @property
    def outcome(self) -> Outcome:
        """The contract's mapping: expired / failed for two reasons, rejected otherwise."""
        if self is Reason.SESSION_EXPIRED:
            return Outcome.EXPIRED
        if self is Reason.UPSTREAM_UNAVAILABLE:
            return Outcome.FAILED
        return Outcome.REJECTED
