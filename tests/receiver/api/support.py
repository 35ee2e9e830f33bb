"""Helpers of the business API tests: keys, applicants, bodies, calls and the work queue."""

from __future__ import annotations

import uuid
from typing import Any

from shared.settings import ReceiverSettings
from shared.wechat.applicant import check_character
from shared.work import WorkItem
from tests.receiver.conftest import Client
from tests.receiver.pushes import drain_queue

API_KEY = "test-api-key-0123456789"
OTHER_KEY = "second-api-key-abcdef"
SECRET = "test-app-secret"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
NAME = "张三"
ID_NUMBER = "11010519491231002X"
OPENID = "oUser1234567890abcdefghijkl"


def id_number(serial: int) -> str:
    """A valid ID number for a made-up person number ``serial`` (0–999)."""
    first17 = f"11010519900101{serial % 1000:03d}"
    return first17 + check_character(first17)


def seq() -> str:
    """A fresh out_seq_no."""
    return "api" + uuid.uuid4().hex[:20]


def legacy_body(out_seq_no: str | None = None, **extra: Any) -> dict[str, Any]:
    """A valid legacy registration body."""
    body: dict[str, Any] = {"name": NAME, "id_card_number": ID_NUMBER, **extra}
    if out_seq_no is not None:
        body["out_seq_no"] = out_seq_no
    return body


def v2_body(out_seq_no: str | None = None, **extra: Any) -> dict[str, Any]:
    """A valid v2 registration body."""
    return legacy_body(out_seq_no, flow="v2", openid=OPENID, **extra)


async def post(client: Client, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as JSON with the API key; the status and the JSON answer."""
    async with client.post(path, json=body, headers=AUTH) as response:
        return response.status, await response.json()


async def get_status(client: Client, out_seq_no: str) -> tuple[int, dict[str, Any]]:
    """GET a verification with the API key; the status and the JSON answer."""
    async with client.get(f"/v1/verifications/{out_seq_no}", headers=AUTH) as response:
        return response.status, await response.json()


async def work_items(settings: ReceiverSettings) -> list[WorkItem]:
    """Every work item now in the verify queue (taken off it)."""
    url = settings.amqp_url.get_secret_value()
    messages = await drain_queue(url, f"{settings.amqp_prefix}.verify")
    return [WorkItem.decode(m.body) for m in messages]
