"""Typed results of the face-verification API calls (successful replies, errcode 0).

Models ignore unknown fields, because WeChat adds some (``check_alive_type``) without notice.
A reply that lacks a field we need is a malformed reply (TRANSIENT), see ``client.py``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class UserIdKeyResult(_Reply):
    """getuseridkey: the key the front end passes to ``wx.startFacialRecognitionVerify``."""

    user_id_key: str
    expires_in: int


class FaceInfo(_Reply):
    """getinfo: the legacy verification result. ``identify_ret == 0`` is the only pass.

    Returned whenever errcode is 0, even when ``identify_ret`` is not 0: the verdict decides.
    """

    identify_ret: int
    identify_time: int = 0
    validate_data: str = ""
    openid: str = ""
    user_id_key: str = ""
    finish_time: int = 0
    id_card_number_md5: str = ""
    name_utf8_md5: str = ""


class VerifyIdResult(_Reply):
    """getverifyid: the id the front end passes to ``wx.requestFacialVerify``."""

    verify_id: str
    expires_in: int


class VerifyInfo(_Reply):
    """queryverifyinfo: ``verify_ret == 10000`` is the only pass (10300/10005: not finished)."""

    verify_ret: int
