"""The intake message: what the receiver and the business API enqueue and the worker consumes.

A :class:`WorkItem` names one credential to decide. It carries no name or ID number (the
``verify_result`` credential is allowed). Its :meth:`WorkItem.message_id` is deterministic, so a
push retried by WeChat, received by two hosts, or re-submitted through the result endpoint is
the same message, and the worker can decide it once.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.errors import WorkItemError
from shared.vocabulary import Flow

__all__ = ["WorkItem", "WorkItemError"]


class WorkItem(BaseModel):
    """One credential to confirm with WeChat."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: int = 1
    kind: Literal["push", "result"]
    flow: Flow
    appid: str
    out_seq_no: str
    openid: str | None = None
    verify_result: str | None = None  # legacy credential
    create_time: int | None = None  # the push's CreateTime
    received_at: float  # unix seconds, for push-to-outcome latency

    def message_id(self) -> str:
        """Deterministic id: the same credential always gets the same id, whoever sends it."""
        parts = (self.appid, self.flow.value, self.out_seq_no, self.verify_result or "")
        digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
        return digest[:32]

    def encode(self) -> bytes:
        """The JSON message body."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, data: bytes) -> WorkItem:
        """Parse a message body; raise :class:`WorkItemError` on anything unreadable."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in exc.errors())
            raise WorkItemError(f"unreadable work item ({fields})") from exc
