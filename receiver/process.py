"""Running receiver processes: one server, or several sharing the port (``SO_REUSEPORT``).

:func:`serve` runs one process until SIGTERM/SIGINT: aiohttp stops accepting, finishes
in-flight requests (up to ``shutdown_timeout_s``), then the app's cleanup seals and fsyncs the
spool and closes the broker connection; the process exits 0. :func:`supervise` starts
``http_workers`` such processes and forwards a stop signal to each exactly once, and only after
that worker can handle it (a signal during start-up must not kill it with a non-zero status).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from multiprocessing.synchronize import Event
from types import FrameType

import uvloop
from aiohttp import web

from receiver.api import install as install_business_api
from receiver.app import create_app
from shared.log import configure_logging, get_logger
from shared.settings import ReceiverSettings

log = get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop_before_serving(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # nothing accepted yet: nothing to drain


def serve(
    settings: ReceiverSettings, reuse_port: bool = False, started: Event | None = None
) -> None:
    """Run one receiver process until SIGTERM/SIGINT; set ``started`` once signals are safe."""
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _stop_before_serving)
    if started is not None:
        started.set()
    configure_logging(settings.log_format, settings.log_level)
    web.run_app(
        create_app(settings, extend=install_business_api),
        host=settings.http_host,
        port=settings.http_port,
        reuse_port=reuse_port or None,
        shutdown_timeout=settings.shutdown_timeout_s,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


def supervise(settings: ReceiverSettings) -> int:
    """Start ``http_workers`` processes on one port; forward stop signals; 0 if all exit 0."""
    context = multiprocessing.get_context("spawn")
    stop: list[int] = []
    for signum in _STOP_SIGNALS:  # inherited (as ignored) by the children until serve() starts
        signal.signal(signum, signal.SIG_IGN)
    workers = []
    for n in range(settings.http_workers):
        started = context.Event()
        process = context.Process(target=serve, args=(settings, True, started), name=f"rx-{n}")
        process.start()
        workers.append((process, started))
    for signum in _STOP_SIGNALS:
        signal.signal(signum, lambda s, _f: stop.append(s))
    log.info("receiver_workers_started", workers=len(workers))
    pending = list(workers)
    while pending and any(p.is_alive() for p, _ in pending):
        for process, started in list(pending):
            if stop and (started.is_set() or not process.is_alive()):
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, stop[0])
                pending.remove((process, started))
        if pending:
            pending[0][0].join(0.2)
    for process, _ in workers:
        process.join()
    codes = [p.exitcode for p, _ in workers]
    log.info("receiver_workers_stopped", exit_codes=codes)
    return 0 if all(c == 0 for c in codes) else 1
