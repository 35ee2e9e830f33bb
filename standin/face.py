"""The four face-verification endpoints' rules, and the user's side ("complete a verification").

Replies are WeChat-shaped dicts (``errcode``/``errmsg`` plus fields). Legacy: getuseridkey
registers an applicant (md5s only), :meth:`FaceApi.complete_legacy` mints a verify_result
bound to it, getinfo answers 84001 (unknown), 84002 (older than ``verify_result_ttl_s``) or
84003 (applicant forgotten). v2: getverifyid registers (cert_hash, openid),
:meth:`FaceApi.complete_v2` marks it done, queryverifyinfo checks out_seq_no, cert_hash and
openid (40097 on a mismatch: WeChat documents an errcode but not which) and answers 10300
until done. Scripts (``scenario.py``) bend the confirmation calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Mapping

from shared.wechat.applicant import IDENTITY_CARD, cert_hash, id_card_md5, name_md5
from shared.wechat.applicant import valid_id_card_number as valid_id
from standin.scenario import NOT_FINISHED_VERIFY_RET, Script
from standin.state import Credential, LegacyApplicant, StandinState, V2Applicant

Reply = dict[str, object]
Body = Mapping[str, object]
_OUT_SEQ_NO_RE = re.compile(r"[A-Za-z0-9_-]{5,32}")
# three strangers: at least one shares neither md5 with whoever the applicant is
_OTHER_PEOPLE = (
    (id_card_md5("440300199003077898"), name_md5("李四")),
    (id_card_md5("110101199003070011"), name_md5("王五")),
    (id_card_md5("310101199801011232"), name_md5("赵六")),
)


def error(errcode: int, errmsg: str) -> Reply:
    """A WeChat error reply."""
    return {"errcode": errcode, "errmsg": errmsg}


def ok(**fields: object) -> Reply:
    """A WeChat success reply."""
    return {"errcode": 0, "errmsg": "ok", **fields}


def default_openid(out_seq_no: str) -> str:
    """A stable openid for the user verifying ``out_seq_no`` when the caller names none."""
    return "o" + hashlib.sha256(out_seq_no.encode()).hexdigest()[:27]


class FaceApi:
    """Endpoint rules over one :class:`StandinState`."""

    def __init__(self, state: StandinState) -> None:
        self._s = state

    def get_user_id_key(self, body: Body | None) -> Reply:
        """Register a legacy applicant; without out_seq_no WeChat would never push."""
        if body is None:
            return error(47001, "data format error")
        name, number, out = body.get("name"), body.get("id_card_number"), body.get("out_seq_no")
        if not (isinstance(name, str) and name and isinstance(number, str) and valid_id(number)):
            return error(40097, "invalid args: name or id_card_number")
        if out is not None and not _valid_out_seq_no(out):
            return error(40097, "invalid args: out_seq_no")
        key = "id_key_" + secrets.token_urlsafe(24)
        ttl = self._s.config.id_key_ttl_s
        if isinstance(out, str):
            expires_at = self._s.clock() + ttl
            md5s = (id_card_md5(number), name_md5(name))
            self._s.legacy[out] = LegacyApplicant(out, key, *md5s, expires_at=expires_at)
        return ok(user_id_key=key, expires_in=ttl)

    async def get_info(self, body: Body | None, token: str) -> Reply:
        """The result behind a verify_result (a non-JSON body is 84001, as WeChat does)."""
        verify_result = body.get("verify_result") if body is not None else None
        cred = self._s.credentials.get(verify_result) if isinstance(verify_result, str) else None
        if cred is None:
            return error(84001, "invalid identify id")
        scripted = await self._scripted(cred.out_seq_no, token)
        if scripted is not None:
            return scripted
        if self._s.clock() - cred.issued_at > self._s.config.verify_result_ttl_s:
            return error(84002, "user info expired")
        applicant = self._s.legacy.get(cred.out_seq_no)
        if applicant is None or applicant.user_id_key != cred.user_id_key:
            return error(84003, "user info not exist")
        return self._face_info(cred, applicant, self._script(cred.out_seq_no))

    def get_verify_id(self, body: Body | None) -> Reply:
        """Register a v2 applicant with the openid that will verify."""
        if body is None:
            return error(47001, "data format error")
        out, info, openid = body.get("out_seq_no"), body.get("cert_info"), body.get("openid")
        if not (_valid_out_seq_no(out) and isinstance(openid, str) and openid):
            return error(40097, "invalid args: out_seq_no or openid")
        digest = _cert_hash(info)
        if digest is None or not isinstance(out, str):
            return error(40097, "invalid args: cert_info")
        ttl = self._s.config.id_key_ttl_s
        verify_id = secrets.token_urlsafe(48)
        applicant = V2Applicant(out, verify_id, digest, openid, self._s.clock() + ttl)
        self._s.v2[out] = self._s.v2_by_id[verify_id] = applicant
        return ok(verify_id=verify_id, expires_in=ttl)

    async def query_verify_info(self, body: Body | None, token: str) -> Reply:
        """verify_ret of a v2 verification: 10300 until the user finishes."""
        if body is None:
            return error(47001, "data format error")
        fields = [body.get(k) for k in ("verify_id", "out_seq_no", "cert_hash", "openid")]
        if not all(isinstance(f, str) and f for f in fields):
            return error(40097, "invalid args")
        verify_id, out, digest, openid = fields
        applicant = self._s.v2_by_id.get(str(verify_id))
        if applicant is None:
            return error(84001, "invalid verify id")
        if (applicant.out_seq_no, applicant.cert_hash, applicant.openid) != (out, digest, openid):
            return error(40097, "invalid args: does not match getverifyid")
        return await self._verify_ret(applicant, token)

    def complete_legacy(self, out_seq_no: str, openid: str | None = None) -> tuple[str, Credential]:
        """The user finished on the phone: a fresh verify_result bound to the applicant."""
        applicant = self._s.legacy.get(out_seq_no)
        if applicant is None:
            raise LookupError("no legacy applicant with this out_seq_no")
        now = self._s.clock()
        if now >= applicant.expires_at:
            raise ValueError("user_id_key expired: the user could not start")
        verify_result = secrets.token_urlsafe(96)
        credential = Credential(
            out_seq_no, openid or default_openid(out_seq_no), applicant.user_id_key, now
        )
        self._s.credentials[verify_result] = credential
        return verify_result, credential

    def complete_v2(self, out_seq_no: str) -> V2Applicant:
        """The user finished ``wx.requestFacialVerify``: queryverifyinfo now has a result."""
        applicant = self._s.v2.get(out_seq_no)
        if applicant is None:
            raise LookupError("no v2 applicant with this out_seq_no")
        if self._s.clock() >= applicant.expires_at:
            raise ValueError("verify_id expired: the user could not start")
        applicant.completed = True
        return applicant

    async def _verify_ret(self, applicant: V2Applicant, token: str) -> Reply:
        scripted = await self._scripted(applicant.out_seq_no, token)
        if scripted is not None:
            return scripted
        if self._s.v2.get(applicant.out_seq_no) is not applicant:
            return error(84003, "user info not exist")
        if self._s.clock() >= applicant.expires_at:
            return error(84002, "verify id expired")
        script = self._script(applicant.out_seq_no)
        if not applicant.completed or script.take("not_finished"):
            return ok(verify_ret=NOT_FINISHED_VERIFY_RET)
        return ok(verify_ret=script.verify_ret)

    async def _scripted(self, out_seq_no: str, token: str) -> Reply | None:
        script = self._s.scripts.get(out_seq_no)
        if script is None:
            return None
        if script.latency_ms:
            await asyncio.sleep(script.latency_ms / 1000)
        if script.take("invalidate_token"):
            self._s.tokens.invalidate(token)
            return error(40001, "access_token is invalid or not latest")
        if script.take("transient"):
            return error(-1, "system error")
        if script.errcode is not None:
            return error(script.errcode, "scripted error")
        return None

    def _script(self, out_seq_no: str) -> Script:
        return self._s.scripts.get(out_seq_no) or Script()

    def _face_info(self, cred: Credential, applicant: LegacyApplicant, script: Script) -> Reply:
        id_md5, nm_md5 = applicant.id_card_number_md5, applicant.name_utf8_md5
        if script.other_person:
            id_md5, nm_md5 = next((i, n) for i, n in _OTHER_PEOPLE if i != id_md5 and n != nm_md5)
        return ok(
            identify_ret=script.identify_ret,
            identify_time=int(cred.issued_at),
            validate_data="8593",
            openid=script.openid or cred.openid,
            user_id_key=cred.user_id_key,
            finish_time=int(cred.issued_at),
            id_card_number_md5=id_md5,
            name_utf8_md5=nm_md5,
            check_alive_type=0,
        )


def _valid_out_seq_no(value: object) -> bool:
    return isinstance(value, str) and _OUT_SEQ_NO_RE.fullmatch(value) is not None


def _cert_hash(info: object) -> str | None:
    if not isinstance(info, Mapping) or info.get("cert_type") != IDENTITY_CARD:
        return None
    name, number = info.get("cert_name"), info.get("cert_no")
    if not (isinstance(name, str) and name and isinstance(number, str) and valid_id(number)):
        return None
    return cert_hash(name, number)
