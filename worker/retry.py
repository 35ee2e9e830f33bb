"""The retry policy: when to ask WeChat again, and when to give up.

Pure. Delays are bounded exponential back-off with jitter, but RabbitMQ can only delay a
message by parking it in a queue with a fixed TTL (per-message TTLs expire from the head only),
so the ideal delay is rounded to one of the retry tiers at random, in proportion to how close
it lies to each neighbour: the expected delay is the jittered ideal, the real one is a tier.

A retry never outlives the credential: a verify_result is valid about five minutes from the
push (legacy), a verify_id until the session expires (v2). When no tier ends early enough to
leave ``margin_s`` for the last call, the policy gives up and the consumer decides
``failed`` / ``upstream_unavailable``.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass

from shared.vocabulary import Flow


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Back-off over the retry tiers (their fixed TTLs in seconds, any order)."""

    tiers_s: Sequence[float]
    base_s: float = 1.0
    cap_s: float = 60.0
    margin_s: float = 5.0

    def delay(
        self, attempt: int, now: float, deadline: float, rng: random.Random, floor_s: float = 0.0
    ) -> float | None:
        """The tier to park retry number ``attempt`` (0-based) in, or None to give up."""
        fitting = sorted(
            t for t in self.tiers_s if t >= floor_s and now + t + self.margin_s <= deadline
        )
        if not fitting:
            return None
        ideal = min(self.cap_s, self.base_s * 2.0 ** min(attempt, 32))
        target = max(floor_s, ideal * rng.uniform(0.5, 1.5))
        return _round_to_tier(fitting, target, rng)


def _round_to_tier(tiers: list[float], target: float, rng: random.Random) -> float:
    """The neighbouring tier below or above ``target``, the nearer one more likely."""
    above = bisect.bisect_left(tiers, target)
    if above == 0:
        return tiers[0]
    if above == len(tiers):
        return tiers[-1]
    lower, upper = tiers[above - 1], tiers[above]
    return upper if rng.random() < (target - lower) / (upper - lower) else lower


def credential_deadline(
    flow: Flow,
    *,
    received_at: float,
    create_time: int | None,
    credential_ttl_s: float,
    session_expires_at: float | None,
) -> float:
    """Unix time after which WeChat will no longer answer for this credential."""
    if flow is Flow.V2:
        # a verify_id lives as long as the session registered for it
        if session_expires_at is not None:
            return session_expires_at
        return received_at + credential_ttl_s
    minted = received_at if create_time is None else min(received_at, float(create_time))
    return minted + credential_ttl_s
