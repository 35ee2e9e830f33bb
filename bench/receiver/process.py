"""Server processes under test: start, wait until they answer, measure RSS, stop.

A variant may be several processes (gunicorn's master and workers, the receiver's supervisor
and workers); RSS is read from ``/proc/<pid>/status`` for every process of the tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class ServerError(RuntimeError):
    """A server under test did not come up or died."""


@dataclass(frozen=True)
class ProcessRss:
    """Resident memory of one process."""

    pid: int
    name: str
    rss_mb: float


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """One variant's server: a process group started from ``argv``, its output in ``log``."""

    def __init__(
        self, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self._argv = list(argv)
        self._log = log
        self._env = dict(env) if env is not None else None
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The top process's pid."""
        if self._proc is None:
            raise ServerError("server not started")
        return self._proc.pid

    async def start(self) -> None:
        """Start the process in a new session (its own process group)."""
        with self._log.open("ab") as out:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                env=self._env,
                start_new_session=True,
            )

    async def wait_answering(self, port: int, path: str, within_s: float = 30.0) -> None:
        """Wait until ``GET path`` on ``port`` answers 200 (or the path exists: 405)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.returncode is not None:
                raise ServerError(
                    f"{self._argv[0]} exited {self._proc.returncode}; see {self._log}"
                )
            if await _http_status(port, path) in (200, 405):
                return
            await asyncio.sleep(0.1)
        raise ServerError(f"{self._argv[0]} did not answer on :{port} within {within_s}s")

    def rss(self) -> list[ProcessRss]:
        """RSS of every live process of this server's tree."""
        return [r for pid in process_tree(self.pid) if (r := read_rss(pid)) is not None]

    async def stop(self, within_s: float = 15.0) -> int | None:
        """SIGTERM the top process, wait, SIGKILL the group if it lingers; the exit code."""
        if self._proc is None:
            return None
        proc, self._proc = self._proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(proc.wait(), within_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return await proc.wait()


async def _http_status(port: int, path: str) -> int | None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 5)
        parts = line.split()
        return int(parts[1]) if len(parts) > 1 else None
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        writer.close()


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def read_rss(pid: int) -> ProcessRss | None:
    """VmRSS of ``pid`` in MB, with its name; None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    if "VmRSS" not in fields:
        return None
    kb = int(fields["VmRSS"].split()[0])
    return ProcessRss(pid, fields.get("Name", "?").strip(), kb / 1024)
