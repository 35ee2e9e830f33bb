"""The stand-in playing WeChat's pusher: sign, encrypt and POST an event to a receiver URL.

Uses ``shared.wechat.push.build_push``, so the push is exactly what WeChat sends in the chosen
mode (plaintext / compatible / safe) and format (JSON / XML). The receiver's HTTP status and
body are returned as they came; a transport failure is status 0 with the error's type name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import aiohttp

from shared.wechat.crypto import AesCipher
from shared.wechat.document import BodyFormat
from shared.wechat.event import FaceIdentifyEvent, PushEvent
from shared.wechat.push import PushMode, build_push
from standin.config import StandinConfig

_CONTENT_TYPES = {BodyFormat.JSON: "application/json", BodyFormat.XML: "text/xml"}


@dataclass(frozen=True)
class PushResult:
    """What the receiver answered (``status`` 0: it could not be reached)."""

    status: int
    body: str


class Pusher:
    """Pushes events signed with the configured Token and encrypted with its EncodingAESKey."""

    def __init__(
        self, session: aiohttp.ClientSession, config: StandinConfig, timeout_s: float = 5.0
    ) -> None:
        self._session = session
        self._config = config
        self._cipher = AesCipher(config.encoding_aes_key) if config.encoding_aes_key else None
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)  # WeChat gives up after 5 s

    def face_identify(self, openid: str, out_seq_no: str, verify_result: str) -> FaceIdentifyEvent:
        """The ``face_identify`` event WeChat sends when a legacy verification completes."""
        return FaceIdentifyEvent(
            ToUserName=self._config.original_id,
            FromUserName=openid,
            CreateTime=int(self._config.clock()),
            MsgType="event",
            Event="face_identify",
            openid=openid,
            out_seq_no=out_seq_no,
            verify_result=verify_result,
        )

    async def push(
        self,
        url: str,
        event: PushEvent,
        mode: PushMode = PushMode.SAFE,
        fmt: BodyFormat = BodyFormat.JSON,
    ) -> PushResult:
        """POST ``event`` to ``url`` as WeChat would; the receiver's status and body."""
        timestamp = int(self._config.clock())
        nonce = str(secrets.randbelow(10**10))
        query, body = build_push(
            event, fmt, mode, self._config.token, self._config.appid, self._cipher, timestamp, nonce
        )
        headers = {"Content-Type": _CONTENT_TYPES[fmt]}
        try:
            async with self._session.post(
                url, params=query, data=body, headers=headers, timeout=self._timeout
            ) as response:
                return PushResult(response.status, await response.text())
        except (aiohttp.ClientError, TimeoutError) as exc:
            return PushResult(0, type(exc).__name__)
