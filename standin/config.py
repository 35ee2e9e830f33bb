"""The stand-in's configuration (a dataclass: it is a test and demo tool, not a wxface process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEMO_APPID = "wx0123456789abcdef"
DEMO_SECRET = "standin-secret"
DEMO_TOKEN = "standin-token"
DEMO_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


@dataclass(frozen=True)
class StandinConfig:
    """Who the stand-in believes it serves, and how WeChat-like it behaves.

    ``token`` and ``encoding_aes_key`` are the message-push settings the pusher signs and
    encrypts with (they must match the receiver's). ``clock`` is wall-clock seconds; tests pass
    a fake one to cross expiries without sleeping.
    """

    appid: str = DEMO_APPID
    secret: str = DEMO_SECRET
    token: str = DEMO_TOKEN
    encoding_aes_key: str | None = DEMO_AES_KEY
    original_id: str = "gh_0123456789ab"  # ToUserName of pushes
    verify_result_ttl_s: float = 300.0
    id_key_ttl_s: int = 3600
    token_ttl_s: int = 7200
    token_overlap_s: float = 300.0  # old cgi-bin/token stays valid this long after a new fetch
    latency_ms: float = 0.0
    fault_rate: float = 0.0  # probability of errcode -1 on any face-endpoint call
    seed: int | None = None
    clock: Callable[[], float] = field(default=time.time, compare=False)
