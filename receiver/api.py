"""The business API (``/v1/…``): routes, and the resources it adds to the receiver app.

:func:`install` is the receiver's ``create_app(settings, extend=install)`` hook. When
``WXFACE_API_KEYS`` is set it mounts the ``/v1`` sub-application (its own middleware:
``receiver/api_http.py``), adds a cleanup context that opens the state store and the WeChat
client (its kept-alive connections), and a ``store`` readiness check. Without keys it does nothing:
the business API is disabled. The use cases live in ``receiver/api_service.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from aiohttp import web

from receiver.api_http import (
    API_KEYS,
    boundary,
    key_digests,
    model_response,
    read_model,
    validate,
)
from receiver.api_models import PathParameters, RegistrationRequest, ResultSubmission
from receiver.api_service import DurableIntake, Verifications
from receiver.keys import INTAKE, READINESS, SETTINGS
from receiver.openapi import openapi_document
from shared.errors import StoreUnavailableError
from shared.log import get_logger
from shared.settings import ReceiverSettings
from shared.store import Store, open_store
from shared.wechat.client import WechatClient

log = get_logger(__name__)

PREFIX = "/v1"


class ApiRuntime:
    """The API's resources: opened at start-up (store, WeChat client), closed at clean-up."""

    def __init__(self, settings: ReceiverSettings, intake: DurableIntake) -> None:
        self._settings = settings
        self._intake = intake
        self._store: Store | None = None
        self._verifications: Verifications | None = None

    @property
    def store(self) -> Store:
        """The open store (only between start-up and clean-up)."""
        if self._store is None:
            raise StoreUnavailableError("the business API has not started")
        return self._store

    @property
    def verifications(self) -> Verifications:
        """The use cases (only between start-up and clean-up)."""
        if self._verifications is None:
            raise StoreUnavailableError("the business API has not started")
        return self._verifications

    async def run(self, app: web.Application) -> AsyncIterator[None]:
        """Cleanup context: open the store and the WeChat client, close them after."""
        settings = self._settings
        data_key = settings.data_key.get_secret_value() if settings.data_key else ""
        self._store = store = await open_store(settings.database_url, data_key)
        try:
            async with WechatClient.from_settings(settings) as wechat:
                self._verifications = Verifications(store, wechat, self._intake, settings.appid)
                log.info("business_api_started")
                yield
        finally:
            self._store = self._verifications = None
            await store.close()

    async def ready(self) -> bool:
        """Readiness: the store answers."""
        try:
            await self.store.ping()
        except StoreUnavailableError:
            return False
        return True


RUNTIME = web.AppKey("api_runtime", ApiRuntime)
OPENAPI: web.AppKey[bytes] = web.AppKey("api_openapi")


def install(app: web.Application) -> None:
    """Mount the business API on the receiver app (no-op when no API key is configured)."""
    settings = app[SETTINGS]
    keys = settings.api_key_set()
    if not keys:
        log.info("business_api_disabled")
        return
    runtime = ApiRuntime(settings, app[INTAKE])
    app[API_KEYS], app[RUNTIME] = key_digests(keys), runtime
    app[OPENAPI] = orjson.dumps(openapi_document())
    app.cleanup_ctx.append(runtime.run)
    app[READINESS]["store"] = runtime.ready
    api = web.Application(middlewares=[boundary])
    api.router.add_post("/verifications", register)
    api.router.add_post("/verifications/{out_seq_no}/result", submit_result)
    api.router.add_get("/verifications/{out_seq_no}", status)
    api.router.add_get("/openapi.json", openapi)
    app.add_subapp(PREFIX, api)


async def register(request: web.Request) -> web.Response:
    """``POST /v1/verifications``."""
    body = await read_model(request, RegistrationRequest, _limit(request))
    registered = await request.config_dict[RUNTIME].verifications.register(body)
    return model_response(registered, status=201)


async def submit_result(request: web.Request) -> web.Response:
    """``POST /v1/verifications/{out_seq_no}/result``."""
    out_seq_no = _out_seq_no(request)
    body = await read_model(request, ResultSubmission, _limit(request))
    accepted = await request.config_dict[RUNTIME].verifications.submit_result(out_seq_no, body)
    return model_response(accepted, status=202)


async def status(request: web.Request) -> web.Response:
    """``GET /v1/verifications/{out_seq_no}``."""
    view = await request.config_dict[RUNTIME].verifications.status(_out_seq_no(request))
    return model_response(view)


async def openapi(request: web.Request) -> web.Response:
    """``GET /v1/openapi.json``."""
    return web.Response(body=request.config_dict[OPENAPI], content_type="application/json")


def _out_seq_no(request: web.Request) -> str:
    path = validate(PathParameters, dict(request.match_info))
    return path.out_seq_no


def _limit(request: web.Request) -> int:
    return request.config_dict[SETTINGS].max_body_bytes
