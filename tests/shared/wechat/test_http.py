"""HttpPool against real sockets: keep-alive, stale and closed connections, timeouts, TLS."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import uvloop
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_aiohttp import AiohttpServer

from shared.wechat.http import HttpError, HttpPool, Origin

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok": 1}\r\n'


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n")
         if line.lower().startswith(b"content-length:")), 0,
    )  # fmt: skip
    return head + await reader.readexactly(length)


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    """A TCP server answering each connection with a script; yields a starter → base URL."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _answer_once(reply: bytes) -> Script:
    """A server script: read one request, write ``reply``, close the connection."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(reply)
        await writer.drain()

    return script


def _head(pool: HttpPool) -> bytes:
    return pool.request_head("POST", "/p?access_token=t", "application/json")


async def _echo(request: web.Request) -> web.Response:
    return web.json_response({"seen": (await request.read()).decode()})


async def test_sequential_calls_share_one_connection(aiohttp_server: AiohttpServer) -> None:
    """A complete kept-alive reply leaves the connection for the next call."""
    app = web.Application()
    app.router.add_post("/p", _echo)
    server = await aiohttp_server(app)
    async with HttpPool(str(server.make_url(""))) as pool:
        for i in range(50):
            reply = await pool.request(_head(pool), b"body-%d" % i, 5)
            assert (reply.status, reply.body) == (200, b'{"seen": "body-%d"}' % i)
    assert pool.connections_opened == 1


async def test_concurrent_calls_stay_within_the_limit(aiohttp_server: AiohttpServer) -> None:
    """No more than ``limit`` connections are opened, however many calls wait."""
    busy = 0
    most = 0
    all_busy = asyncio.Event()

    async def held(request: web.Request) -> web.Response:
        nonlocal busy, most
        busy += 1
        most = max(most, busy)
        if busy == 4:
            all_busy.set()
        await all_busy.wait()  # the first four answer only once four are in flight together
        busy -= 1
        return await _echo(request)

    app = web.Application()
    app.router.add_post("/p", held)
    server = await aiohttp_server(app)
    async with HttpPool(str(server.make_url("")), limit=4) as pool:
        replies = await asyncio.gather(*(pool.request(_head(pool), b"x", 5) for _ in range(40)))
    assert all(r.status == 200 for r in replies)
    assert pool.connections_opened == 4
    assert most == 4


CLOSING = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")


@pytest.mark.parametrize("reply", [CLOSING, OK], ids=["connection-close", "dropped-silently"])
async def test_connection_ended_after_each_reply_is_replaced(
    raw_server: Callable[[Script], Awaitable[str]], reply: bytes
) -> None:
    """A server ending each connection after one reply (announced or not): every call works."""
    async with HttpPool(await raw_server(_answer_once(reply))) as pool:
        for _ in range(20):
            assert (await pool.request(_head(pool), b"", 5)).body == b'{"ok": 1}\r\n'
    assert pool.connections_opened == 20


async def test_stale_connection_is_retried_once_on_a_new_one(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    """A reused connection that closes with no reply byte: the call is sent again, and works."""
    calls = 0

    async def drop_second(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await _read_request(reader)
        calls += 1
        writer.write(OK)
        await writer.drain()
        await _read_request(reader)  # the reused connection's request: closed unanswered
        calls += 1

    async with HttpPool(await raw_server(drop_second)) as pool:
        for _ in range(3):
            assert (await pool.request(_head(pool), b"", 5)).status == 200
    assert pool.connections_opened == 3
    assert calls == 5  # three answered, two dropped on reuse


async def test_chunked_reply_is_read_whole(raw_server: Callable[[Script], Awaitable[str]]) -> None:
    """A chunked body arrives joined, in pieces written separately."""

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n')
        await writer.drain()
        writer.write(b"3\r\n 1}\r\n0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with HttpPool(await raw_server(chunked)) as pool:
        assert (await pool.request(_head(pool), b"", 5)).body == b'{"a": 1}'


async def test_timeout_drops_the_connection_and_its_late_reply(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    """After a timeout the late reply is never read as the answer to the next call."""
    replies = [b"late", b"fresh"]
    timed_out = asyncio.Event()

    async def slow_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_request(reader)
            body = replies.pop(0)
            if body == b"late":
                await timed_out.wait()  # answer only after the client gave up
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))
            await writer.drain()

    async with HttpPool(await raw_server(slow_first)) as pool:
        with pytest.raises(TimeoutError):
            await pool.request(_head(pool), b"", 0.1)
        timed_out.set()
        assert (await pool.request(_head(pool), b"", 5)).body == b"fresh"
    assert pool.connections_opened == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"partial"', "before the whole reply"),
        (b"SMTP ready\r\n\r\n", "malformed reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n" + b"x" * 2000, "over the limit"),
    ],
)
async def test_broken_replies_raise_http_error(
    raw_server: Callable[[Script], Awaitable[str]], answer: bytes, message: str
) -> None:
    """A reply cut short, not HTTP, or over the size limit is an HttpError; nothing is kept."""

    async with HttpPool(await raw_server(_answer_once(answer)), max_body=1000) as pool:
        with pytest.raises(HttpError, match=message):
            await pool.request(_head(pool), b"", 5)


async def test_refused_connection_names_no_url(
    raw_server: Callable[[Script], Awaitable[str]],
) -> None:
    """Nothing listening: HttpError whose text carries neither host nor path."""

    async def nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        return

    url = await raw_server(nothing)
    pool = HttpPool(url.replace(url.rsplit(":", 1)[1], "1"))  # port 1: refused
    with pytest.raises(HttpError) as info:
        await pool.request(_head(pool), b"", 5)
    assert "127.0.0.1" not in str(info.value)
    assert "access_token" not in str(info.value)


async def test_closed_pool_refuses_calls() -> None:
    """After close() a call fails at once."""
    pool = HttpPool("http://127.0.0.1:1")
    await pool.close()
    with pytest.raises(HttpError, match="closed"):
        await pool.request(_head(pool), b"", 5)


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def _tls_echo_server(cert_file: Path, key_file: Path) -> tuple[web.AppRunner, str]:
    """The echo app over TLS on localhost; its runner (clean it up) and base URL."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    app = web.Application()
    app.router.add_post("/p", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "localhost", 0, ssl_context=server_ctx).start()
    return runner, f"https://localhost:{runner.addresses[0][1]}"


