"""The business API's HTTP boundary: request ids, bearer keys, bodies and error answers.

:func:`boundary` is the API sub-application's middleware. It binds a ``request_id`` (the
caller's ``X-Request-Id`` when it is sane, else a fresh one) for every log line of the
request, checks the bearer key in constant time, turns refusals into the contract's
``{"error", "detail"}`` JSON (with ``errcode`` on 502), and logs one summary line. Bodies are
read under the receiver's size limit and never logged; 422 messages name fields, never values.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
import uuid
from typing import Any, TypeVar

import orjson
import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import BaseModel, ValidationError

from receiver.api_models import PATTERN_MESSAGES, ErrorBody
from receiver.push import read_body
from shared.errors import (
    ApiError,
    ApiUnavailableError,
    InvalidRequestError,
    MalformedRequestError,
    PushError,
    StoreUnavailableError,
    UnauthorizedError,
    UpstreamRefusedError,
)
from shared.log import get_logger

log = get_logger(__name__)

M = TypeVar("M", bound=BaseModel)

API_KEYS: web.AppKey[tuple[bytes, ...]] = web.AppKey("api_key_digests")
PUBLIC_PATHS = frozenset({"/v1/openapi.json"})
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def key_digests(keys: frozenset[str]) -> tuple[bytes, ...]:
    """What the app keeps of the accepted keys: their SHA-256 digests."""
    return tuple(hashlib.sha256(key.encode("utf-8")).digest() for key in sorted(keys))


def key_accepted(authorization: str | None, digests: tuple[bytes, ...]) -> bool:
    """True when ``Authorization: Bearer <key>`` names an accepted key (constant time)."""
    scheme, _, key = (authorization or "").partition(" ")
    given = hashlib.sha256(key.strip().encode("utf-8")).digest()
    matched = False
    for digest in digests:  # every digest is compared: the time does not tell which matched
        matched |= hmac.compare_digest(given, digest)
    return matched and scheme.lower() == "bearer" and bool(key.strip())


def error_response(code: str, detail: str, status: int, errcode: int | None = None) -> web.Response:
    """The contract's error body."""
    body = ErrorBody(error=code, detail=detail, errcode=errcode)
    return web.json_response(body.model_dump(exclude_none=True), status=status)


def model_response(model: BaseModel, status: int = 200) -> web.Response:
    """A response model as JSON."""
    return web.json_response(model.model_dump(mode="json"), status=status)


async def read_model(request: web.Request, model: type[M], limit: int) -> M:
    """The JSON body validated as ``model`` (an empty body is ``{}``); 400/413/422 otherwise."""
    raw = await read_body(request, limit)
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise MalformedRequestError("the body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise MalformedRequestError("the body must be a JSON object")
    return validate(model, data)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """``model`` from ``data``, or InvalidRequestError naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequestError(describe(exc)) from exc


def describe(exc: ValidationError) -> str:
    """One line per problem: field and message, never the value."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        field = ".".join(str(p) for p in err["loc"])
        if not _FIELD_RE.fullmatch(field):
            field = "body" if not field else "a field"
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: is not a known field")
        elif err["type"] == "string_pattern_mismatch" and field in PATTERN_MESSAGES:
            parts.append(f"{field}: {PATTERN_MESSAGES[field]}")
        else:
            parts.append(f"{field}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


@web.middleware
async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, authentication, error answers and one summary log line."""
    request_id = request.headers.get(REQUEST_ID_HEADER, "")
    if not _REQUEST_ID_RE.fullmatch(request_id):
        request_id = uuid.uuid4().hex
    started = time.perf_counter()
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        response = await _answer(request, handler)
        log.info(
            "api_request_served",
            method=request.method,
            route=_route(request),
            status=response.status,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


async def _answer(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.path not in PUBLIC_PATHS:
            _authenticate(request)
        return await handler(request)
    except UpstreamRefusedError as exc:
        return error_response(exc.code, str(exc), exc.http_status, exc.errcode)
    except UnauthorizedError as exc:
        response = error_response(exc.code, str(exc), exc.http_status)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    except (ApiError, PushError) as exc:  # PushError: 413 body limit, 503 not durable
        return error_response(exc.code, str(exc), exc.http_status)
    except StoreUnavailableError:
        unavailable = ApiUnavailableError("the state store is unavailable; retry later")
        return error_response(unavailable.code, str(unavailable), unavailable.http_status)
    except web.HTTPException as exc:
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = error_response(code, exc.reason, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response


def _authenticate(request: web.Request) -> None:
    if not key_accepted(request.headers.get("Authorization"), request.config_dict[API_KEYS]):
        raise UnauthorizedError("a valid API key is required (Authorization: Bearer <key>)")


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"
