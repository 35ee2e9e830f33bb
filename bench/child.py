"""Child processes of the demo and the benchmarks: start with a log file, wait, stop politely.

Each child is ``python <args>`` run from the repository in its own session (process group), so
a Ctrl-C in the terminal reaches only the parent, which stops the children in order: SIGTERM,
and SIGKILL after a timeout. Its CPU time is its own (``/proc/<pid>/stat``), which the
benchmarks read through :attr:`Child.pid`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp
import orjson

REPO = Path(__file__).resolve().parents[1]
POLL_S = 0.1


class ChildError(RuntimeError):
    """A child process did not come up, or died."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(settings: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any WXFACE_ variable, plus ``settings``."""
    # the one place the parent looks at its environment: to hand PATH, locale etc. to children
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("WXFACE_")}
    return {**inherited, **(settings or {})}


class Child:
    """One child process: ``python <args>`` in the repository, stderr (and stdout) to a log."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        *,
        pipe_stdout: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._argv = [sys.executable, *args]
        self._env = dict(env)
        self._pipe_stdout = pipe_stdout
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The process id."""
        if self._proc is None:
            raise ChildError(f"{self.name} not started")
        return self._proc.pid

    @property
    def stdout(self) -> asyncio.StreamReader:
        """The child's stdout (only when started with ``pipe_stdout``)."""
        if self._proc is None or self._proc.stdout is None:
            raise ChildError(f"{self.name} has no stdout pipe")
        return self._proc.stdout

    @property
    def returncode(self) -> int | None:
        """Its exit status, None while it runs (or before it started)."""
        return None if self._proc is None else self._proc.returncode

    async def start(self) -> None:
        """Start the process in a new session, its output appended to the log file."""
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self._argv,
                cwd=REPO,
                env=self._env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if self._pipe_stdout else log,
                stderr=log,
                start_new_session=True,
            )

    async def first_line(self, within_s: float = 30.0) -> dict[str, object]:
        """The first JSON line the process printed on its (piped) stdout."""
        try:
            line = await asyncio.wait_for(self.stdout.readline(), within_s)
            parsed = orjson.loads(line)
        except (TimeoutError, orjson.JSONDecodeError) as exc:
            raise ChildError(f"{self.name} printed no ready line; see {self.log_path}") from exc
        if not isinstance(parsed, dict):
            raise ChildError(f"{self.name} printed an unexpected line")
        return parsed

    def check_alive(self) -> None:
        """Raise ChildError if the process has exited."""
        if self._proc is not None and self._proc.returncode is not None:
            raise ChildError(
                f"{self.name} exited with {self._proc.returncode}; see {self.log_path}"
            )

    async def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; the exit status."""
        proc = self._proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        return proc.returncode


async def wait_ready(
    child: Child, http: aiohttp.ClientSession, url: str, within_s: float = 60.0
) -> None:
    """Poll ``url`` until it answers 200; ChildError if the child dies or time runs out."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        child.check_alive()
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(POLL_S)  # polling another process: nothing to wait on but time
    raise ChildError(f"{child.name} was not ready within {within_s:.0f} s; see {child.log_path}")
