"""Hand-written fakes of the worker's own seams (WeChat client, publisher) for unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PublishError, WechatApiError
from shared.wechat.result import FaceInfo, VerifyInfo

Answer = FaceInfo | VerifyInfo | WechatApiError


class FakeWechat:
    """Answers each credential from a script; the last answer repeats."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.calls: list[str] = []

    def script(self, credential: str, *answers: Answer) -> None:
        """Answer ``credential`` with ``answers`` in turn (the last one forever)."""
        self.answers[credential] = list(answers)

    def _next(self, credential: str) -> Answer:
        self.calls.append(credential)
        queue = self.answers[credential]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def get_info(self, verify_result: str) -> FaceInfo:
        """The scripted getinfo answer."""
        answer = self._next(verify_result)
        if isinstance(answer, WechatApiError):
            raise answer
        assert isinstance(answer, FaceInfo)
        return answer

    async def query_verify_info(
        self, verify_id: str, out_seq_no: str, cert_hash: str, openid: str
    ) -> VerifyInfo:
        """The scripted queryverifyinfo answer."""
        answer = self._next(verify_id)
        if isinstance(answer, WechatApiError):
            raise answer
        assert isinstance(answer, VerifyInfo)
        return answer


@dataclass(frozen=True)
class Published:
    """One confirmed publish."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    headers: Mapping[str, Any] | None


@dataclass
class FakePublisher:
    """Records confirmed publishes; fails the next ``failures`` publishes with PublishError.

    ``attempted`` holds every call, the failed ones too (what was sent but never confirmed).
    """

    failures: int = 0
    published: list[Published] = field(default_factory=list)
    attempted: list[Published] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """Always connected."""
        return True

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the message, or fail while failures are left."""
        message = Published(exchange, routing_key, body, message_id, headers)
        self.attempted.append(message)
        if self.failures > 0:
            self.failures -= 1
            raise PublishError("broker not connected")
        self.published.append(message)

    def to(self, exchange: str) -> list[Published]:
        """The messages published to ``exchange``."""
        return [p for p in self.published if p.exchange == exchange]
