"""TokenCache: reuse, single-flight refresh, refresh ahead of expiry, value-checked invalidation."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from shared.errors import WechatApiError, WechatErrorKind
from shared.wechat.token import FetchedToken, TokenCache
from tests.standin.fakes import FakeClock


class FakeSource:
    """An AccessTokenSource that hands out tok-1, tok-2 … and can be held or made to fail."""

    def __init__(self, expires_in: int = 7200) -> None:
        self.expires_in = expires_in
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fetched = asyncio.Event()
        self.fail_with: WechatApiError | None = None

    async def fetch(self) -> FetchedToken:
        self.calls += 1
        await self.gate.wait()
        self.fetched.set()
        if self.fail_with is not None:
            raise self.fail_with
        return FetchedToken(f"tok-{self.calls}", self.expires_in)


async def test_token_is_reused() -> None:
    """Many sequential gets cost one fetch."""
    source = FakeSource()
    cache = TokenCache(source)
    values = {await cache.get() for _ in range(50)}
    assert values == {"tok-1"}
    assert (source.calls, cache.fetches) == (1, 1)


async def test_concurrent_callers_share_one_fetch() -> None:
    """Callers arriving while the first fetch is in flight wait for it instead of fetching."""
    source = FakeSource()
    source.gate.clear()
    cache = TokenCache(source)
    waiters = [asyncio.create_task(cache.get()) for _ in range(100)]
    await asyncio.sleep(0)  # let every waiter reach the cache before the fetch completes
    source.gate.set()
    values = await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
    assert set(values) == {"tok-1"}
    assert source.calls == 1


async def test_refresh_ahead_serves_old_token_meanwhile() -> None:
    """Inside the refresh window the old token is returned at once and one refresh runs."""
    clock, source = FakeClock(), FakeSource(expires_in=1000)
    cache = TokenCache(source, refresh_ahead_s=300, clock=clock)
    assert await cache.get() == "tok-1"
    clock.advance(750)  # 250 s left: inside the 300 s window
    source.fetched.clear()
    source.gate.clear()
    assert [await cache.get() for _ in range(10)] == ["tok-1"] * 10
    source.gate.set()
    await asyncio.wait_for(source.fetched.wait(), timeout=5)
    assert await cache.get() == "tok-2"
    assert source.calls == 2


async def test_expired_token_is_refetched() -> None:
    """Past expiry the caller waits for a new token."""
    clock, source = FakeClock(), FakeSource(expires_in=100)
    cache = TokenCache(source, clock=clock)
    await cache.get()
    clock.advance(101)
    assert await cache.get() == "tok-2"


async def test_invalidate_only_drops_the_rejected_value() -> None:
    """A rejection of an older token does not throw away the newer one."""
    source = FakeSource()
    cache = TokenCache(source)
    first = await cache.get()
    assert cache.invalidate(first)
    second = await cache.get()
    assert second == "tok-2"
    assert not cache.invalidate(first)  # a late rejection of tok-1
    assert await cache.get() == "tok-2"
    assert source.calls == 2


async def test_failed_fetch_raises_and_next_get_retries() -> None:
    """A failing fetch reaches the waiting caller; the next get tries again."""
    source = FakeSource()
    source.fail_with = WechatApiError(40125, "invalid appsecret", WechatErrorKind.CONFIG)
    cache = TokenCache(source)
    with pytest.raises(WechatApiError) as info:
        await cache.get()
    assert info.value.kind is WechatErrorKind.CONFIG
    source.fail_with = None
    assert await cache.get() == "tok-2"


async def test_background_refresh_failure_is_logged_without_token() -> None:
    """A failed background refresh is logged (errcode, kind) and the old token still serves."""
    clock, source = FakeClock(), FakeSource(expires_in=1000)
    cache = TokenCache(source, clock=clock)
    await cache.get()
    clock.advance(900)
    source.fail_with = WechatApiError(-1, "system error", WechatErrorKind.TRANSIENT)
    source.fetched.clear()
    with capture_logs() as logs:
        assert await cache.get() == "tok-1"
        await asyncio.wait_for(source.fetched.wait(), timeout=5)
        for _ in range(3):
            await asyncio.sleep(0)  # yield (not a delay) so the done-callback runs
    failed = [e for e in logs if e["event"] == "access_token_fetch_failed"]
    assert failed == [
        {
            "event": "access_token_fetch_failed",
            "errcode": -1,
            "kind": "transient",
            "log_level": "warning",
        }
    ]
    assert await cache.get() == "tok-1"
