"""Async client of WeChat's face-verification API (legacy and v2 flows).

One instance per process, with its own kept-alive connections (:mod:`shared.wechat.http`);
close it with :meth:`WechatClient.close` or ``async with``. Every call takes the
cached access token, sends a JSON body, and returns a typed result or raises a classified
:class:`~shared.errors.WechatApiError`. A TOKEN rejection is handled here: that token is
invalidated, a fresh one fetched (once, however many calls saw the rejection) and the call
retried once; a second rejection is raised. Request bodies, tokens and verify_result are never
logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import ConfigError, WechatApiError, WechatErrorKind
from shared.settings import AppSettings
from shared.wechat import errcode as ec
from shared.wechat.applicant import IDENTITY_CARD
from shared.wechat.http import HttpPool
from shared.wechat.result import FaceInfo, UserIdKeyResult, VerifyIdResult, VerifyInfo
from shared.wechat.token import (
    AccessTokenSource,
    ClassicTokenSource,
    StableTokenSource,
    TokenCache,
)
from shared.wechat.transport import Observer, Transport

R = TypeVar("R", bound=BaseModel)
TokenMode = Literal["stable", "classic"]
_FACE = "cityservice/face/identify/"


class WechatClient:
    """getuseridkey, getinfo, getverifyid and queryverifyinfo with token handling."""

    def __init__(
        self,
        base_url: str,
        appid: str,
        secret: str,
        *,
        token_mode: TokenMode = "stable",
        timeout_s: float = 5.0,
        observer: Observer | None = None,
        connections: int = 100,
    ) -> None:
        self._pool = HttpPool(base_url, limit=connections)
        self._transport = Transport(self._pool, timeout_s=timeout_s, observer=observer)
        source: AccessTokenSource = (
            StableTokenSource(self._transport, appid, secret)
            if token_mode == "stable"
            else ClassicTokenSource(self._transport, appid, secret)
        )
        self.tokens = TokenCache(source)

    @classmethod
    def from_settings(
        cls,
        settings: AppSettings,
        *,
        observer: Observer | None = None,
        connections: int = 100,
    ) -> WechatClient:
        """A client for the configured appid, base URL, timeout and token mode."""
        if settings.appsecret is None:
            raise ConfigError("configuration error: WXFACE_APPSECRET is required")
        return cls(
            settings.wechat_api_base,
            settings.appid,
            settings.appsecret.get_secret_value(),
            token_mode=settings.token_mode,
            timeout_s=settings.wechat_timeout_s,
            observer=observer,
            connections=connections,
        )

    async def close(self) -> None:
        """Close the kept-alive connections."""
        await self._pool.close()

    async def __aenter__(self) -> WechatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def token_fetches(self) -> int:
        """How many times this client has asked WeChat for an access token."""
        return self.tokens.fetches

    async def get_user_id_key(
        self, name: str, id_card_number: str, out_seq_no: str
    ) -> UserIdKeyResult:
        """Legacy step 1: register the applicant (with out_seq_no, so WeChat will push)."""
        payload = {"name": name, "id_card_number": id_card_number, "out_seq_no": out_seq_no}
        return await self._call("getuseridkey", payload, UserIdKeyResult)

    async def get_info(self, verify_result: str) -> FaceInfo:
        """Legacy step 4: the result behind a verify_result (valid about 5 minutes)."""
        return await self._call("getinfo", {"verify_result": verify_result}, FaceInfo)

    async def get_verify_id(
        self,
        out_seq_no: str,
        cert_name: str,
        cert_no: str,
        openid: str,
        cert_type: str = IDENTITY_CARD,
    ) -> VerifyIdResult:
        """v2 step 1: register the applicant and the openid that will verify."""
        cert_info = {"cert_type": cert_type, "cert_name": cert_name, "cert_no": cert_no}
        payload = {"out_seq_no": out_seq_no, "cert_info": cert_info, "openid": openid}
        return await self._call("getverifyid", payload, VerifyIdResult)

    async def query_verify_info(
        self, verify_id: str, out_seq_no: str, cert_hash: str, openid: str
    ) -> VerifyInfo:
        """v2 final step: the verify_ret of a verification (10000 is the only pass)."""
        payload = {
            "verify_id": verify_id,
            "out_seq_no": out_seq_no,
            "cert_hash": cert_hash,
            "openid": openid,
        }
        return await self._call("queryverifyinfo", payload, VerifyInfo)

    async def _call(self, endpoint: str, payload: Mapping[str, Any], model: type[R]) -> R:
        token = await self.tokens.get()
        try:
            return await self._post(endpoint, token, payload, model)
        except WechatApiError as exc:
            if exc.kind is not WechatErrorKind.TOKEN:
                raise
            self.tokens.invalidate(token)
        return await self._post(endpoint, await self.tokens.get(), payload, model)

    async def _post(
        self, endpoint: str, token: str, payload: Mapping[str, Any], model: type[R]
    ) -> R:
        params = {"access_token": token}
        reply = await self._transport.request(endpoint, "POST", _FACE + endpoint, params, payload)
        try:
            return model.model_validate(reply)
        except ValidationError as exc:
            raise ec.api_error(ec.TRANSPORT_BAD_BODY, f"{endpoint} reply lacks fields") from exc
