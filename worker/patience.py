"""Patience with the infrastructure: retry a broker or store step briefly, then hand back.

A store that is briefly locked or a broker that is reconnecting is no reason to decide
anything: the step is repeated with capped exponential back-off for up to ``patience_s``.
After that :class:`HandBackError` tells the consumer to return the message unacked, so another
attempt (here or in another worker) starts again from the top — which is safe, because every
step is idempotent per credential.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.errors import PublishError, StoreUnavailableError, WxfaceError
from shared.log import get_logger

log = get_logger(__name__)
T = TypeVar("T")

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 2.0
TRANSIENT_INFRA_ERRORS = (PublishError, StoreUnavailableError)


class HandBackError(WxfaceError):
    """The broker or the store stayed unavailable: return the message unacked."""

    code = "hand_back"


class Patience:
    """Runs an idempotent infrastructure step until it succeeds or patience runs out."""

    def __init__(self, patience_s: float, clock: Callable[[], float]) -> None:
        self._patience_s = patience_s
        self._clock = clock

    async def run(self, step: Callable[[], Awaitable[T]]) -> T:
        """The step's result; raise HandBackError once it kept failing for ``patience_s``."""
        deadline = self._clock() + self._patience_s
        delay = FIRST_DELAY_S
        while True:
            try:
                return await step()
            except TRANSIENT_INFRA_ERRORS as exc:
                if self._clock() + delay > deadline:
                    raise HandBackError(f"gave up after {self._patience_s}s: {exc.code}") from exc
                log.warning("infrastructure_unavailable", error=exc.code, retry_in_s=delay)
            await asyncio.sleep(delay)  # back-off between attempts, not a correctness wait
            delay = min(delay * 2, MAX_DELAY_S)
