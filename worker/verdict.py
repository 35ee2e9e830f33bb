"""The verdict: given the registered session, the work item and WeChat's answer, what happened?

Pure: no I/O, no clock, no aio-pika. The consumer gathers the inputs, calls one of the
``judge_*`` functions and acts on the :data:`Judgement` it returns:

- :class:`Verdict` — a final word about this credential (publish it, exactly once);
- :class:`Retry` — WeChat could not answer yet (transient failure, quota, "not finished"): ask
  again later, inside the credential's life (``worker.retry`` picks when);
- :class:`DeadLetter` — no verdict about a person: our own configuration is wrong.

Legacy checks run in a fixed order and the first failure names the reason: ``identify_ret`` ≠ 0
→ ``not_passed``; ``user_id_key`` or either md5 differing from the registered applicant →
``identity_mismatch``; WeChat's openid differing from the push's or the session's →
``openid_mismatch``. Anything missing counts as differing: ``verified`` is only ever the result
of every check passing. ``wechat_code`` is the code WeChat returned that the verdict rests on
(``identify_ret`` / ``verify_ret`` / ``errcode``), ``None`` when WeChat was not asked.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from shared.errors import WechatApiError, WechatErrorKind
from shared.vocabulary import Flow, Outcome, Reason
from shared.wechat.errcode import is_in_progress_verify_ret

LEGACY_PASS = 0  # getinfo identify_ret of a passed verification
V2_PASS = 10000  # queryverifyinfo verify_ret of a passed verification
MINUTE_QUOTA_DELAY_S = 60.0  # 45011: "retry next minute"

_PERMANENT_REASONS = {
    84001: Reason.CREDENTIAL_INVALID,
    84002: Reason.CREDENTIAL_EXPIRED,
    84003: Reason.CREDENTIAL_NOT_FOUND,
}


class LegacyReply(Protocol):
    """What the verdict reads from a ``getinfo`` answer (errcode 0)."""

    @property
    def identify_ret(self) -> int | None: ...
    @property
    def openid(self) -> str | None: ...
    @property
    def user_id_key(self) -> str | None: ...
    @property
    def id_card_number_md5(self) -> str | None: ...
    @property
    def name_utf8_md5(self) -> str | None: ...


class V2Reply(Protocol):
    """What the verdict reads from a ``queryverifyinfo`` answer (errcode 0)."""

    @property
    def verify_ret(self) -> int | None: ...


class Registered(Protocol):
    """What the session registered about the applicant (md5s only as keyed MACs)."""

    @property
    def flow(self) -> Flow: ...
    @property
    def openid(self) -> str | None: ...
    @property
    def user_id_key(self) -> str | None: ...
    @property
    def id_md5_mac(self) -> str | None: ...
    @property
    def name_md5_mac(self) -> str | None: ...


class MacMatcher(Protocol):
    """Constant-time check that a stored MAC was made from ``value`` (the store's Protector)."""

    def matches(self, mac: str, value: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """A final word about one credential."""

    outcome: Outcome
    reason: Reason | None
    wechat_code: int | None

    @classmethod
    def reject(cls, reason: Reason, wechat_code: int | None = None) -> Verdict:
        """The verdict for ``reason`` (its outcome is the contract's mapping)."""
        return cls(reason.outcome, reason, wechat_code)


@dataclass(frozen=True, slots=True)
class Retry:
    """Not a verdict: ask WeChat again later, no sooner than ``min_delay_s``."""

    wechat_code: int | None
    cause: str  # metric label: transient, quota, token, in_progress
    min_delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Not a verdict about a person: a configuration error or an unreadable message."""

    cause: str
    wechat_code: int | None = None


Judgement = Verdict | Retry | DeadLetter


def judge_session(session: Registered | None, flow: Flow) -> Verdict | None:
    """``unknown_session`` when there is no session of this flow for the out_seq_no, else None."""
    if session is None or session.flow is not flow:
        return Verdict.reject(Reason.UNKNOWN_SESSION)
    return None


def judge_legacy(
    reply: LegacyReply, session: Registered, push_openid: str | None, matcher: MacMatcher
) -> Verdict:
    """The verdict on a ``getinfo`` answer for this session and push."""
    code = reply.identify_ret
    if code != LEGACY_PASS:
        return Verdict.reject(Reason.NOT_PASSED, code)
    if not _same_applicant(reply, session, matcher):
        return Verdict.reject(Reason.IDENTITY_MISMATCH, code)
    if not _same_openid(reply.openid, push_openid, session.openid):
        return Verdict.reject(Reason.OPENID_MISMATCH, code)
    return Verdict(Outcome.VERIFIED, None, code)


def judge_v2(reply: V2Reply) -> Verdict | Retry:
    """The verdict on a ``queryverifyinfo`` answer; "not finished yet" codes ask again."""
    code = reply.verify_ret
    if code == V2_PASS:
        return Verdict(Outcome.VERIFIED, None, code)
    if code is not None and is_in_progress_verify_ret(code):
        return Retry(code, "in_progress")
    return Verdict.reject(Reason.NOT_PASSED, code)


def judge_error(exc: WechatApiError) -> Judgement:
    """What a classified WeChat API error means for this credential."""
    kind = exc.kind
    if kind is WechatErrorKind.PERMANENT:
        return Verdict.reject(_PERMANENT_REASONS.get(exc.errcode, Reason.NOT_PASSED), exc.errcode)
    if kind is WechatErrorKind.CONFIG:
        return DeadLetter("wechat_config", exc.errcode)
    if kind is WechatErrorKind.QUOTA:
        return Retry(exc.errcode, "quota", MINUTE_QUOTA_DELAY_S)
    # TOKEN here means the client's own refresh-and-retry-once already failed: ask again later
    return Retry(exc.errcode, "token" if kind is WechatErrorKind.TOKEN else "transient")


def _same_applicant(reply: LegacyReply, session: Registered, matcher: MacMatcher) -> bool:
    return (
        _equal(reply.user_id_key, session.user_id_key)
        and _mac_matches(matcher, session.id_md5_mac, reply.id_card_number_md5)
        and _mac_matches(matcher, session.name_md5_mac, reply.name_utf8_md5)
    )


def _same_openid(replied: str | None, pushed: str | None, registered: str | None) -> bool:
    if not replied:
        return False
    if pushed is not None and not _equal(replied, pushed):
        return False
    return registered is None or _equal(replied, registered)


def _mac_matches(matcher: MacMatcher, mac: str | None, md5_hex: str | None) -> bool:
    # WeChat documents lowercase hex; accept upper case, which is the same digest
    return bool(mac) and bool(md5_hex) and matcher.matches(mac or "", (md5_hex or "").lower())


def _equal(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest((a or "").encode(), (b or "").encode())
