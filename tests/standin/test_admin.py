"""The stand-in's admin API and pusher: scripts, completion, pushes that verify, stats."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from shared.errors import PushError
from shared.wechat.crypto import AesCipher
from shared.wechat.event import FaceIdentifyEvent, GenericEvent
from shared.wechat.push import PushPolicy, PushQuery, VerifiedPush, verify_push
from standin.app import STATE
from tests.standin.conftest import OPENID, Standin, StandinFactory


def _receiver(standin: Standin, seen: list[VerifiedPush]) -> web.Application:
    """A minimal receiver that accepts only pushes verify_push accepts with the same secrets."""
    config = standin.config
    assert config.encoding_aes_key is not None
    policy = PushPolicy(
        config.token, config.appid, AesCipher(config.encoding_aes_key), allow_plaintext=True
    )

    async def push(request: web.Request) -> web.Response:
        query = PushQuery.from_mapping(request.query)
        try:
            seen.append(verify_push(query, await request.read(), policy, standin.clock()))
        except PushError as exc:
            return web.Response(status=exc.http_status, text=exc.code)
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat/push", push)
    return app


async def _admin(standin: Standin, route: str, body: object, status: int = 200) -> Any:
    response = await standin.http.post(f"/_standin/{route}", json=body)
    assert response.status == status, await response.text()
    return await response.json() if status == 200 else await response.text()


@pytest.mark.parametrize(
    ("mode", "fmt"), list(itertools.product(["plaintext", "compatible", "safe"], ["json", "xml"]))
)
async def test_complete_pushes_a_verifiable_face_identify(
    standin: Standin, aiohttp_server: AiohttpServer, mode: str, fmt: str
) -> None:
    """complete + push_to delivers face_identify that verify_push accepts, in every mode/format."""
    seen: list[VerifiedPush] = []
    receiver = await aiohttp_server(_receiver(standin, seen))
    await standin.register_legacy("seq-push01")
    body = {
        "out_seq_no": "seq-push01",
        "openid": OPENID,
        "mode": mode,
        "format": fmt,
        "push_to": str(receiver.make_url("/wechat/push")),
    }
    result = await _admin(standin, "complete", body)
    assert (result["flow"], result["push_status"], result["push_body"]) == (
        "legacy",
        200,
        "success",
    )
    [pushed] = seen
    assert (pushed.mode.value, pushed.fmt.value) == (mode, fmt)
    assert isinstance(pushed.event, FaceIdentifyEvent)
    assert pushed.event.out_seq_no == "seq-push01"
    assert (pushed.event.openid, pushed.event.FromUserName) == (OPENID, OPENID)
    assert pushed.event.verify_result == result["verify_result"]


async def test_pushed_verify_result_confirms_with_getinfo(standin: Standin) -> None:
    """The verify_result from complete is the one getinfo accepts for that applicant."""
    key = await standin.register_legacy("seq-push02")
    result = await _admin(standin, "complete", {"out_seq_no": "seq-push02"})
    reply = await standin.call("getinfo", {"verify_result": result["verify_result"]})
    assert (reply["errcode"], reply["user_id_key"], reply["openid"]) == (0, key, result["openid"])


async def test_push_to_an_unreachable_receiver_reports_status_zero(
    standin: Standin, aiohttp_server: AiohttpServer
) -> None:
    """A push that cannot be delivered reports push_status 0, and the credential still exists."""
    server = await aiohttp_server(web.Application())
    url = str(server.make_url("/wechat/push"))
    await server.close()
    await standin.register_legacy("seq-push03")
    result = await _admin(standin, "complete", {"out_seq_no": "seq-push03", "push_to": url})
    assert result["push_status"] == 0
    assert result["verify_result"]


async def test_complete_v2_marks_done(standin: Standin) -> None:
    """complete on a v2 applicant returns its verify_id and never pushes."""
    cert = {"cert_type": "IDENTITY_CARD", "cert_name": "张三", "cert_no": "11010519491231002X"}
    reg = await standin.call(
        "getverifyid", {"out_seq_no": "seq-v2-10", "cert_info": cert, "openid": OPENID}
    )
    result = await _admin(standin, "complete", {"out_seq_no": "seq-v2-10", "push_to": "http://x"})
    assert (result["flow"], result["verify_id"], result["push_status"]) == (
        "v2",
        reg["verify_id"],
        None,
    )
    assert standin.app[STATE].v2["seq-v2-10"].completed


async def test_complete_errors(standin: Standin) -> None:
    """Unknown out_seq_no → 404, expired user_id_key → 409, bad mode → 400."""
    await _admin(standin, "complete", {"out_seq_no": "seq-none01"}, status=404)
    await standin.register_legacy("seq-late01")
    await _admin(standin, "complete", {"out_seq_no": "seq-late01", "mode": "loud"}, status=400)
    standin.clock.advance(standin.config.id_key_ttl_s)
    await _admin(standin, "complete", {"out_seq_no": "seq-late01"}, status=409)


async def test_encrypted_push_needs_a_key(make_standin: StandinFactory) -> None:
    """Without an EncodingAESKey only plaintext pushes can be asked for (400 otherwise)."""
    standin = await make_standin(encoding_aes_key=None)
    await standin.register_legacy("seq-nokey1")
    body = {"out_seq_no": "seq-nokey1", "push_to": "http://127.0.0.1:9/x", "mode": "safe"}
    await _admin(standin, "complete", body, status=400)


async def test_script_over_http(standin: Standin) -> None:
    """POST /_standin/script sets an outcome; unknown fields are refused with 400."""
    result = await _admin(standin, "script", {"out_seq_no": "seq-scr10", "identify_ret": 10003})
    assert result["script"]["identify_ret"] == 10003
    assert standin.app[STATE].scripts["seq-scr10"].identify_ret == 10003
    text = await _admin(standin, "script", {"out_seq_no": "seq-scr10", "identfy_ret": 1}, 400)
    assert "identfy_ret" in text
    await _admin(standin, "script", {"identify_ret": 1}, status=400)


async def test_generic_push(standin: Standin, aiohttp_server: AiohttpServer) -> None:
    """POST /_standin/push delivers any event, e.g. WeChat's debug_demo."""
    seen: list[VerifiedPush] = []
    receiver = await aiohttp_server(_receiver(standin, seen))
    event = {
        "ToUserName": "gh_97417a04a28d",
        "FromUserName": OPENID,
        "CreateTime": 1714037059,
        "MsgType": "event",
        "Event": "debug_demo",
        "debug_str": "hello world",
    }
    body = {"push_to": str(receiver.make_url("/wechat/push")), "event": event, "format": "xml"}
    result = await _admin(standin, "push", body)
    assert result["push_status"] == 200
    assert isinstance(seen[0].event, GenericEvent)
    assert seen[0].event.Event == "debug_demo"
    await _admin(standin, "push", {"push_to": "http://x", "event": {"x": 1}}, status=400)


async def test_stats_invalidate_and_forget(standin: Standin) -> None:
    """stats count calls and token fetches; invalidate_tokens and forget act as documented."""
    await standin.register_legacy("seq-stat01")
    result = await _admin(standin, "complete", {"out_seq_no": "seq-stat01"})
    assert (await _admin(standin, "forget", {"out_seq_no": "seq-stat01"}))["forgotten"] is True
    reply = await standin.call("getinfo", {"verify_result": result["verify_result"]})
    assert reply["errcode"] == 84003
    assert (await _admin(standin, "invalidate_tokens", {}))["invalidated"] == 1
    assert (await standin.call("getinfo", {"verify_result": "x"}))["errcode"] == 40001
    stats = await (await standin.http.get("/_standin/stats")).json()
    assert stats["token_fetches"] == 1
    assert stats["calls"] == {"stable_token": 1, "getuseridkey": 1, "getinfo": 2}
    assert stats["errcodes"] == {"0": 2, "84003": 1, "40001": 1}
