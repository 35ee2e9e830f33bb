"""AMQP 0-9-1 frames on the hot path, read and written without pamqp's general machinery.

Every work item and outcome crosses the wire as the same few frames: a ``basic.deliver``, a
content header with three properties (content type, delivery mode, message id), a content body,
and the broker's ``basic.ack`` confirming a publish. pamqp reads and writes any frame by walking
each class's field annotations, which costs several times more than the frame itself (reading
one delivery and one confirm: 57 µs through aiormq's receiver, 26 µs of it pamqp's).
This module handles those few shapes with ``struct`` and hands every other frame to pamqp:

- :func:`header_frame` packs the content header of a persistent JSON message;
- :class:`FrameReader` is aiormq's frame receiver with a fast path for the four frames above.
  :func:`use_frame_reader` makes aiormq's connections use it (aiormq creates its receiver by
  module-level name, so that is where it goes in; the aiormq version is pinned in
  ``pyproject.toml``).

Both are checked against pamqp byte for byte and object for object (``tests/shared/amqp/
test_frames.py``): a frame the fast path reads differently from pamqp, or cannot read, is read
by pamqp.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from typing import Any

import aiormq.connection
from aiormq.exceptions import AMQPConnectionError, InvalidFrameError
from pamqp import frame
from pamqp.body import ContentBody
from pamqp.commands import Basic
from pamqp.constants import FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD
from pamqp.exceptions import PAMQPException
from pamqp.header import ContentHeader

CONTENT_TYPE = "application/json"
PERSISTENT = 2

# frame type, channel, payload size (4.2.3); then a content header's class id, weight, body
# size and property flags (4.2.6): bits 15, 12 and 7 are content_type, delivery_mode and
# message_id, whose values follow in that order
_FRAME_START = struct.Struct(">BHI")
_HEADER_START = struct.Struct(">HHQH")
_PLAIN_FLAGS = 1 << 15 | 1 << 12 | 1 << 7
_CONTENT_TYPE_FIELD = bytes((len(CONTENT_TYPE),)) + CONTENT_TYPE.encode()
_SHORTSTR_MAX = 255
_METHOD_ID = struct.Struct(">I")  # class id << 16 | method id
_LONGLONG = struct.Struct(">Q")
_ACK_SIZE = 4 + 8 + 1  # method id, delivery tag, the "multiple" bit

HotFrame = ContentBody | ContentHeader | Basic.Ack | Basic.Deliver


def header_frame(
    channel_number: int, body_size: int, message_id: str, headers: Mapping[str, Any] | None
) -> bytes:
    """The content header frame of a persistent JSON message: its properties and body size.

    Without headers (an outcome event, a work item) the frame is packed here, as pamqp would
    pack it. With headers (a retry or a dead letter) pamqp marshals it.
    """
    mid = message_id.encode()
    if headers or not 0 < len(mid) <= _SHORTSTR_MAX:  # pamqp drops an empty id, refuses a long one
        properties = Basic.Properties(
            delivery_mode=PERSISTENT, content_type=CONTENT_TYPE, message_id=message_id,
            headers=dict(headers) if headers else None,
        )  # fmt: skip
        return frame.marshal(ContentHeader(0, body_size, properties), channel_number)
    payload = b"%b%b%b%b" % (
        _HEADER_START.pack(Basic.frame_id, 0, body_size, _PLAIN_FLAGS),
        _CONTENT_TYPE_FIELD, bytes((PERSISTENT, len(mid))), mid,
    )  # fmt: skip
    return b"%b%b\xce" % (_FRAME_START.pack(FRAME_HEADER, channel_number, len(payload)), payload)


def read_payload(frame_type: int, payload: bytes) -> HotFrame | None:
    """The frame object pamqp would read from ``payload``, for the hot path's shapes; else None.

    A content body, a ``basic.ack``, a ``basic.deliver``, and a content header that carries
    exactly a content type, a delivery mode and a message id. Anything else, anything
    malformed, and anything pamqp's constructors refuse (such as an exchange name outside its
    pattern, which pamqp's reader accepts) is None: pamqp reads it, and raises what it raises.
    An empty payload is left to pamqp too: a heartbeat has one, and pamqp refuses any other.
    """
    if not payload:
        return None
    try:
        if frame_type == FRAME_BODY:
            return ContentBody(payload)
        if frame_type == FRAME_METHOD:
            return _method(payload)
        if frame_type == FRAME_HEADER:
            return _plain_header(payload)
    except (IndexError, struct.error, ValueError):  # UnicodeDecodeError is a ValueError
        pass
    return None


def _method(payload: bytes) -> Basic.Ack | Basic.Deliver | None:
    (method_id,) = _METHOD_ID.unpack_from(payload)
    if method_id == Basic.Ack.index and len(payload) == _ACK_SIZE:
        (tag,) = _LONGLONG.unpack_from(payload, 4)
        return Basic.Ack(tag, bool(payload[12] & 1))
    if method_id != Basic.Deliver.index:
        return None
    consumer_tag, at = _shortstr(payload, 4)
    (tag,) = _LONGLONG.unpack_from(payload, at)
    redelivered = bool(payload[at + 8] & 1)
    exchange, at = _shortstr(payload, at + 9)
    routing_key, at = _shortstr(payload, at)
    if at != len(payload):
        return None
    return Basic.Deliver(consumer_tag, tag, redelivered, exchange, routing_key)


def _plain_header(payload: bytes) -> ContentHeader | None:
    class_id, weight, body_size, flags = _HEADER_START.unpack_from(payload)
    if flags != _PLAIN_FLAGS:
        return None
    content_type, at = _shortstr(payload, _HEADER_START.size)
    delivery_mode = payload[at]
    message_id, at = _shortstr(payload, at + 1)
    if at != len(payload):
        return None
    properties = Basic.Properties(
        content_type=content_type, delivery_mode=delivery_mode, message_id=message_id
    )
    header = ContentHeader(weight, body_size, properties)
    header.class_id = class_id  # as pamqp's unmarshal sets it
    return header


def _shortstr(payload: bytes, at: int) -> tuple[str, int]:
    """The short string at ``at`` and the offset after it; IndexError if it runs past the end."""
    end = at + 1 + payload[at]
    if end > len(payload):
        raise IndexError(at)
    return payload[at + 1 : end].decode(), end


class FrameReader(aiormq.connection.FrameReceiver):
    """aiormq's frame receiver, reading the hot path's frames with :func:`read_payload`.

    The connection's handshake (until the first frame has been read) goes through aiormq's own
    code, which also recognises a broker that answers with its protocol header. Afterwards a
    frame is two reads, its header and the rest; errors become the same aiormq exceptions.
    """

    async def get_frame(self) -> tuple[int, int, Any]:
        if not self.started:
            return await super().get_frame()
        reader = self.reader
        if reader.at_eof():
            del self.reader
            raise StopAsyncIteration
        try:
            start = await reader.readexactly(_FRAME_START.size)
            frame_type, channel, size = _FRAME_START.unpack(start)
            rest = await reader.readexactly(size + 1)
        except asyncio.IncompleteReadError as exc:
            raise AMQPConnectionError(
                "Server connection unexpectedly closed. "
                f"Read {len(exc.partial)} bytes but {exc.expected} bytes expected"
            ) from exc
        except OSError as exc:
            raise AMQPConnectionError(f"Server communication error: {exc!r}") from exc
        if rest[-1] == FRAME_END:
            read = read_payload(frame_type, rest[:-1])
            if read is not None:
                return _FRAME_START.size + size + 1, channel, read
        try:
            return frame.unmarshal(start + rest)
        except PAMQPException as exc:
            raise InvalidFrameError(str(exc)) from exc


def use_frame_reader() -> None:
    """Have every aiormq connection opened from now on read its frames with :class:`FrameReader`."""
    aiormq.connection.FrameReceiver = FrameReader  # type: ignore[misc]
