"""Classification of WeChat API replies: what a caller should do about each ``errcode``.

Pure: :func:`classify` maps an errcode to a :class:`~shared.errors.WechatErrorKind` (``None``
for 0), :func:`api_error` builds the :class:`~shared.errors.WechatApiError` to raise. Transport
failures have no WeChat errcode, so they get the negative local codes below (chosen far from
WeChat's ``-1`` and from the WXBizMsgCrypt sample's ``-40001…-40011``); all are TRANSIENT
except a non-5xx unexpected HTTP status, which means a wrong base URL (CONFIG).

Unknown non-zero codes are TRANSIENT: the conservative reading is "no verdict yet". A
PERMANENT guess could reject a genuine applicant on an unfamiliar busy/limit code; a CONFIG
guess would dead-letter work that may succeed on retry. TRANSIENT retries with back-off until
the credential's life runs out and the verification ends as ``failed`` (upstream_unavailable),
which never passes nor rejects anyone on a code we do not understand.

v2 ``verify_ret`` "not finished" values (10300, 10005) are not errcodes; the worker asks
again for those (:func:`is_in_progress_verify_ret`).
"""

from __future__ import annotations

from types import MappingProxyType

from shared.errors import WechatApiError, WechatErrorKind

OK = 0
SYSTEM_BUSY = -1
INVALID_CREDENTIAL = 40001  # token invalid or not latest (a newer fetch replaced it)
INVALID_ACCESS_TOKEN = 40014
ACCESS_TOKEN_EXPIRED = 42001
INVALID_APPID = 40013
INVALID_APPSECRET = 40125
INVALID_ARGS = 40097
MINUTE_QUOTA = 45011
DAILY_QUOTA = 45009
INVALID_IDENTIFY_ID = 84001  # getinfo: unknown verify_result
IDENTIFY_EXPIRED = 84002  # getinfo: verify_result expired (~5 minutes)
IDENTIFY_NOT_FOUND = 84003  # getinfo: user information does not exist

# local codes for failures that never reached a WeChat reply
TRANSPORT_TIMEOUT = -9001  # no complete reply within the timeout
TRANSPORT_CONNECTION = -9002  # DNS, connect, reset, TLS, malformed reply: HttpError
TRANSPORT_SERVER_ERROR = -9003  # HTTP 5xx or 429 from the API gateway
TRANSPORT_BAD_BODY = -9004  # body is not JSON, not an object, or lacks the expected fields
TRANSPORT_UNEXPECTED_STATUS = -9005  # any other non-200 status (404…): wrong base URL

IN_PROGRESS_VERIFY_RETS = frozenset({10300, 10005})  # 未完成核身, 正在检测中

_T = WechatErrorKind
_KINDS = MappingProxyType(
    {
        SYSTEM_BUSY: _T.TRANSIENT,
        TRANSPORT_TIMEOUT: _T.TRANSIENT,
        TRANSPORT_CONNECTION: _T.TRANSIENT,
        TRANSPORT_SERVER_ERROR: _T.TRANSIENT,
        TRANSPORT_BAD_BODY: _T.TRANSIENT,
        TRANSPORT_UNEXPECTED_STATUS: _T.CONFIG,
        INVALID_CREDENTIAL: _T.TOKEN,
        INVALID_ACCESS_TOKEN: _T.TOKEN,
        ACCESS_TOKEN_EXPIRED: _T.TOKEN,
        MINUTE_QUOTA: _T.QUOTA,
        DAILY_QUOTA: _T.QUOTA,
        INVALID_IDENTIFY_ID: _T.PERMANENT,
        IDENTIFY_EXPIRED: _T.PERMANENT,
        IDENTIFY_NOT_FOUND: _T.PERMANENT,
        40003: _T.PERMANENT,  # invalid openid: a fact about this applicant's request
        INVALID_ARGS: _T.PERMANENT,  # invalid args (also the stand-in's cert_hash/openid mismatch)
        INVALID_APPID: _T.CONFIG,
        INVALID_APPSECRET: _T.CONFIG,
        40002: _T.CONFIG,  # invalid grant_type: our bug
        40164: _T.CONFIG,  # caller IP not in the whitelist
        40243: _T.CONFIG,  # AppSecret frozen
        89503: _T.CONFIG,  # risky IP, an admin must confirm
        61004: _T.CONFIG,  # client IP not registered
        41001: _T.CONFIG,  # access_token missing: our bug
        41002: _T.CONFIG,  # appid missing
        41004: _T.CONFIG,  # secret missing
        44002: _T.CONFIG,  # empty POST body: our bug
        47001: _T.CONFIG,  # body is not the JSON WeChat expects: our bug
        48001: _T.CONFIG,  # api unauthorized: face verification not enabled for this appid
        50001: _T.CONFIG,  # user/app not authorised for this api
        50002: _T.CONFIG,  # api restricted (account blocked)
    }
)


def classify(errcode: int) -> WechatErrorKind | None:
    """What to do about ``errcode``: ``None`` for success, TRANSIENT for unknown codes."""
    if errcode == OK:
        return None
    return _KINDS.get(errcode, WechatErrorKind.TRANSIENT)


def api_error(errcode: int, errmsg: str) -> WechatApiError:
    """The classified error for a non-zero ``errcode`` (a zero errcode is a caller bug)."""
    kind = classify(errcode)
    if kind is None:
        raise ValueError("errcode 0 is not an error")
    return WechatApiError(errcode, errmsg, kind)


def is_daily_quota(errcode: int) -> bool:
    """True for the daily quota (45009): retrying today is pointless, alert an operator."""
    return errcode == DAILY_QUOTA


def is_in_progress_verify_ret(code: int) -> bool:
    """True for v2 ``verify_ret`` values meaning "not finished yet" (ask again, no verdict)."""
    return code in IN_PROGRESS_VERIFY_RETS
