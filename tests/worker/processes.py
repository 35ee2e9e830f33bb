"""Real ``python -m worker`` processes for the shutdown and fault tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.polling import eventually
from tests.private_broker import free_port
from tests.worker.rig import APPID, DATA_KEY, SECRET

REPO = Path(__file__).resolve().parents[2]


def worker_env(amqp_url: str, prefix: str, db: Path, api_base: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process (its own health port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WXFACE_")}
    env.update(
        {
            "WXFACE_APPID": APPID, "WXFACE_APPSECRET": SECRET, "WXFACE_DATA_KEY": DATA_KEY,
            "WXFACE_AMQP_URL": amqp_url, "WXFACE_AMQP_PREFIX": prefix,
            "WXFACE_DATABASE_URL": f"sqlite:///{db}", "WXFACE_WECHAT_API_BASE": api_base,
            "WXFACE_WORKER_HTTP_PORT": str(free_port()), "WXFACE_LOG_FORMAT": "json",
            "WXFACE_WORKER_SWEEP_INTERVAL_S": "1", "WXFACE_SHUTDOWN_TIMEOUT_S": "5",
            "WXFACE_WORKER_PREFETCH": "8", "WXFACE_WORKER_CONCURRENCY": "8",
        }
    )  # fmt: skip
    env.update(extra)
    return env


@dataclass
class WorkerProcess:
    """One worker process; stdout/stderr go to a log file for post-mortems."""

    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def port(self) -> int:
        """The health port."""
        return int(self.env["WXFACE_WORKER_HTTP_PORT"])

    def start(self) -> None:
        """Start the process (a fresh health port each time)."""
        self.env["WXFACE_WORKER_HTTP_PORT"] = str(free_port())
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "worker"], cwd=REPO, env=self.env,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip

    async def wait_ready(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Poll /readyz until it answers 200."""
        url = f"http://127.0.0.1:{self.port}/readyz"
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool | None:
                assert self.proc is not None
                assert self.proc.poll() is None, (
                    f"worker exited: {self.log_path.read_text()[-2000:]}"
                )
                try:
                    async with http.get(url) as response:
                        return True if response.status == 200 else None
                except aiohttp.ClientError:
                    return None

            await eventually(ready, timeout, "worker /readyz", every_s=0.1)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop_quietly(self) -> None:
        """Kill the process if it still runs (test clean-up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
