"""Tests of receiver.record: spool framing with length prefix and CRC32."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from receiver.record import HEADER_SIZE, frame, read_records

_PAYLOADS = st.lists(st.binary(max_size=300), max_size=20)


@given(_PAYLOADS)
def test_round_trip(payloads: list[bytes]) -> None:
    """Framed records read back identically, covering every byte."""
    data = b"".join(frame(p) for p in payloads)
    assert read_records(data) == (payloads, len(data))


@given(_PAYLOADS, st.binary(min_size=1, max_size=300), st.data())
def test_torn_last_record_is_ignored(
    payloads: list[bytes], last: bytes, data: st.DataObject
) -> None:
    """A record cut anywhere (a crash mid-write) is dropped; the ones before it survive."""
    whole = b"".join(frame(p) for p in payloads)
    torn = frame(last)[: data.draw(st.integers(0, HEADER_SIZE + len(last) - 1))]
    assert read_records(whole + torn) == (payloads, len(whole))


@given(_PAYLOADS, st.binary(min_size=1, max_size=300), st.data())
def test_corrupt_record_stops_reading(
    payloads: list[bytes], last: bytes, data: st.DataObject
) -> None:
    """A record whose bytes changed fails its CRC and is not returned."""
    record = bytearray(frame(last))
    i = data.draw(st.integers(HEADER_SIZE, len(record) - 1))
    record[i] ^= 0xFF
    whole = b"".join(frame(p) for p in payloads)
    assert read_records(whole + bytes(record))[0] == payloads
