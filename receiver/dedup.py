"""Bounded in-memory memory of recently accepted pushes (WeChat retries, replayed signatures).

Keyed on the signature parameters (``signature``, ``msg_signature``, ``timestamp``, ``nonce``),
it remembers a digest of the body that was accepted with them. The same parameters with the
same body are a WeChat retry (answer ``success``, do not enqueue again); with another body they
are a replay of a plaintext signature, which does not cover the body (answer 401).

Entries live as long as the timestamp window (an older request is refused by its timestamp
anyway) and at most ``max_entries`` are kept, oldest evicted first. The memory is per process
and lost on restart: a duplicate that slips past it is still harmless, because the work item's
``message_id`` is deterministic and the worker decides each credential once.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum

from shared.wechat.push import PushQuery


class Seen(StrEnum):
    """What the memory says about a push."""

    NEW = "new"
    DUPLICATE = "duplicate"  # same parameters, same body: a retry
    CONFLICT = "conflict"  # same parameters, another body: a replay


def push_key(query: PushQuery) -> str:
    """The memory key of a push: its signature parameters."""
    parts = (query.signature, query.msg_signature, query.timestamp, query.nonce)
    return "\x1f".join(p or "" for p in parts)


def body_digest(body: bytes) -> bytes:
    """A digest of the body (the body itself is never kept)."""
    return hashlib.sha256(body).digest()


class RecentPushes:
    """LRU of ``push_key → body digest`` with a time-to-live."""

    def __init__(
        self,
        max_entries: int = 100_000,
        ttl_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl_s = ttl_s
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, key: str, digest: bytes) -> Seen:
        """Classify a push without recording it."""
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock():
            return Seen.NEW
        return Seen.DUPLICATE if entry[0] == digest else Seen.CONFLICT

    def remember(self, key: str, digest: bytes) -> None:
        """Record an accepted push; evict expired and overflowing entries."""
        now = self._clock()
        self._entries[key] = (digest, now + self._ttl_s)
        self._entries.move_to_end(key)
        while self._entries:
            oldest_key, (_, expires) = next(iter(self._entries.items()))
            if expires > now and len(self._entries) <= self._max_entries:
                break
            del self._entries[oldest_key]
