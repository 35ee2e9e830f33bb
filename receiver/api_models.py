"""The business API's request and response bodies, as pydantic models.

These models are the validation (422 messages come from them) and the source of the OpenAPI
document's schemas (``receiver/openapi.py``), so the two cannot drift. Requests refuse unknown
fields. Nothing here is logged: request models hold names and ID numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.vocabulary import Flow, Reason, Status
from shared.wechat.applicant import valid_id_card_number

OUT_SEQ_NO_PATTERN = r"^[A-Za-z0-9_-]{5,32}$"
OPENID_PATTERN = r"^[A-Za-z0-9_-]{6,64}$"
ID_CARD_PATTERN = r"^[0-9]{17}[0-9Xx]$"
VERIFY_RESULT_PATTERN = r"^[\x21-\x7e]{1,4096}$"  # printable ASCII, no blanks
ID_CARD_FORMAT = "prc-id-card-number"  # 18 characters with a valid GB 11643 check character

# the 422 message for a pattern mismatch, by field (pydantic's would quote the regex)
PATTERN_MESSAGES = {
    "name": "must not be blank",
    "out_seq_no": "must be 5-32 characters of A-Z, a-z, 0-9, '_' or '-'",
    "openid": "must be 6-64 characters of A-Z, a-z, 0-9, '_' or '-'",
    "id_card_number": "must be 18 characters: 17 digits, then a digit or X",
    "verify_result": "must be 1-4096 printable ASCII characters without spaces",
}


def _checksum(value: str) -> str:
    if not valid_id_card_number(value):
        raise ValueError("has an invalid check character (GB 11643)")
    return value


OutSeqNo = Annotated[str, Field(pattern=OUT_SEQ_NO_PATTERN)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"\S")]  # not blank
IdCardNumber = Annotated[
    str,
    Field(pattern=ID_CARD_PATTERN, json_schema_extra={"format": ID_CARD_FORMAT}),
    AfterValidator(_checksum),
]
OpenId = Annotated[str, Field(pattern=OPENID_PATTERN)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True)


class RegistrationRequest(_Request):
    """``POST /v1/verifications``: the applicant to verify (``openid`` required for v2)."""

    flow: Flow = Flow.LEGACY
    name: Name
    id_card_number: IdCardNumber
    openid: OpenId | None = None
    out_seq_no: OutSeqNo | None = None

    @model_validator(mode="after")
    def _v2_needs_openid(self) -> RegistrationRequest:
        if self.flow is Flow.V2 and self.openid is None:
            raise ValueError("openid is required for the v2 flow")
        return self


class PathParameters(_Request):
    """The ``{out_seq_no}`` in a verification's URL."""

    out_seq_no: OutSeqNo


class LegacyRegistration(_Response):
    """201 for a legacy registration: what ``wx.startFacialRecognitionVerify`` needs."""

    out_seq_no: str
    flow: Literal[Flow.LEGACY]
    user_id_key: str
    expires_in: int


class V2Registration(_Response):
    """201 for a v2 registration: what ``wx.requestFacialVerify`` needs."""

    out_seq_no: str
    flow: Literal[Flow.V2]
    verify_id: str
    expires_in: int


class ResultSubmission(_Request):
    """``POST …/result``: legacy ``{"verify_result": …}``; v2 ``{}``."""

    verify_result: Annotated[str, Field(pattern=VERIFY_RESULT_PATTERN)] | None = None


class ResultAccepted(_Response):
    """202: the result is durably queued (or, for a decided session, its final status)."""

    status: Status


class VerificationView(_Response):
    """200 for ``GET /v1/verifications/{out_seq_no}``."""

    out_seq_no: str
    flow: Flow
    status: Status
    reason: Reason | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


class ErrorBody(_Response):
    """Every error answer; ``errcode`` only on 502 (WeChat's code, negative: unreachable)."""

    error: str
    detail: str
    errcode: int | None = None
