"""Applicants registered the way the business API does, and their credentials minted.

For each out_seq_no, legacy: ``getuseridkey`` through the real WeChat client (the stand-in), a
legacy session in the store (md5s only), and ``/_standin/complete`` playing the user finishing
on the phone, which mints the ``verify_result`` a push would carry. v2: ``getverifyid``, a v2
session (the sealed cert_hash and the verify_id), and the same completion, after which
``queryverifyinfo`` passes. The work items are built later, at the moment they are enqueued,
so ``received_at`` is the enqueue time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp

from shared.store.base import Store
from shared.store.model import NewSession
from shared.vocabulary import Flow
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from shared.wechat.client import WechatClient
from standin.config import DEMO_APPID, DEMO_SECRET

APPID = DEMO_APPID
SECRET = DEMO_SECRET
DATA_KEY = "bench-worker-data-key-0123456789"
# one made-up applicant for every session (the worker never sees a name or ID number)
NAME = "张三"
ID_NUMBER = "11010519491231002x"
OPENID = "o-bench-worker-applicant-0001"
SESSION_LIFE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Credential:
    """One session ready to be decided: its out_seq_no, its flow and (legacy) the pushed
    verify_result."""

    out_seq_no: str
    flow: Flow = Flow.LEGACY
    verify_result: str | None = None


class Seeder:
    """Registers sessions against one stand-in and one store."""

    def __init__(self, http: aiohttp.ClientSession, api_base: str, store: Store) -> None:
        self._http = http
        self._api_base = api_base
        self._store = store
        self._wechat = WechatClient(api_base, APPID, SECRET, timeout_s=30)

    async def close(self) -> None:
        """Close the registration client's connections."""
        await self._wechat.close()

    async def seed(
        self, tag: str, count: int, flow: Flow = Flow.LEGACY, concurrency: int = 128
    ) -> list[Credential]:
        """``count`` completed sessions of ``flow`` named ``{tag}{i:06d}``."""
        slots = asyncio.Semaphore(concurrency)
        register = self.register_legacy if flow is Flow.LEGACY else self.register_v2

        async def one(i: int) -> Credential:
            async with slots:
                return await register(f"{tag}{i:06d}")

        return list(await asyncio.gather(*(one(i) for i in range(count))))

    async def register_legacy(self, out_seq_no: str) -> Credential:
        """Register one legacy applicant (stand-in and store) and complete its verification."""
        reply = await self._wechat.get_user_id_key(NAME, ID_NUMBER, out_seq_no)
        await self._store.create_session(
            NewSession(
                out_seq_no=out_seq_no, flow=Flow.LEGACY,
                expires_at=datetime.now(UTC) + SESSION_LIFE, openid=OPENID,
                id_card_md5=id_card_md5(ID_NUMBER), name_md5=name_md5(NAME),
                user_id_key=reply.user_id_key,
            )
        )  # fmt: skip
        completed = await self._complete(out_seq_no)
        return Credential(out_seq_no, Flow.LEGACY, str(completed["verify_result"]))

    async def register_v2(self, out_seq_no: str) -> Credential:
        """Register one v2 applicant (stand-in and store) and complete its verification."""
        reply = await self._wechat.get_verify_id(out_seq_no, NAME, ID_NUMBER, OPENID)
        await self._store.create_session(
            NewSession(
                out_seq_no=out_seq_no, flow=Flow.V2,
                expires_at=datetime.now(UTC) + SESSION_LIFE, openid=OPENID,
                cert_hash=cert_hash(NAME, ID_NUMBER), verify_id=reply.verify_id,
            )
        )  # fmt: skip
        await self._complete(out_seq_no)
        return Credential(out_seq_no, Flow.V2)

    async def _complete(self, out_seq_no: str) -> dict[str, object]:
        url = f"{self._api_base}/_standin/complete"
        body = {"out_seq_no": out_seq_no, "openid": OPENID}
        async with self._http.post(url, json=body) as response:
            response.raise_for_status()
            completed: dict[str, object] = await response.json()
        return completed
