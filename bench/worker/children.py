"""The processes under measurement: the WeChat stand-in, worker processes, the bare loop.

Each runs as ``python -m …`` in its own session with its output in a log file, so its CPU
time is its own (``/proc/<pid>/stat``). Workers are configured only through ``WXFACE_``
variables, as in production; the stand-in and the bare loop take command-line flags. A clean
run leaves no warning or error in the workers' JSON logs (:func:`bench.logs.logged_trouble`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.child import Child, child_env, free_port, wait_ready


async def start_standin(log_dir: Path, latency_ms: float) -> tuple[Child, str]:
    """The stand-in on a free port with ``latency_ms`` on every WeChat call; it and its URL."""
    args = ["-m", "standin", "--port", "0", "--latency-ms", str(latency_ms)]
    child = Child("standin", [*args, "--log-level", "warning"], child_env(),
                  log_dir / "standin.log", pipe_stdout=True)  # fmt: skip
    await child.start()
    line = await child.first_line()
    return child, f"http://127.0.0.1:{line['port']}"


@dataclass(frozen=True)
class WorkerLaunch:
    """What every worker process of a run shares."""

    amqp_url: str
    prefix: str
    database_url: str
    api_base: str
    appid: str
    secret: str
    data_key: str
    prefetch: int
    batch_linger_ms: float | None = None  # None: the worker's default
    backlog_linger_ms: float | None = None  # None: the worker's default

    def env(self, health_port: int) -> dict[str, str]:
        """The worker's WXFACE_ environment (concurrency = prefetch, as by default)."""
        lingers = {
            f"WXFACE_WORKER_{name}_LINGER_MS": str(ms)
            for name, ms in (("BATCH", self.batch_linger_ms), ("BACKLOG", self.backlog_linger_ms))
            if ms is not None
        }
        return {
            **child_env(), **lingers,
            "WXFACE_APPID": self.appid, "WXFACE_APPSECRET": self.secret,
            "WXFACE_DATA_KEY": self.data_key, "WXFACE_AMQP_URL": self.amqp_url,
            "WXFACE_AMQP_PREFIX": self.prefix, "WXFACE_DATABASE_URL": self.database_url,
            "WXFACE_WECHAT_API_BASE": self.api_base, "WXFACE_LOG_FORMAT": "json",
            "WXFACE_WORKER_HTTP_PORT": str(health_port),
            "WXFACE_WORKER_PREFETCH": str(self.prefetch),
            "WXFACE_WORKER_CONCURRENCY": str(self.prefetch),
        }  # fmt: skip


async def start_workers(
    launch: WorkerLaunch, count: int, log_dir: Path, ready_within_s: float = 60.0
) -> list[tuple[Child, str]]:
    """``count`` ``python -m worker`` processes, each ready (``/readyz`` 200), with the URL of
    its ``/metrics``.

    Should one fail to start or to get ready, every one started is stopped before the error
    propagates: each runs in its own session, so nothing else would end it.
    """
    workers: list[tuple[Child, int]] = []
    try:
        for i in range(count):
            port = free_port()
            child = Child(f"worker{i}", ["-m", "worker"], launch.env(port),
                          log_dir / f"worker{i}.log")  # fmt: skip
            workers.append((child, port))
            await child.start()
        async with aiohttp.ClientSession() as http:
            for child, port in workers:
                await wait_ready(child, http, f"http://127.0.0.1:{port}/readyz", ready_within_s)
    except BaseException:
        for child, _ in workers:
            await child.stop()
        raise
    return [(child, f"http://127.0.0.1:{port}/metrics") for child, port in workers]
