"""``create_app``: the receiver's aiohttp application and the resources it owns.

The publisher (connection loop), the spool and its relay are started and stopped by the app's
``cleanup_ctx``. At shut-down the relay stops first, then the spool is sealed and fsync'd, then
the connection closes. Extra routes (the business API) plug in through ``extend``, which runs
before the app is frozen and may add routes, readiness checks and cleanup contexts.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from receiver import health, push
from receiver.dedup import RecentPushes
from receiver.intake import Intake
from receiver.keys import (
    CLOCK,
    INTAKE,
    METRICS,
    POLICY,
    PUBLISHER,
    READINESS,
    RECENT,
    RELAY,
    SETTINGS,
    SPOOL,
)
from receiver.metrics import ReceiverMetrics
from receiver.middleware import boundary
from receiver.relay import Relay
from receiver.spool import Spool
from shared.amqp.publisher import Publisher
from shared.amqp.topology import Topology
from shared.log import get_logger
from shared.settings import ReceiverSettings
from shared.wechat.crypto import AesCipher
from shared.wechat.push import PushPolicy

log = get_logger(__name__)

Extension = Callable[[web.Application], None]


def push_policy(settings: ReceiverSettings) -> PushPolicy:
    """The push policy the settings describe."""
    key = settings.encoding_aes_key
    return PushPolicy(
        token=settings.token.get_secret_value(),
        appid=settings.appid,
        cipher=AesCipher(key.get_secret_value()) if key is not None else None,
        allow_plaintext=settings.allow_plaintext_push,
        skew_s=settings.timestamp_skew_s,
    )


def create_app(
    settings: ReceiverSettings,
    *,
    extend: Extension | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The receiver app; ``extend(app)`` may register more routes and resources."""
    app = web.Application(middlewares=[boundary])
    metrics = ReceiverMetrics()
    publisher = Publisher(
        settings.amqp_url.get_secret_value(),
        Topology(settings.amqp_prefix),
        confirm_timeout_s=settings.publish_confirm_timeout_s,
        on_confirm=metrics.confirm_seconds.observe,
        on_broker_close=lambda what: metrics.broker_closes.labels(what).inc(),
    )
    spool = Spool(Path(settings.spool_dir), settings.spool_max_bytes)
    app[SETTINGS], app[POLICY], app[CLOCK], app[METRICS] = (
        settings,
        push_policy(settings),
        clock,
        metrics,
    )
    app[RECENT] = RecentPushes(settings.dedup_max_entries, ttl_s=2.0 * settings.timestamp_skew_s)
    app[PUBLISHER], app[SPOOL] = publisher, spool
    app[RELAY] = Relay(spool, publisher, on_relayed=metrics.spool_relayed.inc)
    app[INTAKE] = Intake(publisher, spool)
    app[READINESS] = {}
    app.cleanup_ctx.append(_resources)
    push.add_routes(app)
    health.add_routes(app)
    if extend is not None:
        extend(app)
    return app


async def _resources(app: web.Application) -> AsyncIterator[None]:
    publisher, spool, relay = app[PUBLISHER], app[SPOOL], app[RELAY]
    spool.open()
    await publisher.start()
    relay.start()
    log.info("receiver_started", prefix=publisher.topology.prefix, spool_bytes=spool.depth_bytes)
    yield
    await relay.stop()
    await spool.close()
    await publisher.close()
    log.info("receiver_stopped", spool_bytes=spool.depth_bytes)
