"""``python -m standin``: run the WeChat API stand-in on its own (demo, benchmarks, manual use).

Prints one JSON line ``{"event": "standin_listening", "host", "port"}`` on stdout once bound
(so ``--port 0`` is usable by a parent process), then serves until SIGTERM or SIGINT. It runs
on uvloop, as the receiver and the worker do: in the benchmarks it shares the cores with what
they measure, so its own cost per call is kept low.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson
import uvloop
from aiohttp import web

from shared.gc_tuning import tune_collector
from shared.log import configure_logging
from standin.app import create_standin_app
from standin.config import StandinConfig


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, StandinConfig]:
    """Command-line flags → (bind options, stand-in configuration)."""
    d = StandinConfig()
    p = argparse.ArgumentParser(prog="python -m standin", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--appid", default=d.appid)
    p.add_argument("--secret", default=d.secret, help="the appsecret clients must present")
    p.add_argument("--token", default=d.token, help="message-push Token the pusher signs with")
    p.add_argument("--encoding-aes-key", default=d.encoding_aes_key, help="'' for none")
    p.add_argument("--verify-result-ttl-s", type=float, default=d.verify_result_ttl_s)
    p.add_argument("--id-key-ttl-s", type=int, default=d.id_key_ttl_s)
    p.add_argument("--token-ttl-s", type=int, default=d.token_ttl_s)
    p.add_argument("--latency-ms", type=float, default=d.latency_ms)
    p.add_argument("--fault-rate", type=float, default=d.fault_rate)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    a = p.parse_args(argv)
    config = StandinConfig(
        appid=a.appid,
        secret=a.secret,
        token=a.token,
        encoding_aes_key=a.encoding_aes_key or None,
        verify_result_ttl_s=a.verify_result_ttl_s,
        id_key_ttl_s=a.id_key_ttl_s,
        token_ttl_s=a.token_ttl_s,
        latency_ms=a.latency_ms,
        fault_rate=a.fault_rate,
        seed=a.seed,
    )
    return a, config


async def serve(host: str, port: int, config: StandinConfig) -> None:
    """Serve the stand-in until SIGTERM/SIGINT."""
    runner = web.AppRunner(create_standin_app(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    line = {"event": "standin_listening", "host": bound_host, "port": bound_port}
    sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()
    tune_collector()  # its pauses would be WeChat's latency in the benchmarks
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    args, config = parse_args(argv)
    configure_logging(level=args.log_level)
    uvloop.run(serve(args.host, args.port, config))


if __name__ == "__main__":
    main()
