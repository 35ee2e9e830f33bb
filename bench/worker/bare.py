"""The baseline: a bare hand-written loop doing the worker's I/O and nothing else.

consume ``{prefix}.verify`` → ``getinfo`` over HTTP → confirmed publish of a CloudEvent-shaped
outcome to ``{prefix}.identity`` → ack. No store, no checks, no retries, no metrics, no logs;
one access token fetched at start. ``python -m bench.worker.bare --amqp-url … --prefix …
--api-base … --appid … --secret … --prefetch N`` prints ``{"event": "bare_ready"}`` once
consuming and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import UTC, datetime

import aio_pika
import aiohttp
import orjson
from aio_pika.abc import AbstractExchange, AbstractIncomingMessage

from shared.amqp.topology import Topology


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.worker.bare", description=__doc__)
    for flag in ("--amqp-url", "--prefix", "--api-base", "--appid", "--secret"):
        p.add_argument(flag, required=True)
    p.add_argument("--prefetch", type=int, default=64)
    return p.parse_args(argv)


async def access_token(http: aiohttp.ClientSession, args: argparse.Namespace) -> str:
    """One stable_token fetch."""
    body = {"grant_type": "client_credential", "appid": args.appid, "secret": args.secret}
    async with http.post(f"{args.api_base}/cgi-bin/stable_token", json=body) as response:
        reply = await response.json(loads=orjson.loads)
    return str(reply["access_token"])


class BareLoop:
    """The per-message work of the baseline."""

    def __init__(self, http: aiohttp.ClientSession, getinfo_url: str, identity: AbstractExchange):
        self._http = http
        self._url = getinfo_url
        self._identity = identity

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """getinfo, publish with confirm, ack."""
        item = orjson.loads(message.body)
        payload = orjson.dumps({"verify_result": item["verify_result"]})
        async with self._http.post(self._url, data=payload) as response:
            reply = orjson.loads(await response.read())
        outcome = "verified" if reply.get("errcode") == 0 else "failed"
        event = {
            "specversion": "1.0", "id": message.message_id, "type": f"wxface.identity.{outcome}",
            "subject": item["out_seq_no"], "time": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        out = aio_pika.Message(orjson.dumps(event), message_id=message.message_id,
                               delivery_mode=aio_pika.DeliveryMode.PERSISTENT)  # fmt: skip
        await self._identity.publish(out, routing_key=f"identity.{outcome}", mandatory=True)
        await message.ack()


async def run(args: argparse.Namespace) -> None:
    """Consume until SIGTERM."""
    topology = Topology(args.prefix)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    connection = await aio_pika.connect(args.amqp_url)
    async with connection, aiohttp.ClientSession() as http:
        token = await access_token(http, args)
        publishing = await connection.channel(publisher_confirms=True)
        identity = await publishing.get_exchange(topology.identity)
        url = f"{args.api_base}/cityservice/face/identify/getinfo?access_token={token}"
        consuming = await connection.channel(publisher_confirms=False)
        await consuming.set_qos(prefetch_count=args.prefetch)
        queue = await consuming.get_queue(topology.verify)
        await queue.consume(BareLoop(http, url, identity).on_message)
        sys.stdout.write('{"event": "bare_ready"}\n')
        sys.stdout.flush()
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    asyncio.run(run(parse_args(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
