"""The worker's operations endpoints on its own port: ``/healthz``, ``/readyz``, ``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from worker.metrics import WorkerMetrics

Check = Callable[[], Awaitable[bool]]
CHECKS = web.AppKey("checks", Mapping[str, Check])
METRICS = web.AppKey("metrics", WorkerMetrics)


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when every readiness check (broker consumer, publisher, store) passes, else 503."""
    checks = {name: await check() for name, check in request.app[CHECKS].items()}
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_health_app(metrics_: WorkerMetrics, checks: Mapping[str, Check]) -> web.Application:
    """The operations app: its readiness is the conjunction of ``checks``."""
    app = web.Application()
    app[METRICS] = metrics_
    app[CHECKS] = checks
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app
