"""Helpers for receiver tests: settings, WeChat-like pushes, and reading the work queue."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import aio_pika
from pydantic import SecretStr

from shared.amqp.topology import Topology
from shared.settings import ReceiverSettings
from shared.wechat.crypto import AesCipher
from shared.wechat.event import FaceIdentifyEvent, GenericEvent, PushEvent
from shared.wechat.push import BodyFormat, PushMode, build_push

APPID = "wx1234567890abcdef"
TOKEN = "test-push-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CIPHER = AesCipher(AES_KEY)


def receiver_settings(
    amqp_url: str, prefix: str, spool_dir: Path, **overrides: object
) -> ReceiverSettings:
    """Receiver settings for tests (safe mode key configured unless overridden)."""
    values: dict[str, object] = {
        "appid": APPID,
        "token": SecretStr(TOKEN),
        "encoding_aes_key": SecretStr(AES_KEY),
        "amqp_url": SecretStr(amqp_url),
        "amqp_prefix": prefix,
        "spool_dir": str(spool_dir),
        **overrides,
    }
    return ReceiverSettings.model_validate(values)


def face_event(
    out_seq_no: str | None = None, verify_result: str | None = None
) -> FaceIdentifyEvent:
    """A face_identify event with unique identifiers."""
    return FaceIdentifyEvent(
        ToUserName="gh_0123456789ab",
        FromUserName="oUser123",
        CreateTime=int(time.time()),
        MsgType="event",
        Event="face_identify",
        openid="oUser123",
        out_seq_no=out_seq_no or f"seq{uuid.uuid4().hex[:16]}",
        verify_result=verify_result or f"cred-{uuid.uuid4().hex}",
    )


def debug_event() -> GenericEvent:
    """A non-face event (WeChat's debug_demo)."""
    return GenericEvent(
        ToUserName="gh_0123456789ab",
        FromUserName="oUser123",
        CreateTime=int(time.time()),
        MsgType="event",
        Event="debug_demo",
    )


def make_push(
    event: PushEvent,
    fmt: BodyFormat = BodyFormat.JSON,
    mode: PushMode = PushMode.SAFE,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
    appid: str = APPID,
) -> tuple[dict[str, str], bytes]:
    """What WeChat would send for ``event``."""
    return build_push(
        event,
        fmt,
        mode,
        TOKEN,
        appid,
        CIPHER,
        int(time.time()) if timestamp is None else timestamp,
        nonce or uuid.uuid4().hex[:10],
    )


async def drain_queue(url: str, queue_name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Every message currently in ``queue_name`` (acked), stopping at the broker's get-empty.

    The timeout bounds one basic.get round trip only; a busy or just-restarted broker may take
    seconds to answer, which is not the same as an empty queue.
    """
    got: list[aio_pika.abc.AbstractIncomingMessage] = []
    connection = await aio_pika.connect(url)
    async with connection:
        queue = await (await connection.channel()).get_queue(queue_name)
        while True:
            message = await queue.get(timeout=30, fail=False)
            if message is None:
                return got
            await message.ack()
            got.append(message)


async def delete_topology(url: str, prefix: str) -> None:
    """Remove every queue and exchange of ``prefix``."""
    connection = await aio_pika.connect(url)
    async with connection:
        await Topology(prefix).delete(await connection.channel())
