"""Pre-signed, distinct safe-mode JSON pushes, and the file the load generators read them from.

Every push has its own nonce, ``out_seq_no`` and ``verify_result``, so a receiver that
de-duplicates never takes its duplicate path. Timestamps are the signing time: sign a pool just
before the phase that sends it (the receivers allow ±300 s).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from shared.wechat.crypto import AesCipher
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import BodyFormat, PushMode, PushPolicy, build_push

# bench-only credentials, shared by the load generators and every variant
APPID = "wxbe0c4a11d2e3f4a5"
TOKEN = "bench-push-token"
AES_KEY = "BenchAesKey0123456789abcdefghijklmnopqrstuv"
PATH = "/wechat/push"
SUCCESS = b"success"


@dataclass(frozen=True)
class SignedPush:
    """One POST as WeChat would send it: the request target (path + query) and the body."""

    target: str
    body: bytes


def cipher() -> AesCipher:
    """The bench's AES cipher."""
    return AesCipher(AES_KEY)


def policy() -> PushPolicy:
    """The push policy the baselines verify with (the receiver gets the same through settings)."""
    return PushPolicy(token=TOKEN, appid=APPID, cipher=cipher())


def sign_pushes(count: int, tag: str, now: int | None = None) -> list[SignedPush]:
    """``count`` distinct face_identify pushes, signed at ``now`` (default: the current time).

    ``tag`` (up to 8 letters/digits) makes the pushes of one pool distinct from every other's.
    """
    ts = int(time.time()) if now is None else now
    aes = cipher()
    return [_sign(aes, tag, n, ts) for n in range(count)]


def _sign(aes: AesCipher, tag: str, n: int, ts: int) -> SignedPush:
    event = FaceIdentifyEvent(
        ToUserName="gh_0123456789ab",
        FromUserName="oBenchUser0123456789",
        CreateTime=ts,
        MsgType="event",
        Event="face_identify",
        openid="oBenchUser0123456789",
        out_seq_no=f"b{tag}{n:010d}",
        verify_result=f"vr{tag}{n:010d}",
    )
    nonce = f"{tag}{n:x}"
    query, body = build_push(event, BodyFormat.JSON, PushMode.SAFE, TOKEN, APPID, aes, ts, nonce)
    return SignedPush(f"{PATH}?{urlencode(query)}", body)


def write_requests(pushes: Iterable[SignedPush], path: Path) -> None:
    """One push per line, ``target<TAB>body`` (safe-mode JSON bodies hold no tab or newline)."""
    with path.open("wb") as out:
        for push in pushes:
            out.write(push.target.encode("ascii") + b"\t" + push.body + b"\n")


def raw_requests(pushes: Sequence[SignedPush], host: str) -> list[bytes]:
    """The pushes as complete HTTP/1.1 requests (what the open-loop generator writes)."""
    return [
        (
            f"POST {p.target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(p.body)}\r\n\r\n"
        ).encode("ascii")
        + p.body
        for p in pushes
    ]
