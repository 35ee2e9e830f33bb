"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (can accept durably), ``/metrics``."""

from __future__ import annotations

from aiohttp import web

from receiver.keys import METRICS, PUBLISHER, READINESS, SPOOL
from receiver.metrics import CONTENT_TYPE_LATEST


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """200 when the broker is connected, the spool writable and every added check passes."""
    app = request.app
    checks = {"broker": app[PUBLISHER].ready, "spool": app[SPOOL].writable}
    for name, check in app[READINESS].items():
        checks[name] = await check()
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    m = request.app[METRICS]
    m.spool_bytes.set(request.app[SPOOL].depth_bytes)
    return web.Response(body=m.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    """Register the three operations routes."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
