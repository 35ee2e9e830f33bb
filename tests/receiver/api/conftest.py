"""Fixtures of the business API tests: the stand-in as WeChat and receivers with the API.

The store suite's throw-away database fixtures (``backend``, ``make_database``, ``database``)
are reused from ``tests.shared.store.conftest``, so every test here runs on SQLite and on
PostgreSQL unless its module overrides ``backend``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import SecretStr

from receiver.api import install
from receiver.app import create_app
from receiver.keys import PUBLISHER
from shared.settings import ReceiverSettings
from standin.app import create_standin_app
from standin.config import StandinConfig
from tests.receiver.api.support import API_KEY, OTHER_KEY, SECRET
from tests.receiver.conftest import Client
from tests.receiver.pushes import APPID, delete_topology, receiver_settings
from tests.shared.store import conftest as store_fixtures
from tests.shared.store.support import DATA_KEY, Database

backend = store_fixtures.backend
make_database = store_fixtures.make_database
database = store_fixtures.database

ApiFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
async def standin_server(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> TestServer:
    """The WeChat stand-in, serving on a port of its own."""
    return await aiohttp_server(create_standin_app(StandinConfig(appid=APPID, secret=SECRET)))


@pytest.fixture
def standin(standin_server: TestServer) -> web.Application:
    """The stand-in's app (its memory and statistics: ``app[STATE]``, ``app[FACE]``)."""
    return standin_server.app


@pytest.fixture
def api_settings(
    amqp_url: str,
    unique_prefix: str,
    tmp_path: Path,
    standin_server: TestServer,
    database: Database,
) -> ReceiverSettings:
    """Receiver settings with the business API on, WeChat = the stand-in."""
    return receiver_settings(
        amqp_url,
        unique_prefix,
        tmp_path / "spool",
        api_keys=SecretStr(f"{API_KEY}, {OTHER_KEY}"),
        appsecret=SecretStr(SECRET),
        data_key=SecretStr(DATA_KEY),
        database_url=database.url,
        wechat_api_base=str(standin_server.make_url("")),
    )


@pytest.fixture
async def make_api(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    api_settings: ReceiverSettings,
) -> AsyncIterator[ApiFactory]:
    """Build receivers with the API (settings overridable), broker up; topology removed after."""

    async def build(**overrides: Any) -> Client:
        app = create_app(api_settings.model_copy(update=overrides), extend=install)
        client = await aiohttp_client(app)
        assert await app[PUBLISHER].wait_ready(10)
        return client

    yield build
    await delete_topology(api_settings.amqp_url.get_secret_value(), api_settings.amqp_prefix)


@pytest.fixture
async def api(make_api: ApiFactory) -> Client:
    """A receiver with the business API."""
    return await make_api()
