"""A small HTTP/1.1 client for one WeChat API origin: kept-alive connections, a C parser.

Every WeChat call is one small JSON POST to one host, so this client does only that: it keeps
up to ``limit`` connections open (TLS for ``https``), writes each request with one ``write``,
and reads the reply with httptools' llhttp parser (Content-Length or chunked bodies). No
redirects, cookies, proxies or compression: WeChat's API uses none of them. It replaced
aiohttp's client on this path because a call costs 2.5–3× less CPU here (``python -m bench
wechat_http``, BENCHMARKS.md): aiohttp's generality is paid on every call of the worker's hot
path.

A connection is reused only after a complete reply the server allowed to keep alive, and only
within ``idle_s`` of its last use. When a reused connection turns out closed before any byte of
the reply arrived (the server dropped it while idle), the request is sent once more on a new
connection; WeChat's face endpoints are queries or registrations that may be repeated. A
timeout or any other failure closes the connection. Failures raise :class:`HttpError` (or
``TimeoutError``) carrying no URL, so no token can leak through an error message.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass
from types import TracebackType
from typing import cast
from urllib.parse import urlsplit

import httptools

MAX_BODY = 1 << 20  # a WeChat reply is a few hundred bytes; anything near this is wrong


class HttpError(Exception):
    """No complete HTTP reply: refused, reset, TLS failure, malformed or oversized reply."""


class _StaleConnectionError(HttpError):
    """A reused connection closed before any byte of the reply arrived."""


@dataclass(frozen=True, slots=True)
class HttpReply:
    """Status code and whole body of one reply."""

    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: ``scheme://host:port`` and the base URL's path prefix."""

    scheme: str
    host: str
    port: int
    base_path: str

    @classmethod
    def parse(cls, base_url: str) -> Origin:
        """``http(s)://host[:port][/prefix]``; raise ValueError for anything else."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("the WeChat API base URL must be http(s)://host[:port][/path]")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        """The Host header: the port only when it is not the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection carrying one request at a time."""

    def __init__(self, max_body: int) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._max_body = max_body
        self._transport: asyncio.Transport | None = None
        self._reply: asyncio.Future[HttpReply] | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._received = False
        self.closed = False
        self.reused = False
        self.last_used = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def send(self, request: bytes) -> asyncio.Future[HttpReply]:
        """Write ``request``; the future completes with its reply."""
        assert self._transport is not None, "connected first"
        assert self._reply is None, "one request at a time"
        self._reply = asyncio.get_running_loop().create_future()
        self._parts, self._size, self._received = [], 0, False
        self._transport.write(request)
        return self._reply

    def data_received(self, data: bytes) -> None:
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:  # also what a raising callback turns into
            oversized = self._size > self._max_body
            self._fail(HttpError("reply body over the limit" if oversized else "malformed reply"))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_body:
            raise HttpError("reply body over the limit")  # stops the parser: see data_received
        self._parts.append(body)

    def on_message_complete(self) -> None:
        reply, self._reply = self._reply, None
        if not self._parser.should_keep_alive():
            self.close()
        if reply is None:
            self._fail(HttpError("a reply nobody asked for"))
        elif not reply.done():
            status = self._parser.get_status_code()
            reply.set_result(HttpReply(status, b"".join(self._parts)))
        self._parts = []

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self._received and self.reused:
            self._fail(_StaleConnectionError("kept-alive connection was closed"))
        else:
            self._fail(HttpError("connection closed before the whole reply"))

    def _fail(self, error: HttpError) -> None:
        reply, self._reply = self._reply, None
        if reply is not None and not reply.done():
            reply.set_exception(error)
        self.close()

    def close(self) -> None:
        """Close now; a request in flight fails."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class HttpPool:
    """Sends requests to one origin over at most ``limit`` kept-alive connections."""

    def __init__(
        self,
        base_url: str,
        *,
        limit: int = 100,
        idle_s: float = 15.0,
        max_body: int = MAX_BODY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.origin = Origin.parse(base_url)
        self._slots = asyncio.Semaphore(max(1, limit))
        self._idle_s = idle_s
        self._max_body = max_body
        self._ssl: ssl.SSLContext | None = None
        if self.origin.scheme == "https":
            self._ssl = ssl_context or ssl.create_default_context()
        self._idle: list[_Connection] = []  # most recently used last
        self._closed = False
        self.connections_opened = 0

    def request_head(self, method: str, target: str, content_type: str) -> bytes:
        """The request line and constant headers for ``target`` (a path with its query)."""
        return (
            f"{method} {target} HTTP/1.1\r\nHost: {self.origin.host_header}\r\n"
            f"User-Agent: wxface\r\nAccept: application/json\r\nContent-Type: {content_type}\r\n"
        ).encode("ascii")

    async def request(self, head: bytes, body: bytes, timeout_s: float) -> HttpReply:
        """Send ``head`` (from :meth:`request_head`) and ``body``; the reply within the timeout."""
        if self._closed:
            raise HttpError("the client is closed")
        message = b"%bContent-Length: %d\r\n\r\n%b" % (head, len(body), body)
        async with self._slots, asyncio.timeout(timeout_s):
            connection = self._take_idle() or await self._connect()
            try:
                reply = await self._exchange(connection, message)
            except _StaleConnectionError:
                connection = await self._connect()
                reply = await self._exchange(connection, message)
            self._give_back(connection)
            return reply

    async def _exchange(self, connection: _Connection, message: bytes) -> HttpReply:
        try:
            return await connection.send(message)
        except BaseException:
            connection.close()  # a reply may still be on its way: never reuse this connection
            raise

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.last_used < self._idle_s:
                connection.reused = True
                return connection
            connection.close()
        return None

    def _give_back(self, connection: _Connection) -> None:
        if connection.closed:
            return
        if self._closed:
            connection.close()
            return
        connection.last_used = time.monotonic()
        self._idle.append(connection)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        o = self.origin
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self._max_body), o.host, o.port,
                ssl=self._ssl, server_hostname=o.host if self._ssl else None,
            )  # fmt: skip
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise HttpError(f"cannot connect: {type(exc).__name__}") from exc
        self.connections_opened += 1
        return connection

    async def close(self) -> None:
        """Close idle connections; those in use close when their request ends."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
