"""Table tests of the pure verdict: every reason code, and every way a reply can mislead."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import Any

import pytest

from shared.errors import WechatApiError, WechatErrorKind
from shared.vocabulary import Flow, Outcome, Reason
from shared.wechat.result import FaceInfo, VerifyInfo
from worker.verdict import (
    DeadLetter,
    Retry,
    Verdict,
    judge_error,
    judge_legacy,
    judge_session,
    judge_v2,
)

ID_X = "11010519491231002X"  # vector S2/S3: the final X is upper-case in WeChat's md5
NAME = "张三"
OTHER_NAME = "李四"
OPENID = "oRRn15NUibB-applicant"
USER_ID_KEY = "id_key_applicant"


def md5(text: str, encoding: str = "utf-8") -> str:
    """Lowercase hex md5 of ``text`` in ``encoding``."""
    return hashlib.md5(text.encode(encoding)).hexdigest()


class HmacMatcher:
    """A keyed-MAC matcher like the store's Protector (md5s are only kept as MACs)."""

    key = b"test-data-key"

    def mac(self, value: str) -> str:
        """The MAC the store would keep for ``value``."""
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    def matches(self, mac: str, value: str) -> bool:
        """Constant-time comparison of ``mac`` with the MAC of ``value``."""
        return hmac.compare_digest(mac, self.mac(value))


MATCHER = HmacMatcher()


@dataclass(frozen=True)
class Session:
    """What a legacy session registered (the verdict's view of the store's Session)."""

    flow: Flow = Flow.LEGACY
    openid: str | None = OPENID
    user_id_key: str | None = USER_ID_KEY
    id_md5_mac: str | None = MATCHER.mac(md5(ID_X))
    name_md5_mac: str | None = MATCHER.mac(md5(NAME))


SESSION = Session()


def reply(**changes: Any) -> FaceInfo:
    """A getinfo reply for the registered applicant, with ``changes`` applied."""
    fields: dict[str, Any] = {
        "errcode": 0,
        "errmsg": "ok",
        "identify_ret": 0,
        "identify_time": 1703657840,
        "validate_data": "8593",
        "openid": OPENID,
        "user_id_key": USER_ID_KEY,
        "finish_time": 1703657845,
        "id_card_number_md5": md5(ID_X),
        "name_utf8_md5": md5(NAME),
    }
    fields.update(changes)
    return FaceInfo.model_validate({k: v for k, v in fields.items() if v is not _MISSING})


_MISSING: Any = object()
VERIFIED = Verdict(Outcome.VERIFIED, None, 0)


def rejected(reason: Reason, code: int | None = 0) -> Verdict:
    """The rejection verdict for ``reason`` with WeChat's ``code``."""
    return Verdict(Outcome.REJECTED, reason, code)


