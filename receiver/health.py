"""Operations endpoints: ``/healthz`` (alive), ``/readyz`` (everything reachable),
``/readyz/intake`` (can make a push durable now), ``/metrics``.

``/readyz`` is the contract's: 200 only while the broker (and, with the business API, the
store) is reachable. ``/readyz/intake`` is the one a load balancer should route pushes by: it
stays 200 during a broker outage while the spool can take more, because a push answered then is
spooled durably, whereas a receiver taken out of rotation turns WeChat's push into a failure.
"""

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


# room a spool must have left to count as able to accept: a couple of typical work items
SPOOL_HEADROOM_BYTES = 1024


async def intake_ready(request: web.Request) -> web.Response:
    """200 when a push can be made durable now: the broker is connected or the spool has room."""
    app = request.app
    checks = {
        "broker": app[PUBLISHER].ready,
        "spool": app[SPOOL].has_room(SPOOL_HEADROOM_BYTES),
    }
    ready = any(checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition."""
    m = request.app[METRICS]
    m.spool_bytes.set(request.app[SPOOL].depth_bytes)
    return web.Response(body=m.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    """Register the operations routes."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/readyz/intake", intake_ready)
    app.router.add_get("/metrics", metrics)
