"""The stand-in's WeChat rules over HTTP: credentials, tokens, 84001/2/3, v2 checks, scripts."""

from __future__ import annotations

import pytest

from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from standin.app import FACE, STATE
from standin.scenario import Script
from tests.standin.conftest import ID_NUMBER, NAME, OPENID, Standin, StandinFactory

CERT_INFO = {"cert_type": "IDENTITY_CARD", "cert_name": NAME, "cert_no": ID_NUMBER}


@pytest.mark.parametrize(
    ("query", "errcode"),
    [
        ({"appid": "wx_other_app_000", "secret": "standin-secret"}, 40013),
        ({"appid": "wx0123456789abcdef", "secret": "wrong"}, 40125),
        ({"appid": "wx0123456789abcdef", "secret": "standin-secret", "grant_type": "x"}, 40002),
    ],
)
async def test_token_endpoint_checks_credentials(
    standin: Standin, query: dict[str, str], errcode: int
) -> None:
    """cgi-bin/token refuses a wrong appid (40013), secret (40125) or grant_type (40002)."""
    params = {"grant_type": "client_credential", **query}
    reply = await (await standin.http.get("/cgi-bin/token", params=params)).json()
    assert reply["errcode"] == errcode
    assert "access_token" not in reply


async def test_stable_token_needs_a_json_body(standin: Standin) -> None:
    """stable_token with a form body answers 47001."""
    response = await standin.http.post("/cgi-bin/stable_token", data={"appid": "x"})
    assert (await response.json())["errcode"] == 47001


async def test_face_calls_check_the_token(make_standin: StandinFactory) -> None:
    """Unknown token → 40014, expired → 42001, retired → 40001."""
    s = await make_standin(token_ttl_s=600)
    body = {"verify_result": "x"}
    assert (await s.call("getinfo", body, token="forged"))["errcode"] == 40014
    s.app[STATE].tokens.invalidate(s.token)
    assert (await s.call("getinfo", body))["errcode"] == 40001
    fresh = await make_standin(token_ttl_s=600)
    fresh.clock.advance(601)
    assert (await fresh.call("getinfo", body))["errcode"] == 42001


async def test_getinfo_returns_the_bound_result(standin: Standin) -> None:
    """A completed verification's verify_result yields md5s, openid and user_id_key."""
    key = await standin.register_legacy("seq-ok-001")
    verify_result, _ = standin.app[FACE].complete_legacy("seq-ok-001", OPENID)
    reply = await standin.call("getinfo", {"verify_result": verify_result})
    assert reply["errcode"] == reply["identify_ret"] == 0
    assert (reply["openid"], reply["user_id_key"]) == (OPENID, key)
    assert reply["id_card_number_md5"] == id_card_md5(ID_NUMBER)
    assert reply["name_utf8_md5"] == name_md5(NAME)


async def test_getinfo_non_json_body_is_84001(standin: Standin) -> None:
    """A verify_result sent form-encoded is not understood: 84001, as real WeChat does."""
    await standin.register_legacy("seq-form01")
    verify_result, _ = standin.app[FACE].complete_legacy("seq-form01")
    response = await standin.http.post(
        "/cityservice/face/identify/getinfo",
        params={"access_token": standin.token},
        data={"verify_result": verify_result},
    )
    assert (await response.json())["errcode"] == 84001


async def test_getinfo_unknown_expired_and_not_found(standin: Standin) -> None:
    """Unknown verify_result → 84001; older than its TTL → 84002; applicant gone → 84003."""
    assert (await standin.call("getinfo", {"verify_result": "nope"}))["errcode"] == 84001
    await standin.register_legacy("seq-gone01")
    gone, _ = standin.app[FACE].complete_legacy("seq-gone01")
    assert standin.app[STATE].forget("seq-gone01")
    assert (await standin.call("getinfo", {"verify_result": gone}))["errcode"] == 84003
    await standin.register_legacy("seq-old001")
    old, _ = standin.app[FACE].complete_legacy("seq-old001")
    standin.clock.advance(standin.config.verify_result_ttl_s + 1)
    assert (await standin.call("getinfo", {"verify_result": old}))["errcode"] == 84002


async def test_getuseridkey_validates_and_expires(standin: Standin) -> None:
    """A bad ID number is 40097; after expires_in the user can no longer complete."""
    bad = {"name": NAME, "id_card_number": "110105194912310021", "out_seq_no": "seq-bad01"}
    assert (await standin.call("getuseridkey", bad))["errcode"] == 40097
    await standin.register_legacy("seq-exp001")
    standin.clock.advance(standin.config.id_key_ttl_s)
    with pytest.raises(ValueError, match="expired"):
        standin.app[FACE].complete_legacy("seq-exp001")


async def test_stand_in_keeps_no_plaintext_applicant(standin: Standin) -> None:
    """What getuseridkey stored holds md5s only, never the name or the ID number."""
    await standin.register_legacy("seq-priv01")
    stored = repr(standin.app[STATE].legacy)
    assert NAME not in stored
    assert ID_NUMBER.upper() not in stored.upper()


async def _register_v2(s: Standin, seq: str) -> str:
    reply = await s.call(
        "getverifyid", {"out_seq_no": seq, "cert_info": CERT_INFO, "openid": OPENID}
    )
    assert (reply["errcode"], reply["expires_in"]) == (0, 3600)
    return str(reply["verify_id"])


def _query(verify_id: str, seq: str, **changes: str) -> dict[str, str]:
    body = {"verify_id": verify_id, "out_seq_no": seq, "cert_hash": cert_hash(NAME, ID_NUMBER)}
    return {**body, "openid": OPENID, **changes}


