"""The four variants: how to start each one's server and what it publishes to.

Each variant is a command line on 127.0.0.1:PORT; the durable ones (b, c, d) publish into their
own prefix's topology. (d) is ``python -m receiver`` configured through its ``WXFACE_``
environment, as an operator would run it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bench.receiver.process import Server
from bench.receiver.pushes import AES_KEY, APPID, PATH, TOKEN


class Kind(StrEnum):
    """The variants, by the letters the issue uses."""

    BARE = "a"
    AIOHTTP = "b"
    FLASK = "c"
    WXFACE = "d"


TITLES = {
    Kind.BARE: "(a) bare aiohttp, answers success",
    Kind.AIOHTTP: "(b) aiohttp + aio-pika, confirm per publish",
    Kind.FLASK: "(c) Flask + pika, gunicorn -w 2",
    Kind.WXFACE: "(d) wxface receiver",
}


@dataclass(frozen=True)
class Launch:
    """Where and how a variant runs in one benchmark run."""

    port: int
    amqp_url: str
    prefix: str
    workdir: Path  # logs and the receiver's spool
    receiver_workers: int = 1


def durable(kind: Kind) -> bool:
    """True for the variants that publish to RabbitMQ."""
    return kind is not Kind.BARE


def ready_path(kind: Kind) -> str:
    """A GET path that answers (200, or 405 for POST-only routes) once the server can serve."""
    return "/readyz" if kind is Kind.WXFACE else PATH


def server(kind: Kind, launch: Launch) -> Server:
    """The server process of ``kind`` (not started)."""
    log = launch.workdir / f"{kind.value}.log"
    py = sys.executable
    port = str(launch.port)
    if kind is Kind.BARE:
        return Server([py, "-m", "bench.receiver.bare", port], log)
    if kind is Kind.AIOHTTP:
        argv = [py, "-m", "bench.receiver.aio_baseline", port, launch.amqp_url, launch.prefix]
        return Server(argv, log)
    if kind is Kind.FLASK:
        factory = (
            f"bench.receiver.flask_baseline:create_app({launch.amqp_url!r}, {launch.prefix!r})"
        )
        gunicorn = str(Path(py).with_name("gunicorn"))
        return Server([gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", factory], log)
    return Server([py, "-m", "receiver"], log, env=receiver_env(launch))


def receiver_env(launch: Launch) -> dict[str, str]:
    """The environment ``python -m receiver`` runs with: ours, plus its settings."""
    return {
        **os.environ,
        "WXFACE_APPID": APPID,
        "WXFACE_TOKEN": TOKEN,
        "WXFACE_ENCODING_AES_KEY": AES_KEY,
        "WXFACE_AMQP_URL": launch.amqp_url,
        "WXFACE_AMQP_PREFIX": launch.prefix,
        "WXFACE_HTTP_HOST": "127.0.0.1",
        "WXFACE_HTTP_PORT": str(launch.port),
        "WXFACE_HTTP_WORKERS": str(launch.receiver_workers),
        "WXFACE_SPOOL_DIR": str(launch.workdir / "spool"),
        "WXFACE_LOG_FORMAT": "json",
    }
