"""The local append-only spool: where accepted pushes wait while RabbitMQ is unreachable.

Records (``receiver.record``) are appended to segment files under the spool directory and
fsync'd before :meth:`Spool.append` returns, so ``success`` is only answered for what is on
disk. Concurrent appends share one fsync (group commit). Every segment is ``flock``-ed by the
process writing it, so several receivers can share one directory: a segment nobody holds is
either sealed by us or left behind by a process that died, and :meth:`Spool.claim` hands it to
the relay. The spool is bounded by ``max_bytes``; beyond that, or when the disk fails, append
raises :class:`shared.errors.SpoolError` (the receiver answers 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from receiver.record import frame, read_records
from shared.errors import SpoolError
from shared.log import get_logger

log = get_logger(__name__)

SUFFIX = ".wxs"
DEFAULT_SEGMENT_BYTES = 4 * 1024 * 1024


@dataclass
class ClaimedSegment:
    """A segment locked by the relay: its intact records, oldest first."""

    path: Path
    fd: int
    size: int
    records: list[bytes]


class Spool:
    """One process's view of a spool directory; call :meth:`open` before use."""

    def __init__(
        self, directory: Path, max_bytes: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> None:
        self._dir = directory
        self._max_bytes = max_bytes
        self._segment_bytes = segment_bytes
        self._bytes = 0  # all segment bytes in the directory, as this process knows them
        self._fd: int | None = None  # the segment being written
        self._fd_size = 0
        self._sealing: list[int] = []  # sealed segments closed after their next fsync
        self._written = 0  # records written
        self._synced = 0  # records known to be on disk
        self._flush: asyncio.Future[None] | None = None
        self._broken: str | None = None
        self.appended = asyncio.Event()  # set on every append; the relay clears it

    @property
    def depth_bytes(self) -> int:
        """Bytes of spooled records not yet relayed (this process's knowledge)."""
        return self._bytes

    @property
    def writable(self) -> bool:
        """False after a disk failure; the process should be replaced."""
        return self._broken is None

    def has_room(self, nbytes: int) -> bool:
        """True when ``nbytes`` more would fit under the bound (and the spool is writable)."""
        return self.writable and self._bytes + nbytes <= self._max_bytes

    def open(self) -> None:
        """Create the directory if needed and account for segments already there."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            self._bytes = sum(p.stat().st_size for p in self._segments())
        except OSError as exc:
            self._broken = f"spool directory unusable: {exc.strerror}"
            log.error("spool_unusable", error=exc.strerror)
            return
        if self._bytes:
            self.appended.set()

    async def append(self, payload: bytes) -> None:
        """Append one record and return once it is on disk; raise SpoolError otherwise."""
        record = frame(payload)
        if self._broken is not None:
            raise SpoolError(self._broken)
        if self._bytes + len(record) > self._max_bytes:
            raise SpoolError("spool full")
        self._write(record)
        self.appended.set()
        await self._commit()

    def _write(self, record: bytes) -> None:
        if self._fd is None or self._fd_size >= self._segment_bytes:
            self._rotate()
        fd = self._require_fd()
        try:
            written = os.write(fd, record)
        except OSError as exc:
            written = -1
            error = exc.strerror or "write failed"
        else:
            error = "short write"
        if written != len(record):
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._fd_size)  # drop the partial record
            self._rotate()
            raise SpoolError(f"spool write failed: {error}")
        self._fd_size += written
        self._bytes += written
        self._written += 1

    def _require_fd(self) -> int:
        if self._fd is None:
            raise SpoolError(self._broken or "spool not open")
        return self._fd

    def _rotate(self) -> None:
        """Seal the current segment (if any) and start a new one, locked by this process."""
        if self._fd is not None:
            self._sealing.append(self._fd)
            self._fd = None
        path = self._dir / f"seg-{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _fsync_directory(self._dir)
        except OSError as exc:
            raise SpoolError(f"spool segment not creatable: {exc.strerror}") from exc
        self._fd, self._fd_size = fd, 0

    async def _commit(self) -> None:
        """Group commit: wait for an fsync that started after our write (or join the next)."""
        target = self._written
        while self._synced < target or self._sealing:
            if self._flush is None or self._flush.done():
                self._flush = asyncio.ensure_future(self._fsync_pending())
            await asyncio.shield(self._flush)

    async def _fsync_pending(self) -> None:
        target = self._written
        sealing, self._sealing = self._sealing, []
        fds = [*sealing, *([self._fd] if self._fd is not None else [])]
        try:
            await asyncio.to_thread(_fsync_all, fds)
        except OSError as exc:
            self._broken = f"spool fsync failed: {exc.strerror}"
            log.error("spool_fsync_failed", error=exc.strerror)
            raise SpoolError(self._broken) from exc
        finally:
            for fd in sealing:
                os.close(fd)  # releases the lock: the relay may now claim it
        self._synced = max(self._synced, target)

    async def seal(self) -> None:
        """Close the current segment (if it holds records) so the relay can claim it."""
        if self._fd is not None and self._fd_size > 0:
            self._sealing.append(self._fd)
            self._fd = None
            await self._commit()

    def claim(self) -> Iterator[ClaimedSegment]:
        """Segments no process holds, oldest first, each locked until :meth:`release`."""
        for path in self._segments():
            segment = _try_claim(path)
            if segment is not None:
                yield segment

    def release(self, segment: ClaimedSegment, *, relayed: bool) -> None:
        """Unlock a claimed segment; delete it first when all its records were relayed."""
        try:
            if relayed:
                segment.path.unlink(missing_ok=True)
                _fsync_directory(self._dir)
                self._bytes = max(0, self._bytes - segment.size)
        finally:
            os.close(segment.fd)

    async def close(self) -> None:
        """Flush and close the current segment (at shut-down)."""
        with contextlib.suppress(SpoolError):
            await self.seal()
        if self._fd is not None:  # an empty segment: nothing to keep
            os.close(self._fd)
            self._fd = None

    def _segments(self) -> list[Path]:
        return sorted(p for p in self._dir.iterdir() if p.name.endswith(SUFFIX))


def _try_claim(path: Path) -> ClaimedSegment | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None  # relayed by another process meanwhile
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None  # a live process still writes (or relays) it
    if os.fstat(fd).st_nlink == 0:
        os.close(fd)
        return None  # deleted by its relay after we opened it
    with os.fdopen(os.dup(fd), "rb") as file:
        data = file.read()
    records, _ = read_records(data)
    return ClaimedSegment(path=path, fd=fd, size=len(data), records=records)


def _fsync_all(fds: list[int]) -> None:
    for fd in fds:
        os.fsync(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
