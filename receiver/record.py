"""The spool's record framing: length prefix + CRC32, so a torn or corrupt tail is detected.

A record is ``u32 length ‖ u32 crc32(payload) ‖ payload`` (big-endian). Reading stops at the
first record that is incomplete or whose checksum does not match: after a crash mid-write only
the last record can be torn, and it was never acknowledged, so ignoring it loses nothing.
"""

from __future__ import annotations

import struct
import zlib

_HEADER = struct.Struct(">II")
HEADER_SIZE = _HEADER.size
MAX_PAYLOAD = 1 << 24  # a work item is < 2 KiB; anything bigger is a corrupt length


def frame(payload: bytes) -> bytes:
    """One record holding ``payload``."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("spool record too large")
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """The intact records at the start of ``data`` and the byte length they cover."""
    records: list[bytes] = []
    offset = 0
    while offset + HEADER_SIZE <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        end = offset + HEADER_SIZE + length
        if length > MAX_PAYLOAD or end > len(data):
            break
        payload = data[offset + HEADER_SIZE : end]
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        offset = end
    return records, offset