LEGACY_TABLE: list[tuple[str, FaceInfo, Session, str | None, Verdict]] = [
    ("all checks pass", reply(), SESSION, OPENID, VERIFIED),
    ("not passed: 10003 ID mismatch", reply(identify_ret=10003), SESSION, OPENID,
     rejected(Reason.NOT_PASSED, 10003)),
    ("not passed: 10004 face mismatch", reply(identify_ret=10004), SESSION, OPENID,
     rejected(Reason.NOT_PASSED, 10004)),
    ("unknown identify_ret value", reply(identify_ret=987654), SESSION, OPENID,
     rejected(Reason.NOT_PASSED, 987654)),
    ("negative identify_ret", reply(identify_ret=-1), SESSION, OPENID,
     rejected(Reason.NOT_PASSED, -1)),
    ("not passed wins over mismatches", reply(identify_ret=90100, openid="o-other",
     name_utf8_md5=md5(OTHER_NAME)), SESSION, OPENID, rejected(Reason.NOT_PASSED, 90100)),
    ("ID md5 with a lower-case x is another digest",
     reply(id_card_number_md5=md5(ID_X.lower())), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("registered from a lower-case x, normalised to X",
     reply(), replace(SESSION, id_md5_mac=MATCHER.mac(md5(ID_X.lower().upper()))), OPENID,
     VERIFIED),
    ("upper-case hex md5 is the same digest",
     reply(id_card_number_md5=md5(ID_X).upper(), name_utf8_md5=md5(NAME).upper()), SESSION,
     OPENID, VERIFIED),
    ("another person's ID md5", reply(id_card_number_md5=md5("110101199003074477")), SESSION,
     OPENID, rejected(Reason.IDENTITY_MISMATCH)),
    ("another person's name md5", reply(name_utf8_md5=md5(OTHER_NAME)), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("name md5 over GBK bytes is not the UTF-8 md5", reply(name_utf8_md5=md5(NAME, "gbk")),
     SESSION, OPENID, rejected(Reason.IDENTITY_MISMATCH)),
    ("real-response name vector V9", reply(name_utf8_md5="ee075aef91ddd81394b6f68d7ff998cb"),
     replace(SESSION, name_md5_mac=MATCHER.mac(md5("曾浩"))), OPENID, VERIFIED),
    ("missing ID md5 in the reply", reply(id_card_number_md5=_MISSING), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("missing name md5 in the reply", reply(name_utf8_md5=""), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("session without an ID MAC", reply(), replace(SESSION, id_md5_mac=None), OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("session without a name MAC", reply(), replace(SESSION, name_md5_mac=None), OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("another user_id_key", reply(user_id_key="id_key_other"), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("missing user_id_key in the reply", reply(user_id_key=_MISSING), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("session without a user_id_key", reply(), replace(SESSION, user_id_key=None), OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("identity mismatch wins over openid mismatch",
     reply(name_utf8_md5=md5(OTHER_NAME), openid="o-other"), SESSION, OPENID,
     rejected(Reason.IDENTITY_MISMATCH)),
    ("WeChat's openid differs from push and session", reply(openid="o-other"), SESSION, OPENID,
     rejected(Reason.OPENID_MISMATCH)),
    ("push openid differs from WeChat's", reply(), SESSION, "o-pushed-other",
     rejected(Reason.OPENID_MISMATCH)),
    ("session openid differs from WeChat's", reply(), replace(SESSION, openid="o-registered"),
     OPENID, rejected(Reason.OPENID_MISMATCH)),
    ("missing openid in the reply", reply(openid=_MISSING), SESSION, OPENID,
     rejected(Reason.OPENID_MISMATCH)),
    ("result endpoint (no push openid) checks the session's", reply(), SESSION, None, VERIFIED),
    ("no push openid and none registered", reply(), replace(SESSION, openid=None), None,
     VERIFIED),
    ("no push openid, registered one differs", reply(openid="o-other"), SESSION, None,
     rejected(Reason.OPENID_MISMATCH)),
    ("extra unknown reply fields are ignored",
     reply(check_alive_type=4, future_field={"nested": [1, 2]}), SESSION, OPENID, VERIFIED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reply_", "session", "push_openid", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in LEGACY_TABLE],
)
def test_legacy_verdict(
    reply_: FaceInfo, session: Session, push_openid: str | None, expected: Verdict
) -> None:
    """Each getinfo answer against the registered session gives exactly the expected verdict."""
    assert judge_legacy(reply_, session, push_openid, MATCHER) == expected


def test_reply_without_identify_ret_is_not_a_pass() -> None:
    """A reply object with no identify_ret at all is never taken as a pass."""

    @dataclass(frozen=True)
    class Partial:
        identify_ret: int | None = None
        openid: str | None = OPENID
        user_id_key: str | None = USER_ID_KEY
        id_card_number_md5: str | None = md5(ID_X)
        name_utf8_md5: str | None = md5(NAME)

    assert judge_legacy(Partial(), SESSION, OPENID, MATCHER) == rejected(Reason.NOT_PASSED, None)


V2_TABLE = [
    ("10000 is the only pass", 10000, Verdict(Outcome.VERIFIED, None, 10000)),
    ("0 is the documentation's placeholder, not a pass", 0, rejected(Reason.NOT_PASSED, 0)),
    ("10003 ID mismatch", 10003, rejected(Reason.NOT_PASSED, 10003)),
    ("90002 user cancelled", 90002, rejected(Reason.NOT_PASSED, 90002)),
    ("unknown verify_ret", 77777, rejected(Reason.NOT_PASSED, 77777)),
    ("10300 not finished: ask again", 10300, Retry(10300, "in_progress")),
    ("10005 in progress: ask again", 10005, Retry(10005, "in_progress")),
]


@pytest.mark.parametrize(
    ("verify_ret", "expected"), [pytest.param(*r[1:], id=r[0]) for r in V2_TABLE]
)
def test_v2_verdict(verify_ret: int, expected: Verdict | Retry) -> None:
    """Each queryverifyinfo verify_ret gives the expected verdict or a request to ask again."""
    info = VerifyInfo.model_validate({"errcode": 0, "verify_ret": verify_ret, "extra": "x"})
    assert judge_v2(info) == expected


def test_v2_reply_without_verify_ret_is_not_a_pass() -> None:
    """A v2 reply object with no verify_ret is rejected, never verified."""

    @dataclass(frozen=True)
    class Partial:
        verify_ret: int | None = None

    assert judge_v2(Partial()) == rejected(Reason.NOT_PASSED, None)


K = WechatErrorKind
ERROR_TABLE = [
    ("84001 invalid credential", 84001, K.PERMANENT, rejected(Reason.CREDENTIAL_INVALID, 84001)),
    ("84002 expired credential", 84002, K.PERMANENT, rejected(Reason.CREDENTIAL_EXPIRED, 84002)),
    ("84003 credential not found", 84003, K.PERMANENT,
     rejected(Reason.CREDENTIAL_NOT_FOUND, 84003)),
    ("other permanent answer", 40097, K.PERMANENT, rejected(Reason.NOT_PASSED, 40097)),
    ("system busy", -1, K.TRANSIENT, Retry(-1, "transient")),
    ("timeout", -9001, K.TRANSIENT, Retry(-9001, "transient")),
    ("minute quota waits a minute", 45011, K.QUOTA, Retry(45011, "quota", 60.0)),
    ("token still rejected after the client's retry", 40001, K.TOKEN, Retry(40001, "token")),
    ("invalid appsecret", 40125, K.CONFIG, DeadLetter("wechat_config", 40125)),
    ("IP not whitelisted", 40164, K.CONFIG, DeadLetter("wechat_config", 40164)),
    ("API not authorised", 48001, K.CONFIG, DeadLetter("wechat_config", 48001)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("errcode", "kind", "expected"), [pytest.param(*r[1:], id=r[0]) for r in ERROR_TABLE]
)
def test_error_judgement(errcode: int, kind: WechatErrorKind, expected: object) -> None:
    """Each class of WeChat error is a verdict, a retry or a dead letter, as the contract says."""
    assert judge_error(WechatApiError(errcode, "msg", kind)) == expected


@pytest.mark.parametrize("flow", list(Flow))
def test_missing_session_is_unknown_session(flow: Flow) -> None:
    """No session for the out_seq_no → rejected / unknown_session, without asking WeChat."""
    assert judge_session(None, flow) == rejected(Reason.UNKNOWN_SESSION, None)


def test_session_of_another_flow_is_unknown_session() -> None:
    """A v2 message for a legacy session finds no session of its flow."""
    assert judge_session(SESSION, Flow.V2) == rejected(Reason.UNKNOWN_SESSION, None)
    assert judge_session(SESSION, Flow.LEGACY) is None


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_the_contract_outcome(reason: Reason) -> None:
    """A rejection verdict's outcome is the contract's mapping for its reason."""
    expected = {
        Reason.SESSION_EXPIRED: Outcome.EXPIRED,
        Reason.UPSTREAM_UNAVAILABLE: Outcome.FAILED,
    }.get(reason, Outcome.REJECTED)
    assert Verdict.reject(reason, 1).outcome is expected
