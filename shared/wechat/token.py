"""Access tokens: where they come from and the per-process cache in front of them.

``StableTokenSource`` (``cgi-bin/stable_token``, normal mode: safe for many processes) is the
default; ``ClassicTokenSource`` (``cgi-bin/token``, each fetch retires the previous token after
an overlap) is optional. :class:`TokenCache` keeps one token, refreshes it ahead of expiry in
the background while the current one is still served, lets only one refresh run at a time
however many callers wait, and drops the token only when WeChat rejects *that* token value, so
a late rejection of an old token cannot throw away a newer one. Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shared.errors import WechatApiError
from shared.log import get_logger
from shared.wechat import errcode as ec
from shared.wechat.transport import Transport

log = get_logger(__name__)


@dataclass(frozen=True)
class FetchedToken:
    """A token as WeChat handed it out; ``expires_in`` in seconds."""

    value: str
    expires_in: int


class AccessTokenSource(Protocol):
    """Fetches a fresh access token from WeChat (one HTTP call)."""

    async def fetch(self) -> FetchedToken:
        """A token, or raise a classified WechatApiError."""
        ...


def _fetched(reply: dict[str, object]) -> FetchedToken:
    # checked by hand: a validation error would quote the reply, token included
    value, expires_in = reply.get("access_token"), reply.get("expires_in")
    if not isinstance(value, str) or not value:
        raise ec.api_error(ec.TRANSPORT_BAD_BODY, "token reply lacks access_token")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise ec.api_error(ec.TRANSPORT_BAD_BODY, "token reply lacks expires_in")
    return FetchedToken(value, expires_in)


class StableTokenSource:
    """``POST cgi-bin/stable_token`` in normal mode (the same token for every caller)."""

    def __init__(self, transport: Transport, appid: str, secret: str) -> None:
        self._transport = transport
        self._payload = {
            "grant_type": "client_credential",
            "appid": appid,
            "secret": secret,
            "force_refresh": False,
        }

    async def fetch(self) -> FetchedToken:
        """One stable_token call."""
        reply = await self._transport.request(
            "stable_token", "POST", "cgi-bin/stable_token", {}, self._payload
        )
        return _fetched(reply)


class ClassicTokenSource:
    """``GET cgi-bin/token`` (each fetch retires the previous token after an overlap)."""

    def __init__(self, transport: Transport, appid: str, secret: str) -> None:
        self._transport = transport
        self._params = {"grant_type": "client_credential", "appid": appid, "secret": secret}

    async def fetch(self) -> FetchedToken:
        """One cgi-bin/token call."""
        reply = await self._transport.request("token", "GET", "cgi-bin/token", self._params)
        return _fetched(reply)


@dataclass(frozen=True)
class _Cached:
    value: str
    refresh_at: float
    expires_at: float


class TokenCache:
    """One access token per process: cached, refreshed ahead, single-flight, invalidatable."""

    def __init__(
        self,
        source: AccessTokenSource,
        *,
        refresh_ahead_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._refresh_ahead_s = refresh_ahead_s
        self._clock = clock
        self._cached: _Cached | None = None
        self._refreshing: asyncio.Task[_Cached] | None = None
        self.fetches = 0  # successful and failed fetch attempts, for tests and metrics

    async def get(self) -> str:
        """The current token; waits for a refresh only when there is no usable token."""
        cached, now = self._cached, self._clock()
        if cached is not None and now < cached.expires_at:
            if now >= cached.refresh_at:
                self._refresh()  # in the background; this token is still good meanwhile
            return cached.value
        return (await asyncio.shield(self._refresh())).value

    def invalidate(self, value: str) -> bool:
        """Forget the cached token if it is ``value`` (WeChat rejected it); True if dropped."""
        if self._cached is None or self._cached.value != value:
            return False
        self._cached = None
        log.info("access_token_invalidated")
        return True

    def _refresh(self) -> asyncio.Task[_Cached]:
        if self._refreshing is None:
            self._refreshing = asyncio.create_task(self._fetch())
            self._refreshing.add_done_callback(self._refreshed)
        return self._refreshing

    async def _fetch(self) -> _Cached:
        self.fetches += 1
        fetched = await self._source.fetch()
        now = self._clock()
        ahead = min(self._refresh_ahead_s, fetched.expires_in / 2)
        cached = _Cached(fetched.value, now + fetched.expires_in - ahead, now + fetched.expires_in)
        self._cached = cached
        log.info("access_token_fetched", expires_in=fetched.expires_in)
        return cached

    def _refreshed(self, task: asyncio.Task[_Cached]) -> None:
        self._refreshing = None
        if task.cancelled():
            return
        exc = task.exception()  # retrieved here so a background failure is never unobserved
        if isinstance(exc, WechatApiError):
            log.warning("access_token_fetch_failed", errcode=exc.errcode, kind=exc.kind.value)
        elif exc is not None:
            log.error("access_token_fetch_failed", error=type(exc).__name__)
