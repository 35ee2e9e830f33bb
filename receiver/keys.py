"""The receiver app's dependencies, stored on the app under typed keys (never globals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from receiver.dedup import RecentPushes
from receiver.intake import Intake
from receiver.metrics import ReceiverMetrics
from receiver.relay import Relay
from receiver.spool import Spool
from shared.amqp.publisher import Publisher
from shared.settings import ReceiverSettings
from shared.wechat.push import PushPolicy

ReadinessCheck = Callable[[], Awaitable[bool]]

SETTINGS = web.AppKey("settings", ReceiverSettings)
POLICY = web.AppKey("policy", PushPolicy)
CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("clock")  # wall clock, timestamp windows
METRICS = web.AppKey("metrics", ReceiverMetrics)
RECENT = web.AppKey("recent", RecentPushes)
PUBLISHER = web.AppKey("publisher", Publisher)
SPOOL = web.AppKey("spool", Spool)
RELAY = web.AppKey("relay", Relay)
INTAKE = web.AppKey("intake", Intake)
# named readiness checks; the business API adds its store's
READINESS: web.AppKey[dict[str, ReadinessCheck]] = web.AppKey("readiness")
