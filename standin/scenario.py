"""Scripted outcomes: what the stand-in answers for one applicant (keyed by out_seq_no).

Counters (``transient``, ``invalidate_token``, ``not_finished``) are used up one per call.
They apply to the confirmation calls (getinfo, queryverifyinfo), which is where the worker
meets them; registration calls (getuseridkey, getverifyid) only see the global fault rate.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PASS_IDENTIFY_RET = 0
PASS_VERIFY_RET = 10000
NOT_FINISHED_VERIFY_RET = 10300


class Script(BaseModel):
    """One applicant's scripted behaviour; the defaults are a clean pass."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    identify_ret: int = PASS_IDENTIFY_RET  # getinfo's verdict (0 = passed)
    verify_ret: int = PASS_VERIFY_RET  # queryverifyinfo's verdict once finished (10000 = passed)
    other_person: bool = False  # getinfo returns another person's md5s
    openid: str | None = None  # getinfo returns this openid instead of the verifying user's
    transient: int = Field(default=0, ge=0)  # the next N confirmation calls answer errcode -1
    invalidate_token: int = Field(default=0, ge=0)  # next N: retire the caller's token, 40001
    not_finished: int = Field(default=0, ge=0)  # after completion, N more answers of 10300
    errcode: int | None = None  # every confirmation call answers this errcode (84003, 45011…)
    latency_ms: float = Field(default=0.0, ge=0)  # added to each confirmation call

    def take(self, counter: str) -> bool:
        """Use up one unit of ``counter``; False when it is already at zero."""
        left: int = getattr(self, counter)
        if left <= 0:
            return False
        setattr(self, counter, left - 1)
        return True
