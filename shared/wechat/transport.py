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
from urllib.parse import urlencode

import orjson

from shared.errors import WechatApiError
from shared.wechat import errcode as ec
from shared.wechat.http import HttpError, HttpPool

Observer = Callable[[str, int, float], None]
_JSON = "application/json; charset=utf-8"
_MAX_HEADS = 64  # request heads kept: a few endpoints × the current (and previous) token


class Transport:
    """Sends requests to one WeChat API base URL through the process's :class:`HttpPool`."""

    def __init__(
        self,
        pool: HttpPool,
        *,
        timeout_s: float = 5.0,
        observer: Observer | None = None,
    ) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._observer = observer
        self._heads: dict[tuple[str, str, tuple[tuple[str, str], ...]], bytes] = {}

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
        body = b"" if payload is None else orjson.dumps(payload)
        try:
            reply = await self._pool.request(
                self._head(method, path, params), body, self._timeout_s
            )
        except TimeoutError as exc:
            raise ec.api_error(ec.TRANSPORT_TIMEOUT, "timeout") from exc
        except HttpError as exc:  # its message never quotes the URL
            raise ec.api_error(ec.TRANSPORT_CONNECTION, str(exc)) from exc
        _check_status(reply.status)
        return _parse(reply.body)

    def _head(self, method: str, path: str, params: Mapping[str, str]) -> bytes:
        """The request head, built once per path and query (the query changes with the token)."""
        key = (method, path, tuple(params.items()))
        head = self._heads.get(key)
        if head is None:
            if len(self._heads) >= _MAX_HEADS:
                self._heads.clear()
            target = f"{self._pool.origin.base_path}/{path}"
            if params:
                target += "?" + urlencode(params)
            head = self._heads[key] = self._pool.request_head(method, target, _JSON)
        return head


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
