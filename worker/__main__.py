"""``python -m worker`` runs one worker; ``python -m worker dlq list|redrive`` tends dead letters.

Settings are parsed once, here. SIGTERM/SIGINT stop consuming, drain in-flight messages within
``WXFACE_SHUTDOWN_TIMEOUT_S``, hand back the rest unacked and exit 0. The event loop is uvloop's,
as in the receiver: the worker's CPU goes mostly to socket I/O, timers and thread hand-overs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson
import uvloop

from shared.amqp.topology import Topology
from shared.errors import ConfigError
from shared.gc_tuning import tune_collector
from shared.log import configure_logging, get_logger
from shared.settings import AmqpSettings, LogSettings, WorkerSettings, load_settings
from worker.dlq import list_dead, redrive
from worker.service import WorkerService

log = get_logger("worker")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: no arguments to run the worker, ``dlq list|redrive`` for dead letters."""
    parser = argparse.ArgumentParser(prog="python -m worker", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    dlq = sub.add_parser("dlq", help="inspect or redrive dead letters")
    dlq.add_argument("action", choices=["list", "redrive"])
    dlq.add_argument("--limit", type=int, default=None, help="at most this many messages")
    return parser.parse_args(argv)


async def run(settings: WorkerSettings) -> None:
    """Run the worker until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service = WorkerService(settings)
    await service.start()
    tune_collector()
    await stop.wait()
    log.info("shutdown_requested")
    await service.stop()


async def tend_dead_letters(action: str, limit: int | None) -> None:
    """List (without consuming) or redrive dead letters; one JSON line per message."""
    amqp = load_settings(AmqpSettings)
    topology = Topology(amqp.amqp_prefix)
    url = amqp.amqp_url.get_secret_value()
    if action == "list":
        infos = await list_dead(url, topology, limit if limit is not None else 1000)
    else:
        infos = await redrive(url, topology, limit)
    for info in infos:
        sys.stdout.write(orjson.dumps(info.as_dict()).decode() + "\n")
    verb = "listed" if action == "list" else "redriven"
    log.info(f"dead_letters_{verb}", count=len(infos))


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parse_args(argv)
    try:
        logs = load_settings(LogSettings)
        configure_logging(logs.log_format, logs.log_level)
        if args.command == "dlq":
            uvloop.run(tend_dead_letters(args.action, args.limit))
        else:
            uvloop.run(run(load_settings(WorkerSettings)))
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
