"""shared.amqp.frames: the hot path's frames are written and read exactly as pamqp would.

Writing: the content header frames are byte for byte pamqp's. Reading: whatever the fast path
reads equals pamqp's object, any frame it cannot read is left to pamqp, and a real connection
to RabbitMQ reads its frames with it."""

from __future__ import annotations

import asyncio
import datetime
import types
from typing import Any, cast

import aio_pika
import aiormq.connection
import pytest
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from hypothesis import given
from hypothesis import strategies as st
from pamqp import frame
from pamqp.body import ContentBody
from pamqp.commands import Basic, Channel
from pamqp.constants import FRAME_BODY, FRAME_HEADER, FRAME_METHOD
from pamqp.header import ContentHeader
from pamqp.heartbeat import Heartbeat

from shared.amqp.connection import keep_connected
from shared.amqp.frames import (
    CONTENT_TYPE,
    FrameReader,
    header_frame,
    read_payload,
)

_HEADER_NAMES = st.sampled_from(["x-wxface-attempt", "x-wxface-dead-cause", "x"])


def _pamqp(channel: int, size: int, message_id: str, headers: dict[str, Any] | None) -> bytes:
    properties = Basic.Properties(
        delivery_mode=2, content_type=CONTENT_TYPE, message_id=message_id, headers=headers
    )
    return frame.marshal(ContentHeader(0, size, properties), channel)


@given(
    channel=st.integers(1, 65535),
    size=st.integers(0, 2**63 - 1),
    message_id=st.text(max_size=63),  # at most 252 bytes in UTF-8: a shortstr holds 255
    headers=st.none() | st.dictionaries(_HEADER_NAMES, st.integers(0, 2**31)),
)
def test_header_frames_match_pamqp(
    channel: int, size: int, message_id: str, headers: dict[str, Any] | None
) -> None:
    """With or without headers, any channel, body size and message_id."""
    expected = _pamqp(channel, size, message_id, headers or None)
    assert header_frame(channel, size, message_id, headers) == expected


def test_the_frame_reads_back_as_a_persistent_json_message() -> None:
    """pamqp parses the packed frame into the properties it was packed from."""
    raw = header_frame(7, 412, "0123456789abcdef0123456789abcdef", None)
    consumed, channel, parsed = frame.unmarshal(raw)
    assert (consumed, channel) == (len(raw), 7)
    assert isinstance(parsed, ContentHeader)
    assert parsed.body_size == 412
    props = parsed.properties
    assert (props.delivery_mode, props.content_type) == (2, CONTENT_TYPE)
    assert props.message_id == "0123456789abcdef0123456789abcdef"
    assert props.headers is None


def test_an_over_long_message_id_is_refused_as_pamqp_refuses_it() -> None:
    """A message_id over 255 bytes in UTF-8 is no shortstr: the frame is not built."""
    with pytest.raises(TypeError):
        header_frame(1, 10, "😀" * 64, None)  # 256 bytes


# --- reading -------------------------------------------------------------------------------

_SHORTSTRS = st.text(max_size=63)  # at most 252 bytes in UTF-8
_TAGS = st.integers(0, 2**63 - 1)  # pamqp packs some tags signed
_EXCHANGES = st.from_regex(r"[-a-zA-Z0-9_.:]{0,40}", fullmatch=True)  # what pamqp's Deliver takes
_DELIVERS = st.builds(Basic.Deliver, _SHORTSTRS, _TAGS, st.booleans(), _EXCHANGES, _SHORTSTRS)
_ACKS = st.builds(Basic.Ack, _TAGS, st.booleans())
_PROPERTIES = st.builds(
    Basic.Properties,
    content_type=st.none() | _SHORTSTRS,
    delivery_mode=st.none() | st.integers(1, 2),
    message_id=st.none() | _SHORTSTRS,
    headers=st.none() | st.dictionaries(_HEADER_NAMES, st.integers(0, 2**31)),
    priority=st.none() | st.integers(0, 9),
    timestamp=st.none()
    | st.datetimes(min_value=datetime.datetime(2000, 1, 1), timezones=st.just(datetime.UTC)).map(
        lambda t: t.replace(microsecond=0)
    ),
)
_HEADERS = st.builds(ContentHeader, st.just(0), st.integers(0, 2**63 - 1), _PROPERTIES)
_BODIES = st.builds(ContentBody, st.binary(min_size=1, max_size=300))  # pamqp refuses empty ones
_FRAMES = _DELIVERS | _ACKS | _HEADERS | _BODIES | st.builds(Basic.Nack, _TAGS)


