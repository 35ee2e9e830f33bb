"""The served OpenAPI document is true: schemathesis against the running service finds no 5xx
and no response outside the document (status, content type, body schema)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from receiver.api import install
from receiver.api_models import ID_CARD_FORMAT
from receiver.app import create_app
from receiver.keys import PUBLISHER
from standin.app import create_standin_app
from standin.config import StandinConfig
from tests.receiver.api.support import API_KEY, AUTH, SECRET, id_number
from tests.receiver.pushes import APPID, delete_topology, receiver_settings
from tests.shared.store.support import DATA_KEY

pytestmark = pytest.mark.broker

T = TypeVar("T")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class LiveService:
    """The stand-in and a receiver with the API, served from an event loop in a thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the service's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def start(self) -> None:
        """Start the loop's thread."""
        self._thread.start()

    async def serve(self, app: web.Application) -> str:
        """Serve ``app`` on a free port; its base URL."""
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def cleanup(self) -> None:
        """Stop every app (the receiver first)."""
        for runner in reversed(self._runners):
            await runner.cleanup()

    def stop(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _start_receiver(live: LiveService, url: str, prefix: str, tmp: Path) -> str:
    wechat = await live.serve(create_standin_app(StandinConfig(appid=APPID, secret=SECRET)))
    settings = receiver_settings(
        url,
        prefix,
        tmp / "spool",
        api_keys=SecretStr(API_KEY),
        appsecret=SecretStr(SECRET),
        data_key=SecretStr(DATA_KEY),
        database_url=f"sqlite:///{tmp / 'api.db'}",
        wechat_api_base=wechat,
    )
    app = create_app(settings, extend=install)
    base = await live.serve(app)
    assert await app[PUBLISHER].wait_ready(10)
    return base


@pytest.fixture
def live_api(amqp_url: str, unique_prefix: str, tmp_path: Path) -> Iterator[str]:
    """Base URL of a running receiver with the business API (SQLite, the stand-in as WeChat)."""
    live = LiveService()
    live.start()
    try:
        yield live.run(_start_receiver(live, amqp_url, unique_prefix, tmp_path))
    finally:
        live.run(live.cleanup())
        live.run(delete_topology(amqp_url, unique_prefix))
        live.stop()


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode))
def test_service_conforms_to_its_openapi_document(
    live_api: str, mode: schemathesis.GenerationMode
) -> None:
    """Every generated request gets a documented status, content type and body; never a 5xx."""
    schemathesis.openapi.format(ID_CARD_FORMAT, st.integers(0, 999).map(id_number))
    schema = schemathesis.openapi.from_url(f"{live_api}/v1/openapi.json")

    @given(case=schema.as_strategy(mode))
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def conforms(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(base_url=live_api, headers=AUTH, checks=CHECKS)

    conforms()
