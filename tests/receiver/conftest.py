"""Fixtures for receiver tests: receiver apps on the shared broker under a unique prefix."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from receiver.app import create_app
from receiver.keys import PUBLISHER
from shared.settings import ReceiverSettings
from tests.receiver.pushes import delete_topology, receiver_settings

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]


@pytest.fixture
def settings(amqp_url: str, unique_prefix: str, tmp_path: Path) -> ReceiverSettings:
    """Receiver settings on the shared broker, a unique prefix and a private spool."""
    return receiver_settings(amqp_url, unique_prefix, tmp_path / "spool")


@pytest.fixture
async def make_client(
    aiohttp_client: Callable[[web.Application], Awaitable[Client]],
    settings: ReceiverSettings,
) -> AsyncIterator[ClientFactory]:
    """Build receivers (settings overridable) whose broker connection is up; clean up after."""

    async def build(**overrides: Any) -> Client:
        app = create_app(settings.model_copy(update=overrides))
        test_client = await aiohttp_client(app)
        assert await app[PUBLISHER].wait_ready(10)
        return test_client

    yield build
    await delete_topology(settings.amqp_url.get_secret_value(), settings.amqp_prefix)


@pytest.fixture
async def client(make_client: ClientFactory) -> Client:
    """A receiver in safe mode (EncodingAESKey configured, plaintext refused)."""
    return await make_client()
