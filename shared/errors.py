"""The one error hierarchy of wxface.

Every failure the code can explain is one of these, with a stable machine-readable ``code``
(the ``error`` field of HTTP error bodies and a metric label) and, for refused pushes, the HTTP
status the receiver answers with. Messages never carry secrets or personal data.
"""

from __future__ import annotations

from enum import StrEnum


class WxfaceError(Exception):
    """Base of every error wxface raises on purpose."""

    code: str = "error"


class ConfigError(WxfaceError):
    """A setting is missing or malformed; the process cannot start."""

    code = "config_error"


# --- refused pushes ------------------------------------------------------------------------


class PushError(WxfaceError):
    """A push from WeChat (or someone pretending to be WeChat) that must not be accepted."""

    code = "bad_push"
    http_status: int = 400


class AuthenticationError(PushError):
    """The push is not provably from WeChat: answer 401."""

    code = "unauthenticated"
    http_status = 401


class SignatureError(AuthenticationError):
    """``signature`` or ``msg_signature`` is missing or does not verify."""

    code = "bad_signature"


class TimestampError(AuthenticationError):
    """``timestamp`` is missing, not a number, or outside the allowed skew."""

    code = "bad_timestamp"


class AppidMismatchError(AuthenticationError):
    """The appid inside the decrypted push is not ours."""

    code = "wrong_appid"


class PlaintextRefusedError(AuthenticationError):
    """A plaintext push arrived although an EncodingAESKey is configured."""

    code = "plaintext_refused"


class ReplayError(AuthenticationError):
    """Signature parameters already seen with a different body."""

    code = "signature_reused"


class MalformedPushError(PushError):
    """The body cannot be read as a WeChat push: answer 400."""

    code = "malformed_body"


class Base64Error(MalformedPushError):
    """``Encrypt`` is not valid base64, or not a whole number of AES blocks."""

    code = "bad_base64"


class PaddingError(MalformedPushError):
    """The decrypted plaintext has invalid PKCS#7 (block 32) padding or a bad length prefix."""

    code = "bad_padding"


class NoAesKeyError(MalformedPushError):
    """An encrypted push arrived but no EncodingAESKey is configured: answer 400 and alert."""

    code = "no_aes_key"


class MissingFieldError(MalformedPushError):
    """A field the event needs is absent."""

    code = "missing_field"


class FieldTypeError(MalformedPushError):
    """A field is present but of the wrong type or shape."""

    code = "invalid_field"


class BodyTooLargeError(PushError):
    """The body exceeds the configured limit: answer 413."""

    code = "body_too_large"
    http_status = 413


class NotDurableError(PushError):
    """The push could not be stored durably (broker down and spool full/unwritable): 503."""

    code = "not_durable"
    http_status = 503


# --- state store ---------------------------------------------------------------------------


class StoreError(WxfaceError):
    """The state store refused or failed an operation."""

    code = "store_error"


class SessionExistsError(StoreError):
    """A session with this ``out_seq_no`` already exists (the business API answers 409)."""

    code = "session_exists"


class StoreUnavailableError(StoreError):
    """The database cannot be reached or is locked beyond the busy timeout: retry later."""

    code = "store_unavailable"


class SealedValueError(StoreError):
    """A sealed value does not open under the data key (tampered, or another key)."""

    code = "unseal_failed"


# --- business API --------------------------------------------------------------------------


class ApiError(WxfaceError):
    """A business API request that is refused; ``http_status`` is the answer's status."""

    code = "bad_request"
    http_status: int = 400


class UnauthorizedError(ApiError):
    """The bearer key is missing or not one of ``WXFACE_API_KEYS``: answer 401."""

    code = "unauthorized"
    http_status = 401


class MalformedRequestError(ApiError):
    """The body is not a JSON object: answer 400."""

    code = "malformed_json"


class InvalidRequestError(ApiError):
    """The body or a path parameter fails validation: answer 422 (messages name fields only)."""

    code = "invalid_request"
    http_status = 422


class UnknownVerificationError(ApiError):
    """No session has this ``out_seq_no``: answer 404."""

    code = "not_found"
    http_status = 404


class VerificationExistsError(ApiError):
    """The ``out_seq_no`` is taken (or being registered right now): answer 409."""

    code = "session_exists"
    http_status = 409


class UpstreamRefusedError(ApiError):
    """WeChat refused (or could not be asked) to register the applicant: answer 502."""

    code = "wechat_refused"
    http_status = 502

    def __init__(self, message: str, errcode: int) -> None:
        super().__init__(message)
        self.errcode = errcode


class ApiUnavailableError(ApiError):
    """The store or the durable intake cannot serve right now: answer 503."""

    code = "unavailable"
    http_status = 503


# --- messaging and local durability ---------------------------------------------------------


class WorkItemError(WxfaceError):
    """Bytes that are not a readable work item (the worker dead-letters them)."""

    code = "bad_work_item"


class PublishError(WxfaceError):
    """A message was not confirmed by RabbitMQ (unreachable, nacked, unroutable, timed out)."""

    code = "publish_failed"


class SpoolError(WxfaceError):
    """The local spool cannot take a record durably (full, not writable, fsync failed)."""

    code = "spool_unavailable"


# --- WeChat API answers --------------------------------------------------------------------


class WechatErrorKind(StrEnum):
    """What a caller should do about a WeChat API error (see ``shared.wechat.errcode``)."""

    TOKEN = "token"  # the access_token was rejected: refresh it and retry once, now
    TRANSIENT = "transient"  # busy, timeout, 5xx, "not finished": retry later with back-off
    QUOTA = "quota"  # minute quota: back off at least a minute; daily quota: alert
    PERMANENT = "permanent"  # a final answer about this credential (84001/84002/84003 …)
    CONFIG = "config"  # our appid/secret/IP/permissions are wrong: no verdict, alert


class WechatApiError(WxfaceError):
    """WeChat answered with a non-zero errcode, or could not be reached.

    ``errcode`` is WeChat's code, or a negative local code for transport failures
    (see ``shared.wechat.errcode``). ``errmsg`` is WeChat's text, never our request.
    """

    code = "wechat_error"

    def __init__(self, errcode: int, errmsg: str, kind: WechatErrorKind) -> None:
        super().__init__(f"WeChat errcode {errcode} ({kind.value}): {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.kind = kind
