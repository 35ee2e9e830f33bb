"""The business API's use cases, free of HTTP: register, submit a result, read a status.

Registration asks WeChat first and stores the session only once WeChat has answered, so a
refusal (502) stores nothing. A cheap existence check comes before the WeChat call, and an
in-process claim on the ``out_seq_no`` keeps two concurrent registrations of one ``out_seq_no``
from both calling WeChat (across processes the store's uniqueness still decides: the loser
gets 409). Only md5s and the cert_hash are stored, computed from the same upper-cased ID
number that was sent to WeChat.

A result submission goes through the receiver's durable intake exactly like a push, then the
session is marked queued. It is idempotent: the work item's ``message_id`` is deterministic,
and a session that is already decided is answered with its status and nothing is queued.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from receiver.api_models import (
    LegacyRegistration,
    RegistrationRequest,
    ResultAccepted,
    ResultSubmission,
    V2Registration,
    VerificationView,
)
from shared.errors import (
    InvalidRequestError,
    SessionExistsError,
    UnknownVerificationError,
    UpstreamRefusedError,
    VerificationExistsError,
    WechatApiError,
)
from shared.log import get_logger
from shared.store import NewSession, Session, Store
from shared.store.model import utc_now
from shared.vocabulary import Flow, Status
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5, normalize_id_card_number
from shared.wechat.result import UserIdKeyResult, VerifyIdResult
from shared.work import WorkItem

log = get_logger(__name__)

Registration = LegacyRegistration | V2Registration


class Registrar(Protocol):
    """The two WeChat registration calls (``shared.wechat.client.WechatClient``)."""

    async def get_user_id_key(
        self, name: str, id_card_number: str, out_seq_no: str
    ) -> UserIdKeyResult:
        """Legacy registration."""
        ...

    async def get_verify_id(
        self, out_seq_no: str, cert_name: str, cert_no: str, openid: str
    ) -> VerifyIdResult:
        """v2 registration."""
        ...


class DurableIntake(Protocol):
    """Makes a work item durable or raises (``receiver.intake.Intake``)."""

    async def accept(self, item: WorkItem) -> Any:
        """Return once ``item`` is confirmed by the broker or spooled."""
        ...


def new_out_seq_no() -> str:
    """A fresh out_seq_no: 24 characters of ``[A-Za-z0-9_-]``."""
    return secrets.token_urlsafe(18)


class Verifications:
    """Register applicants, accept results, report statuses."""

    def __init__(
        self,
        store: Store,
        wechat: Registrar,
        intake: DurableIntake,
        appid: str,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store, self._wechat, self._intake = store, wechat, intake
        self._appid = appid
        self._now = now
        self._registering: set[str] = set()  # out_seq_nos whose WeChat call is in flight

    async def register(self, request: RegistrationRequest) -> Registration:
        """Register with WeChat, then store the session; 409 / 502 as the contract says."""
        out_seq_no = request.out_seq_no or new_out_seq_no()
        with self._claim(out_seq_no):
            if await self._store.get_session(out_seq_no) is not None:
                raise VerificationExistsError("this out_seq_no is already registered")
            number = normalize_id_card_number(request.id_card_number)
            if request.flow is Flow.LEGACY:
                return await self._register_legacy(request, out_seq_no, number)
            return await self._register_v2(request, out_seq_no, number)

    async def submit_result(self, out_seq_no: str, body: ResultSubmission) -> ResultAccepted:
        """Queue the credential durably (once per credential), then mark the session queued."""
        session = await self._session(out_seq_no)
        if session.status.is_final:
            log.info("result_already_decided", out_seq_no=out_seq_no, status=session.status)
            return ResultAccepted(status=session.status)
        _check_result_body(session.flow, body)
        item = WorkItem(
            kind="result",
            flow=session.flow,
            appid=self._appid,
            out_seq_no=out_seq_no,
            verify_result=body.verify_result,
            received_at=time.time(),
        )
        via = await self._intake.accept(item)
        await self._store.mark_queued(out_seq_no)
        log.info("result_queued", out_seq_no=out_seq_no, message_id=item.message_id(), via=via)
        return ResultAccepted(status=Status.QUEUED)

    async def status(self, out_seq_no: str) -> VerificationView:
        """The session as the contract shows it."""
        s = await self._session(out_seq_no)
        return VerificationView(
            out_seq_no=s.out_seq_no,
            flow=s.flow,
            status=s.status,
            reason=s.reason,
            created_at=s.created_at,
            updated_at=s.updated_at,
            expires_at=s.expires_at,
        )

    async def _register_legacy(
        self, request: RegistrationRequest, out_seq_no: str, number: str
    ) -> Registration:
        try:
            reply = await self._wechat.get_user_id_key(request.name, number, out_seq_no)
        except WechatApiError as exc:
            raise _refused(exc) from exc
        await self._create(
            NewSession(
                out_seq_no=out_seq_no,
                flow=Flow.LEGACY,
                expires_at=self._expires_at(reply.expires_in),
                openid=request.openid,
                id_card_md5=id_card_md5(number),
                name_md5=name_md5(request.name),
                user_id_key=reply.user_id_key,
            )
        )
        return LegacyRegistration(
            out_seq_no=out_seq_no,
            flow=Flow.LEGACY,
            user_id_key=reply.user_id_key,
            expires_in=reply.expires_in,
        )

    async def _register_v2(
        self, request: RegistrationRequest, out_seq_no: str, number: str
    ) -> Registration:
        openid = request.openid or ""  # the model requires it for v2
        try:
            reply = await self._wechat.get_verify_id(out_seq_no, request.name, number, openid)
        except WechatApiError as exc:
            raise _refused(exc) from exc
        await self._create(
            NewSession(
                out_seq_no=out_seq_no,
                flow=Flow.V2,
                expires_at=self._expires_at(reply.expires_in),
                openid=openid,
                cert_hash=cert_hash(request.name, number),
                verify_id=reply.verify_id,
            )
        )
        return V2Registration(
            out_seq_no=out_seq_no,
            flow=Flow.V2,
            verify_id=reply.verify_id,
            expires_in=reply.expires_in,
        )

    async def _create(self, new: NewSession) -> None:
        try:
            await self._store.create_session(new)
        except SessionExistsError as exc:
            raise VerificationExistsError("this out_seq_no is already registered") from exc
        log.info("verification_registered", out_seq_no=new.out_seq_no, flow=new.flow)

    async def _session(self, out_seq_no: str) -> Session:
        session = await self._store.get_session(out_seq_no)
        if session is None:
            raise UnknownVerificationError("no verification with this out_seq_no")
        return session

    def _expires_at(self, expires_in: int) -> datetime:
        return self._now() + timedelta(seconds=expires_in)

    @contextmanager
    def _claim(self, out_seq_no: str) -> Iterator[None]:
        if out_seq_no in self._registering:
            raise VerificationExistsError("this out_seq_no is being registered right now")
        self._registering.add(out_seq_no)
        try:
            yield
        finally:
            self._registering.discard(out_seq_no)


def _check_result_body(flow: Flow, body: ResultSubmission) -> None:
    if flow is Flow.LEGACY and body.verify_result is None:
        raise InvalidRequestError("verify_result: is required for a legacy verification")
    if flow is Flow.V2 and body.verify_result is not None:
        raise InvalidRequestError("verify_result: must be absent for a v2 verification")


def _refused(exc: WechatApiError) -> UpstreamRefusedError:
    log.warning("registration_refused", errcode=exc.errcode, kind=exc.kind)
    detail = f"WeChat refused the registration (errcode {exc.errcode}, {exc.kind.value})"
    return UpstreamRefusedError(detail, exc.errcode)
