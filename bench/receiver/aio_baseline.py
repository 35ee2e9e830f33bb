"""Variant (b): the receiver an experienced aiohttp + aio-pika user would write.

One connection, one confirm-mode channel; each request is verified and decrypted (the same pure
core as wxface), then published persistent and mandatory, awaiting its own confirm before
``success``. No batching, no spool, no de-duplication.
``python -m bench.receiver.aio_baseline PORT AMQP_URL PREFIX`` (the topology is declared by the
runner: exchange ``PREFIX.intake``, routing key ``verify``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator

import aio_pika
import uvloop
from aiohttp import web

from bench.receiver.pushes import PATH, policy
from shared.errors import PushError
from shared.vocabulary import Flow
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import PushPolicy, PushQuery, verify_push
from shared.work import WorkItem

EXCHANGE = web.AppKey("exchange", aio_pika.abc.AbstractExchange)
POLICY = web.AppKey("policy", PushPolicy)


async def push(request: web.Request) -> web.Response:
    """Verify, decrypt, publish with confirm, answer ``success``."""
    app = request.app
    try:
        verified = verify_push(
            PushQuery.from_mapping(request.query), await request.read(), app[POLICY], time.time()
        )
    except PushError as exc:
        return web.json_response({"error": exc.code}, status=exc.http_status)
    event = verified.event
    if isinstance(event, FaceIdentifyEvent):
        item = WorkItem(
            kind="push",
            flow=Flow.LEGACY,
            appid=app[POLICY].appid,
            out_seq_no=event.out_seq_no,
            openid=event.openid,
            verify_result=event.verify_result,
            create_time=event.CreateTime,
            received_at=time.time(),
        )
        message = aio_pika.Message(
            item.encode(),
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=item.message_id(),
            content_type="application/json",
        )
        await app[EXCHANGE].publish(message, routing_key="verify", mandatory=True)
    return web.Response(text="success")


def create_app(amqp_url: str, prefix: str) -> web.Application:
    """The app; its cleanup context owns the connection."""
    app = web.Application()
    app[POLICY] = policy()

    async def broker(app: web.Application) -> AsyncIterator[None]:
        connection = await aio_pika.connect_robust(amqp_url)
        channel = await connection.channel(publisher_confirms=True)
        app[EXCHANGE] = await channel.get_exchange(f"{prefix}.intake", ensure=False)
        yield
        await connection.close()

    app.cleanup_ctx.append(broker)
    app.router.add_post(PATH, push)
    return app


def main(argv: list[str]) -> int:
    """Serve on 127.0.0.1:PORT until SIGTERM."""
    port, amqp_url, prefix = int(argv[0]), argv[1], argv[2]
    web.run_app(
        create_app(amqp_url, prefix),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