async def test_v2_not_finished_until_completed(standin: Standin) -> None:
    """queryverifyinfo answers verify_ret 10300 before completion and 10000 after."""
    verify_id = await _register_v2(standin, "seq-v2-001")
    assert (await standin.call("queryverifyinfo", _query(verify_id, "seq-v2-001")))[
        "verify_ret"
    ] == 10300
    standin.app[FACE].complete_v2("seq-v2-001")
    reply = await standin.call("queryverifyinfo", _query(verify_id, "seq-v2-001"))
    assert (reply["errcode"], reply["verify_ret"]) == (0, 10000)


@pytest.mark.parametrize(
    "change",
    [
        {"cert_hash": cert_hash("李四", ID_NUMBER)},
        {"openid": "o-someone-else"},
        {"out_seq_no": "seq-v2-other"},
    ],
)
async def test_v2_mismatch_is_an_errcode(standin: Standin, change: dict[str, str]) -> None:
    """A cert_hash, openid or out_seq_no differing from getverifyid is refused (40097)."""
    verify_id = await _register_v2(standin, "seq-v2-002")
    standin.app[FACE].complete_v2("seq-v2-002")
    reply = await standin.call("queryverifyinfo", _query(verify_id, "seq-v2-002", **change))
    assert reply["errcode"] == 40097
    assert "verify_ret" not in reply


async def test_v2_unknown_and_expired_verify_id(standin: Standin) -> None:
    """An unknown verify_id is 84001; past expires_in it is 84002."""
    reply = await standin.call("queryverifyinfo", _query("unknown", "seq-v2-003"))
    assert reply["errcode"] == 84001
    verify_id = await _register_v2(standin, "seq-v2-003")
    standin.app[FACE].complete_v2("seq-v2-003")
    standin.clock.advance(3600)
    reply = await standin.call("queryverifyinfo", _query(verify_id, "seq-v2-003"))
    assert reply["errcode"] == 84002


async def test_getverifyid_validates_input(standin: Standin) -> None:
    """Short out_seq_no, missing openid or a bad cert_no are refused with 40097."""
    bad_bodies = [
        {"out_seq_no": "abc", "cert_info": CERT_INFO, "openid": OPENID},
        {"out_seq_no": "seq-v2-004", "cert_info": CERT_INFO},
        {"out_seq_no": "seq-v2-004", "cert_info": {**CERT_INFO, "cert_no": "1"}, "openid": OPENID},
    ]
    for body in bad_bodies:
        assert (await standin.call("getverifyid", body))["errcode"] == 40097


async def test_script_another_person_and_openid(standin: Standin) -> None:
    """Scripts make getinfo return another person's md5s, another openid, a failed verdict."""
    await standin.register_legacy("seq-scr001")
    verify_result, _ = standin.app[FACE].complete_legacy("seq-scr001", OPENID)
    standin.app[STATE].script(
        "seq-scr001", Script(other_person=True, openid="o-intruder", identify_ret=10004)
    )
    reply = await standin.call("getinfo", {"verify_result": verify_result})
    assert (reply["errcode"], reply["identify_ret"], reply["openid"]) == (0, 10004, "o-intruder")
    assert reply["id_card_number_md5"] != id_card_md5(ID_NUMBER)
    assert reply["name_utf8_md5"] != name_md5(NAME)


async def test_script_transient_then_pass(standin: Standin) -> None:
    """N scripted transient failures answer -1 N times, then the real result."""
    await standin.register_legacy("seq-scr002")
    verify_result, _ = standin.app[FACE].complete_legacy("seq-scr002")
    standin.app[STATE].script("seq-scr002", Script(transient=2))
    codes = [
        (await standin.call("getinfo", {"verify_result": verify_result}))["errcode"]
        for _ in range(3)
    ]
    assert codes == [-1, -1, 0]


async def test_script_not_finished_and_verify_ret(standin: Standin) -> None:
    """v2: N scripted "not finished" answers after completion, then the scripted verify_ret."""
    verify_id = await _register_v2(standin, "seq-scr003")
    standin.app[STATE].script("seq-scr003", Script(not_finished=2, verify_ret=10004))
    standin.app[FACE].complete_v2("seq-scr003")
    rets = [
        (await standin.call("queryverifyinfo", _query(verify_id, "seq-scr003")))["verify_ret"]
        for _ in range(3)
    ]
    assert rets == [10300, 10300, 10004]


async def test_script_errcode_and_token_invalidation(standin: Standin) -> None:
    """A scripted errcode is answered every time; a token invalidation retires the token."""
    verify_id = await _register_v2(standin, "seq-scr004")
    standin.app[STATE].script("seq-scr004", Script(errcode=45011))
    for _ in range(2):
        reply = await standin.call("queryverifyinfo", _query(verify_id, "seq-scr004"))
        assert reply["errcode"] == 45011
    standin.app[STATE].script("seq-scr004", Script(invalidate_token=1))
    assert (await standin.call("queryverifyinfo", _query(verify_id, "seq-scr004")))[
        "errcode"
    ] == 40001
    assert standin.app[STATE].tokens.check(standin.token) == 40001


async def test_fault_rate_answers_minus_one(make_standin: StandinFactory) -> None:
    """With fault_rate 1 every face call answers -1; with a seed the pattern repeats."""
    s = await make_standin(fault_rate=1.0, seed=7)
    assert (await s.call("getinfo", {"verify_result": "x"}))["errcode"] == -1
    a, b = await make_standin(fault_rate=0.5, seed=7), await make_standin(fault_rate=0.5, seed=7)
    runs = [
        [(await s.call("getinfo", {"verify_result": "x"}))["errcode"] for _ in range(20)]
        for s in (a, b)
    ]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {-1, 84001}
