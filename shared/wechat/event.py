"""The events a WeChat push carries, as pydantic models: ``face_identify`` and everything else.

``build_event`` turns a parsed document (a JSON object or the children of ``<xml>``) into the
right model and maps validation failures onto the push error hierarchy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import FieldTypeError, MissingFieldError

FACE_IDENTIFY = "face_identify"

UInt32 = Annotated[int, Field(ge=0, le=2**32 - 1)]


class FaceIdentifyEvent(BaseModel):
    """The legacy-flow ``face_identify`` push (docs/wechat-api.md §3.4); unknown fields ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    ToUserName: str
    FromUserName: str
    CreateTime: UInt32
    MsgType: Literal["event"]
    Event: Literal["face_identify"]
    openid: Annotated[str, Field(min_length=1)]
    out_seq_no: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{5,32}$")]
    verify_result: Annotated[str, Field(min_length=1, max_length=1024)]


class GenericEvent(BaseModel):
    """Any other push (debug events, messages…): the common header, extra fields kept."""

    model_config = ConfigDict(frozen=True, extra="allow")

    ToUserName: str
    FromUserName: str | None = None
    CreateTime: int
    MsgType: str
    Event: str | None = None


PushEvent = FaceIdentifyEvent | GenericEvent


def build_event(fields: Mapping[str, object]) -> PushEvent:
    """The event model for ``fields``: ``FaceIdentifyEvent`` when Event is face_identify.

    Raises ``MissingFieldError`` / ``FieldTypeError`` naming the first bad field, never its value.
    """
    model = FaceIdentifyEvent if fields.get("Event") == FACE_IDENTIFY else GenericEvent
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or "<event>"
        # from None: the ValidationError's text embeds the input (verify_result, openid), and a
        # chained cause would put it into any logged traceback
        if error["type"] == "missing":
            raise MissingFieldError(f"missing field {field}") from None
        raise FieldTypeError(f"invalid field {field}") from None