def _state(obj: object) -> tuple[type, dict[str, Any]]:
    """What a pamqp frame object holds: its type and every attribute, slots included."""
    names = {n for cls in type(obj).__mro__ for n in getattr(cls, "__slots__", ())}
    fields = {n: getattr(obj, n) for n in names if hasattr(obj, n)}
    fields.update(getattr(obj, "__dict__", {}))
    return type(obj), fields


@given(frame_object=_FRAMES, channel=st.integers(1, 65535))
def test_a_frame_read_on_the_fast_path_is_the_object_pamqp_reads(
    frame_object: Any, channel: int
) -> None:
    """Deliveries, acks, bodies and content headers of any shape: either the fast path reads
    exactly pamqp's object, or it leaves the frame to pamqp (None)."""
    raw = frame.marshal(frame_object, channel)
    size, _, expected = frame.unmarshal(raw)
    read = read_payload(raw[0], raw[7:-1])
    if read is not None:
        assert _state(read) == _state(expected)
    assert size == len(raw)


@given(channel=st.integers(1, 65535), message_id=st.text(min_size=1, max_size=63))
def test_the_hot_paths_frames_all_take_the_fast_path(channel: int, message_id: str) -> None:
    """What the worker reads for every message never falls back to pamqp: a delivery, the
    header wxface's publishers write, a body and a publish confirm."""
    for raw in (
        frame.marshal(Basic.Deliver("ctag", 7, False, "", "wxface.verify"), channel),
        header_frame(channel, 208, message_id, None),
        frame.marshal(ContentBody(b'{"a": 1}'), channel),
        frame.marshal(Basic.Ack(7, True), channel),
    ):
        read = read_payload(raw[0], raw[7:-1])
        assert read is not None
        assert _state(read) == _state(frame.unmarshal(raw)[2])


@given(frame_type=st.sampled_from([FRAME_METHOD, FRAME_HEADER, FRAME_BODY]), junk=st.binary())
def test_a_malformed_payload_is_left_to_pamqp(frame_type: int, junk: bytes) -> None:
    """Arbitrary bytes: the fast path never raises, and reads nothing pamqp would read otherwise."""
    read = read_payload(frame_type, junk)
    if read is None:
        return
    raw = bytes((frame_type,)) + b"\x00\x01" + len(junk).to_bytes(4, "big") + junk + b"\xce"
    assert _state(read) == _state(frame.unmarshal(raw)[2])


@given(frame_object=_FRAMES, truncated=st.booleans())
def test_a_truncated_payload_is_never_read(frame_object: Any, truncated: bool) -> None:
    """A delivery, header or ack cut short, or with bytes after its end, is not the fast path's."""
    raw = frame.marshal(frame_object, 1)
    payload = raw[7:-1]
    if isinstance(frame_object, ContentBody) or not payload:
        return
    bad = payload[:-1] if truncated else payload + b"\x00"
    assert read_payload(raw[0], bad) is None


def _feed(chunks: list[bytes]) -> FrameReader:
    stream = asyncio.StreamReader()
    for chunk in chunks:
        stream.feed_data(chunk)
    reader = FrameReader(stream)
    reader.started = True  # past the handshake, which aiormq's own code reads
    return reader


@given(
    frames=st.lists(_FRAMES | st.just(Heartbeat()) | st.just(Channel.CloseOk()), max_size=12),
    cut=st.integers(1, 50),
)
async def test_a_stream_of_frames_reads_as_pamqp_reads_it(frames: list[Any], cut: int) -> None:
    """Whatever the chunks the bytes arrive in, the reader returns pamqp's frames, in order,
    with pamqp's sizes; then the end of the stream ends the iteration."""
    raw = b"".join(frame.marshal(f, 3) for f in frames)
    chunks = [raw[i : i + cut] for i in range(0, len(raw), cut)]
    reader = _feed(chunks)
    reader.reader.feed_eof()
    got = [item async for item in reader]
    at, expected = 0, []
    while at < len(raw):
        size, channel, parsed = frame.unmarshal(raw[at:])
        expected.append((size, channel, _state(parsed)))
        at += size
    assert [(size, channel, _state(parsed)) for size, channel, parsed in got] == expected


