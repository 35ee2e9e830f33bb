"""The seams the worker's message handling depends on, as Protocols.

Each has one real implementation elsewhere (``shared.store`` for :class:`SessionStore` and
:class:`ExpiryStore`, ``shared.wechat.client.WechatClient`` for :class:`WechatApi`,
``shared.amqp.publisher.Publisher`` for :class:`EventPublisher`). The WeChat client and the
publisher have hand-written fakes in ``tests/worker/fakes.py``; the store seams are tested
against the real SQLite and PostgreSQL stores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from shared.store.model import Decided, Decision, Session, UnpublishedExpiry
from shared.wechat.result import FaceInfo, VerifyInfo


class Protection(Protocol):
    """The part of the store's ``Protector`` the worker needs."""

    def matches(self, mac: str, value: str) -> bool:
        """True when ``mac`` was made from ``value``."""
        ...

    def credential_hash(self, credential: str) -> str:
        """The ledger key of a credential."""
        ...

    def unseal(self, token: str) -> str:
        """A sealed value (the v2 cert_hash) in the clear."""
        ...


class SessionStore(Protocol):
    """The part of the state store the worker needs."""

    @property
    def protector(self) -> Protection:
        """Keyed hashing and sealing under the data key."""
        ...

    async def get_session(self, out_seq_no: str) -> Session | None:
        """The session, or None when there is none."""
        ...

    async def decide(self, decision: Decision) -> Decided:
        """Record a decision once per credential; a replay gets the first decision back."""
        ...

    async def ping(self) -> None:
        """Raise when the store is unreachable."""
        ...


class ExpiryStore(Protocol):
    """The part of the state store the expiry sweep needs: the claim and its outbox."""

    async def claim_expired(
        self, now: datetime, limit: int, decided_by: str, message_id: Callable[[str], str]
    ) -> list[Session]:
        """Move up to ``limit`` overdue open sessions to expired, each for exactly one caller.

        Each expiry stays in the outbox (leased to this caller from ``now``) until it is
        marked published.
        """
        ...

    async def take_unpublished_expiries(
        self, now: datetime, leased_before: datetime, limit: int
    ) -> list[UnpublishedExpiry]:
        """Lease to this caller up to ``limit`` outbox expiries last leased before then."""
        ...

    async def mark_expiries_published(self, message_ids: Sequence[str]) -> None:
        """Take these expiries out of the outbox: the broker confirmed their events."""
        ...


class WechatApi(Protocol):
    """The two result calls of the WeChat client."""

    async def get_info(self, verify_result: str) -> FaceInfo:
        """Legacy: the result behind a verify_result."""
        ...

    async def query_verify_info(
        self, verify_id: str, out_seq_no: str, cert_hash: str, openid: str
    ) -> VerifyInfo:
        """v2: the verify_ret of a verification."""
        ...


class EventPublisher(Protocol):
    """Confirmed, persistent, mandatory publishing."""

    @property
    def ready(self) -> bool:
        """True while connected to the broker."""
        ...

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        message_id: str,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Return once the broker confirmed this message; raise PublishError otherwise."""
        ...
