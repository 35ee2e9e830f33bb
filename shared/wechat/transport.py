"""One WeChat API exchange over HTTP: timeout, status and body checks, errcode classification.

Every call (token fetches included) goes through :meth:`Transport.request`, which returns the
reply object when ``errcode`` is 0 (or absent, as in token replies) and otherwise raises the
classified :class:`~shared.errors.WechatApiError`. Transport failures get the local negative
codes of :mod:`shared.wechat.errcode`. The observer sees ``(endpoint, errcode, seconds)`` for
every call; nothing here logs URLs (they carry tokens) or bodies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson
from yarl import URL

from shared.errors import WechatApiError
from shared.wechat import errcode as ec

Observer = Callable[[str, int, float], None]
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}
_MAX_URLS = 64  # built URLs kept: a few endpoints × the current (and previous) token


class Transport:
    """Sends requests to one WeChat API base URL through a shared ``ClientSession``."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        observer: Observer | None = None,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._observer = observer
        self._urls: dict[tuple[str, tuple[tuple[str, str], ...]], URL] = {}

    async def request(
        self,
        endpoint: str,
        method: str,
        path: str,
        params: Mapping[str, str],
        payload: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The reply object of a successful call; raise a classified WechatApiError otherwise."""
        started = time.perf_counter()
        code = ec.TRANSPORT_BAD_BODY
        try:
            reply = await self._exchange(method, path, params, payload)
            code = _errcode(reply)
            if code != ec.OK:
                raise ec.api_error(code, str(reply.get("errmsg", "")))
            return reply
        except WechatApiError as exc:
            code = exc.errcode
            raise
        finally:
            if self._observer is not None:
                self._observer(endpoint, code, time.perf_counter() - started)

    async def _exchange(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        payload: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        data = None if payload is None else orjson.dumps(payload)
        headers = None if payload is None else _JSON_HEADERS
        url = self._url(path, params)
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=self._timeout
            ) as response:
                _check_status(response.status)
                raw = await response.read()
        except TimeoutError as exc:
            raise ec.api_error(ec.TRANSPORT_TIMEOUT, "timeout") from exc
        except aiohttp.ClientError as exc:  # the message may quote the URL: keep only the type
            raise ec.api_error(ec.TRANSPORT_CONNECTION, type(exc).__name__) from exc
        return _parse(raw)

    def _url(self, path: str, params: Mapping[str, str]) -> URL:
        """The full URL, built once per path and query (the query changes with the token)."""
        key = (path, tuple(params.items()))
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) >= _MAX_URLS:
                self._urls.clear()
            url = self._urls[key] = URL(f"{self._base_url}/{path}").with_query(params)
        return url


def _check_status(status: int) -> None:
    if status >= 500 or status == 429:
        raise ec.api_error(ec.TRANSPORT_SERVER_ERROR, f"HTTP {status}")
    if status != 200:
        raise ec.api_error(ec.TRANSPORT_UNEXPECTED_STATUS, f"HTTP {status}")


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        reply = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ec.api_error(ec.TRANSPORT_BAD_BODY, "reply is not JSON") from exc
    if not isinstance(reply, dict):
        raise ec.api_error(ec.TRANSPORT_BAD_BODY, "reply is not a JSON object")
    return reply


def _errcode(reply: Mapping[str, Any]) -> int:
    value = reply.get("errcode", ec.OK)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ec.api_error(ec.TRANSPORT_BAD_BODY, "errcode is not an integer")
    return value