def _deliver_payload(exchange: bytes) -> bytes:
    """A basic.deliver's payload, packed by hand (pamqp's constructor checks the exchange)."""
    tag = (7).to_bytes(8, "big")
    return b"".join([
        Basic.Deliver.index.to_bytes(4, "big"), b"\x04ctag", tag, b"\x00",
        bytes((len(exchange),)), exchange, b"\x0dwxface.verify",
    ])  # fmt: skip


@pytest.mark.parametrize("exchange", ["wxface%x", "交换"])
async def test_a_delivery_pamqps_constructor_refuses_is_read_by_pamqp(exchange: str) -> None:
    """RabbitMQ allows exchange names pamqp's Deliver() refuses (its reader does not check):
    such a delivery is not the fast path's, and the reader still returns pamqp's frame."""
    payload = _deliver_payload(exchange.encode())
    assert read_payload(FRAME_METHOD, payload) is None
    raw = b"\x01\x00\x01" + len(payload).to_bytes(4, "big") + payload + b"\xce"
    size, channel, parsed = await _feed([raw]).get_frame()
    assert (size, channel) == (len(raw), 1)
    assert _state(parsed) == _state(frame.unmarshal(raw)[2])
    assert parsed.exchange == exchange


async def test_a_stream_cut_short_is_a_connection_error() -> None:
    raw = frame.marshal(Basic.Ack(1), 1)
    reader = _feed([raw[:-3]])
    reader.reader.feed_eof()
    with pytest.raises(AMQPConnectionError, match="unexpectedly closed"):
        await reader.get_frame()


async def test_an_empty_body_frame_is_refused_as_pamqp_refuses_it() -> None:
    raw = frame.marshal(ContentBody(b""), 1)
    assert read_payload(FRAME_BODY, raw[7:-1]) is None
    with pytest.raises(InvalidFrameError, match="No frame size"):
        await _feed([raw]).get_frame()


async def test_a_frame_without_its_end_byte_is_an_invalid_frame() -> None:
    raw = frame.marshal(Basic.Ack(1), 1)
    reader = _feed([raw[:-1] + b"\x00"])
    with pytest.raises(InvalidFrameError):
        await reader.get_frame()


def _receiver_of(connection: aio_pika.abc.AbstractConnection) -> object:
    """The frame receiver an open connection's aiormq reader task is reading with."""
    assert connection.transport is not None
    raw_connection = cast(aiormq.Connection, connection.transport.connection)
    reading = raw_connection._reader_task.get_coro()
    assert isinstance(reading, types.CoroutineType)
    assert reading.cr_frame is not None
    return reading.cr_frame.f_locals["frame_receiver"]


@pytest.mark.broker
async def test_keep_connecteds_connections_read_their_frames_with_the_frame_reader(
    amqp_url: str, unique_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against RabbitMQ, from a process's start (aiormq's own receiver installed): the
    connection keep_connected opens reads with a FrameReader, and a persistent JSON message
    published with a confirm comes back whole through it."""
    monkeypatch.setattr(aiormq.connection, "FrameReceiver", FrameReader.__bases__[0])
    stopping = asyncio.Event()
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    receivers: list[object] = []
    body = b'{"out_seq_no": "abc"}'

    async def serve(connection: aio_pika.abc.AbstractConnection) -> None:
        receivers.append(_receiver_of(connection))
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"{unique_prefix}.frames", exclusive=True)
        message = aio_pika.Message(
            body, message_id="m-1", content_type=CONTENT_TYPE, delivery_mode=2
        )
        await channel.default_exchange.publish(message, routing_key=queue.name)
        got.append(await asyncio.wait_for(queue.get(), 10))
        stopping.set()

    await asyncio.wait_for(keep_connected(amqp_url, serve, stopping, on_lost=lambda: None), 30)
    assert [type(r) for r in receivers] == [FrameReader]
    assert aiormq.connection.FrameReceiver is FrameReader
    assert (got[0].body, got[0].message_id, got[0].content_type) == (body, "m-1", CONTENT_TYPE)
    assert got[0].delivery_mode == aio_pika.DeliveryMode.PERSISTENT
