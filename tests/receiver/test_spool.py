"""Tests of receiver.spool: durable appends, bound, locking between processes, restart."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

import pytest

from receiver.record import frame
from receiver.spool import SUFFIX, Spool
from shared.errors import SpoolError


def _spool(path: Path, max_bytes: int = 1 << 20, segment_bytes: int = 1 << 16) -> Spool:
    spool = Spool(path, max_bytes, segment_bytes)
    spool.open()
    return spool


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def _append_bytes(path: Path, data: bytes) -> None:
    with path.open("ab") as file:
        file.write(data)


def _claim_all(spool: Spool) -> list[bytes]:
    records: list[bytes] = []
    for segment in spool.claim():
        records.extend(segment.records)
        spool.release(segment, relayed=True)
    return records


async def test_concurrent_appends_are_claimable_in_order_after_seal(tmp_path: Path) -> None:
    """Concurrent appends all land on disk, and sealed segments are claimed in append order."""
    spool = _spool(tmp_path, segment_bytes=512)
    payloads = [f"item-{n:04d}".encode() for n in range(200)]
    for chunk in range(0, 200, 50):
        await asyncio.gather(*(spool.append(p) for p in payloads[chunk : chunk + 50]))
    await spool.seal()
    assert spool.depth_bytes > 0
    claimed = _claim_all(spool)
    await spool.close()
    assert claimed == payloads
    assert spool.depth_bytes == 0
    assert not _segments(tmp_path)


async def test_active_segment_is_not_claimed(tmp_path: Path) -> None:
    """The segment a process is writing is locked: the relay cannot take it from under it."""
    spool = _spool(tmp_path)
    await spool.append(b"one")
    assert list(spool.claim()) == []
    await spool.seal()
    assert _claim_all(spool) == [b"one"]
    await spool.close()


async def test_segment_locked_by_another_process_is_skipped(tmp_path: Path) -> None:
    """A segment flock-ed elsewhere (a sibling receiver) is left alone until released."""
    path = tmp_path / f"seg-00000000000000000001-1{SUFFIX}"
    path.write_bytes(frame(b"sibling"))
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    spool = _spool(tmp_path)
    try:
        assert list(spool.claim()) == []
    finally:
        os.close(fd)
    assert _claim_all(spool) == [b"sibling"]
    await spool.close()


async def test_restart_finds_records_and_ignores_a_torn_tail(tmp_path: Path) -> None:
    """After a crash, a new spool on the same directory claims every intact record."""
    first = _spool(tmp_path)
    await first.append(b"a")
    await first.append(b"b")
    await first.close()
    [segment] = _segments(tmp_path)
    _append_bytes(segment, frame(b"torn")[:-2])
    second = _spool(tmp_path)
    assert second.depth_bytes == segment.stat().st_size
    assert _claim_all(second) == [b"a", b"b"]
    await second.close()


async def test_full_spool_refuses(tmp_path: Path) -> None:
    """Beyond max_bytes an append raises SpoolError instead of growing the disk."""
    spool = _spool(tmp_path, max_bytes=1024)
    await spool.append(b"x" * 500)
    with pytest.raises(SpoolError, match="full"):
        await spool.append(b"y" * 600)
    await spool.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only directories")
async def test_unwritable_directory_refuses(tmp_path: Path) -> None:
    """A spool directory that cannot be written makes appends fail (never a silent loss)."""
    os.chmod(tmp_path, 0o500)
    try:
        spool = _spool(tmp_path)
        with pytest.raises(SpoolError):
            await spool.append(b"x")
    finally:
        os.chmod(tmp_path, 0o700)


async def test_unusable_directory_refuses(tmp_path: Path) -> None:
    """A spool path that is not a directory makes the spool unwritable and appends fail."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    spool = _spool(blocker / "spool")
    assert not spool.writable
    with pytest.raises(SpoolError):
        await spool.append(b"x")
