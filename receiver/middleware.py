"""HTTP boundary: JSON error bodies for refused pushes, and request latency.

A :class:`shared.errors.PushError` becomes ``{"error": code, "detail": text}`` with its HTTP
status (the messages name fields, never values or secrets). Anything unexpected is logged and
answered 500 without detail: the one ``except Exception`` of the HTTP process.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from receiver.keys import METRICS
from shared.errors import PushError
from shared.log import get_logger

log = get_logger(__name__)


def error_body(code: str, detail: str, status: int) -> web.Response:
    """The contract's error response."""
    return web.json_response({"error": code, "detail": detail}, status=status)


@web.middleware
async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer PushErrors with their status and body, never leak an unexpected exception, and
    observe every request's latency by route template (one middleware: one layer per request).
    """
    started = time.perf_counter()
    try:
        response = await handler(request)
    except PushError as exc:
        response = _refused(request, exc)
    except web.HTTPException as exc:
        _observe(request, started, exc.status)
        raise
    except Exception:
        log.exception("request_failed", path=request.path)
        response = error_body("internal", "internal error", 500)
    except BaseException:  # cancelled: still counted, as the client saw no answer
        _observe(request, started, 500)
        raise
    _observe(request, started, response.status)
    return response


def _refused(request: web.Request, exc: PushError) -> web.Response:
    request.app[METRICS].refused.labels(exc.code).inc()
    log.info("push_refused", reason=exc.code, status=exc.http_status)
    return error_body(exc.code, str(exc), exc.http_status)


def _observe(request: web.Request, started: float, status: int) -> None:
    """Latency under the route template (never the raw path)."""
    route = request.match_info.route.resource
    name = route.canonical if route is not None else "unmatched"
    request.app[METRICS].observe_request(
        name, request.method, status, time.perf_counter() - started
    )
