"""Tests of receiver.dedup: the bounded memory of recently accepted pushes."""

from __future__ import annotations

from receiver.dedup import RecentPushes, Seen, body_digest, push_key
from shared.wechat.push import PushQuery


class _Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_retry_is_duplicate_and_other_body_is_conflict() -> None:
    """Same parameters + same body is a retry; same parameters + other body is a replay."""
    memory = RecentPushes()
    key = push_key(PushQuery(signature="s", timestamp="1", nonce="n"))
    assert memory.check(key, body_digest(b"a")) is Seen.NEW
    memory.remember(key, body_digest(b"a"))
    assert memory.check(key, body_digest(b"a")) is Seen.DUPLICATE
    assert memory.check(key, body_digest(b"b")) is Seen.CONFLICT


def test_keys_differ_by_every_signature_parameter() -> None:
    """signature, msg_signature, timestamp and nonce each distinguish pushes."""
    base = PushQuery(signature="s", msg_signature="m", timestamp="1", nonce="n")
    variants = [
        PushQuery(signature="x", msg_signature="m", timestamp="1", nonce="n"),
        PushQuery(signature="s", msg_signature="x", timestamp="1", nonce="n"),
        PushQuery(signature="s", msg_signature="m", timestamp="2", nonce="n"),
        PushQuery(signature="s", msg_signature="m", timestamp="1", nonce="x"),
    ]
    assert len({push_key(q) for q in [base, *variants]}) == 5


def test_entries_expire() -> None:
    """After the time-to-live a key is new again."""
    clock = _Clock()
    memory = RecentPushes(ttl_s=10, clock=clock)
    memory.remember("k", body_digest(b"a"))
    clock.now += 11
    assert memory.check("k", body_digest(b"b")) is Seen.NEW
    memory.remember("other", body_digest(b"a"))
    assert len(memory) == 1


def test_memory_is_bounded() -> None:
    """The oldest entries are evicted beyond max_entries."""
    memory = RecentPushes(max_entries=100)
    for n in range(250):
        memory.remember(f"k{n}", body_digest(b"a"))
    assert len(memory) == 100
    assert memory.check("k0", body_digest(b"a")) is Seen.NEW
    assert memory.check("k249", body_digest(b"a")) is Seen.DUPLICATE
