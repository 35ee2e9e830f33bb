"""Access tokens as WeChat issues and checks them (``cgi-bin/token`` and ``stable_token``).

Classic: every fetch mints a new token and retires the previous one after ``overlap_s``.
Stable, normal mode: the same token until its last ``overlap_s`` (or half its life, if
shorter), then a successor; both stay valid until their own expiry. ``force_refresh`` retires
the current stable token at once, at most once per 30 s. The two kinds never affect each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

OK = 0
NOT_LATEST = 40001
INVALID = 40014
EXPIRED = 42001
FORCE_REFRESH_INTERVAL_S = 30.0


@dataclass
class _Issued:
    expires_at: float
    retired_at: float | None = None


class TokenStore:
    """Issues, checks and retires access tokens."""

    def __init__(self, ttl_s: int, overlap_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._overlap_s = min(overlap_s, ttl_s / 2)
        self._clock = clock
        self._issued: dict[str, _Issued] = {}
        self._classic: str | None = None
        self._stable: str | None = None
        self._last_force = -FORCE_REFRESH_INTERVAL_S
        self.fetches = 0

    def issue_classic(self) -> tuple[str, int]:
        """A new cgi-bin/token token; the previous one retires after the overlap."""
        now = self._clock()
        self.fetches += 1
        if self._classic is not None:
            self._retire(self._classic, now + self._overlap_s)
        self._classic = self._mint(now)
        return self._classic, self._ttl_s

    def issue_stable(self, force_refresh: bool) -> tuple[str, int]:
        """The stable token (normal mode: shared), renewed near expiry or on force_refresh."""
        now = self._clock()
        self.fetches += 1
        if force_refresh and now - self._last_force >= FORCE_REFRESH_INTERVAL_S:
            self._last_force = now
            if self._stable is not None:
                self._retire(self._stable, now)
        if self._stable is None or not self._stable_usable(self._stable, now):
            self._stable = self._mint(now)
        return self._stable, int(self._issued[self._stable].expires_at - now)

    def _stable_usable(self, value: str, now: float) -> bool:
        # in its last overlap_s a successor is handed out; the old one stays valid until expiry
        return self.check(value) == OK and self._issued[value].expires_at - now > self._overlap_s

    def check(self, value: str | None) -> int:
        """0 for a usable token, else 40014 (unknown), 40001 (retired) or 42001 (expired)."""
        issued = self._issued.get(value) if value else None
        now = self._clock()
        if issued is None:
            return INVALID
        if issued.retired_at is not None and now >= issued.retired_at:
            return NOT_LATEST
        return EXPIRED if now >= issued.expires_at else OK

    def invalidate(self, value: str | None = None) -> int:
        """Retire ``value`` now (or every live token); the number of tokens retired."""
        now = self._clock()
        targets = [value] if value is not None else list(self._issued)
        live = [v for v in targets if v in self._issued and self.check(v) == OK]
        for v in live:
            self._retire(v, now)
        return len(live)

    def issued(self) -> list[str]:
        """Every token value ever handed out (tests check none of them leaks)."""
        return list(self._issued)

    def _mint(self, now: float) -> str:
        value = secrets.token_urlsafe(64)
        self._issued[value] = _Issued(expires_at=now + self._ttl_s)
        return value

    def _retire(self, value: str, at: float) -> None:
        issued = self._issued[value]
        if issued.retired_at is None or at < issued.retired_at:
            issued.retired_at = at