def _trusting(cert_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert_file))


async def test_https_verifies_the_server_certificate(tmp_path: Path) -> None:
    """Over TLS a trusted certificate works; an untrusted one is an HttpError."""
    cert_file, key_file = _certificate(tmp_path)
    runner, url = await _tls_echo_server(cert_file, key_file)
    trusting = HttpPool(url, ssl_context=_trusting(cert_file))
    default = HttpPool(url)
    try:
        for _ in range(2):
            reply = await trusting.request(_head(trusting), b"tls", 5)
            assert reply.body == b'{"seen": "tls"}'
        assert trusting.connections_opened == 1
        with pytest.raises(HttpError, match="SSL"):
            await default.request(_head(default), b"tls", 5)
    finally:
        await trusting.close()
        await default.close()
        await runner.cleanup()


@pytest.mark.parametrize(
    ("url", "origin", "host_header"),
    [
        ("https://api.weixin.qq.com", Origin("https", "api.weixin.qq.com", 443, ""),
         "api.weixin.qq.com"),
        ("http://127.0.0.1:8090/", Origin("http", "127.0.0.1", 8090, ""), "127.0.0.1:8090"),
        ("http://h/prefix/", Origin("http", "h", 80, "/prefix"), "h"),
        ("http://[::1]:8090", Origin("http", "::1", 8090, ""), "[::1]:8090"),
    ],
)  # fmt: skip
def test_origin_parses_base_urls(url: str, origin: Origin, host_header: str) -> None:
    """Scheme, host, default ports and a path prefix are taken from the base URL."""
    assert Origin.parse(url) == origin
    assert origin.host_header == host_header


@pytest.mark.parametrize("url", ["ftp://h", "api.weixin.qq.com", "https://"])
def test_origin_refuses_other_urls(url: str) -> None:
    """Anything but http(s)://host is a ValueError."""
    with pytest.raises(ValueError, match="base URL"):
        Origin.parse(url)


def test_works_on_uvloop(tmp_path: Path) -> None:
    """The worker's loop (uvloop) has its own transports: calls, reuse and TLS work there too."""
    cert_file, key_file = _certificate(tmp_path)

    async def scenario() -> tuple[int, list[bytes]]:
        runner, url = await _tls_echo_server(cert_file, key_file)
        pool = HttpPool(url, ssl_context=_trusting(cert_file))
        try:
            bodies = [(await pool.request(_head(pool), b"%d" % i, 5)).body for i in range(3)]
        finally:
            await pool.close()
            await runner.cleanup()
        return pool.connections_opened, bodies

    opened, bodies = uvloop.run(scenario())
    assert opened == 1
    assert bodies == [b'{"seen": "%d"}' % i for i in range(3)]
