"""Tests of the pre-signed pushes: valid for the receiver's verifier, distinct, ~400 bytes."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from bench.receiver.pushes import (
    PATH,
    SignedPush,
    policy,
    raw_requests,
    sign_pushes,
    write_requests,
)
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import PushMode, PushQuery, verify_push


def _query(push: SignedPush) -> PushQuery:
    return PushQuery.from_mapping(dict(parse_qsl(urlsplit(push.target).query)))


def test_pushes_verify_as_safe_mode_face_identify() -> None:
    """Every signed push passes verify_push as a safe-mode face_identify event."""
    for push in sign_pushes(5, "t1"):
        verified = verify_push(_query(push), push.body, policy(), time.time())
        assert verified.mode is PushMode.SAFE
        assert isinstance(verified.event, FaceIdentifyEvent)
        assert push.target.startswith(PATH + "?")


def test_pushes_are_distinct_and_about_400_bytes() -> None:
    """Nonces, out_seq_no and verify_result all differ; bodies are 350-500 bytes."""
    pushes = sign_pushes(200, "t2")
    events = [verify_push(_query(p), p.body, policy(), time.time()).event for p in pushes]
    faces = [e for e in events if isinstance(e, FaceIdentifyEvent)]
    assert len({_query(p).nonce for p in pushes}) == 200
    assert len({e.out_seq_no for e in faces}) == len({e.verify_result for e in faces}) == 200
    assert all(350 <= len(p.body) <= 500 for p in pushes)


def test_tags_keep_pools_apart() -> None:
    """Two pools signed with different tags share no out_seq_no."""
    first, second = sign_pushes(3, "aa"), sign_pushes(3, "bb")
    assert not {p.target for p in first} & {p.target for p in second}


def test_request_file_has_one_push_per_line(tmp_path: Path) -> None:
    """The wrk request file holds target<TAB>body, one push per line."""
    pushes = sign_pushes(3, "t3")
    path = tmp_path / "requests.txt"
    write_requests(pushes, path)
    lines = path.read_bytes().splitlines()
    assert [line.split(b"\t") for line in lines] == [[p.target.encode(), p.body] for p in pushes]


def test_raw_requests_are_complete_http() -> None:
    """A raw request declares its body's length and ends with the body."""
    push = sign_pushes(1, "t4")[0]
    [raw] = raw_requests([push], "127.0.0.1:9")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert body == push.body
    assert f"Content-Length: {len(push.body)}".encode() in head
    assert head.startswith(f"POST {push.target} HTTP/1.1".encode())
