"""Fixtures for stand-in tests: a stand-in on a real port with a fake clock, and a token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from standin.app import create_standin_app
from standin.config import StandinConfig
from tests.standin.fakes import FakeClock

NAME, ID_NUMBER, OPENID = "张三", "11010519491231002x", "o-standin-user-0001"


@dataclass
class Standin:
    """A running stand-in: HTTP client, app, clock, config and a valid access token."""

    http: TestClient[web.Request, web.Application]
    app: web.Application
    clock: FakeClock
    config: StandinConfig
    token: str

    async def call(self, endpoint: str, body: object, token: str | None = None) -> dict[str, Any]:
        """POST a JSON body to a face endpoint; the WeChat reply."""
        params = {"access_token": token or self.token}
        path = f"/cityservice/face/identify/{endpoint}"
        response = await self.http.post(path, params=params, json=body)
        assert response.status == 200
        reply: dict[str, Any] = await response.json()
        return reply

    async def register_legacy(self, out_seq_no: str) -> str:
        """getuseridkey for the test applicant; the user_id_key."""
        reply = await self.call(
            "getuseridkey", {"name": NAME, "id_card_number": ID_NUMBER, "out_seq_no": out_seq_no}
        )
        assert reply["errcode"] == 0
        return str(reply["user_id_key"])


StandinFactory = Callable[..., Awaitable[Standin]]


@pytest.fixture
def make_standin(aiohttp_client: AiohttpClient) -> StandinFactory:
    """Start a stand-in with config overrides and fetch a stable token from it."""

    async def make(**overrides: Any) -> Standin:
        clock = FakeClock()
        config = StandinConfig(clock=clock, **overrides)
        http = await aiohttp_client(create_standin_app(config))
        body = {"grant_type": "client_credential", "appid": config.appid, "secret": config.secret}
        token = (await (await http.post("/cgi-bin/stable_token", json=body)).json())["access_token"]
        assert http.app is not None
        return Standin(http, http.app, clock, config, token)

    return make


@pytest.fixture
async def standin(make_standin: StandinFactory) -> Standin:
    """A stand-in with the default configuration."""
    return await make_standin()
