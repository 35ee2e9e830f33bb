"""The publisher's own content header frames are byte for byte what pamqp would marshal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pamqp import frame
from pamqp.commands import Basic
from pamqp.header import ContentHeader

from shared.amqp.publisher import CONTENT_TYPE, header_frame

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
