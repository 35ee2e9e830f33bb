"""What the stand-in remembers: applicants, credentials, scripts, tokens and call statistics.

Names and ID numbers are never stored: only the md5s and cert_hash WeChat would compare, and
nothing here is logged.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from standin.config import StandinConfig
from standin.scenario import Script
from standin.tokens import TokenStore


@dataclass
class LegacyApplicant:
    """Registered by getuseridkey."""

    out_seq_no: str
    user_id_key: str
    id_card_number_md5: str
    name_utf8_md5: str
    expires_at: float


@dataclass(frozen=True)
class Credential:
    """A verify_result minted when the user "completes" a legacy verification."""

    out_seq_no: str
    openid: str
    user_id_key: str
    issued_at: float


@dataclass
class V2Applicant:
    """Registered by getverifyid; ``completed`` once the user "finishes" on the phone."""

    out_seq_no: str
    verify_id: str
    cert_hash: str
    openid: str
    expires_at: float
    completed: bool = False


@dataclass
class Stats:
    """Calls per endpoint and replies per errcode, for ``GET /_standin/stats``."""

    calls: Counter[str] = field(default_factory=Counter)
    errcodes: Counter[int] = field(default_factory=Counter)


class StandinState:
    """Everything one stand-in instance knows; reach it through ``app[STATE]``."""

    def __init__(self, config: StandinConfig) -> None:
        self.config = config
        self.clock = config.clock
        self.rng = random.Random(config.seed)  # noqa: S311 -- fault injection, not security
        self.tokens = TokenStore(config.token_ttl_s, config.token_overlap_s, config.clock)
        self.legacy: dict[str, LegacyApplicant] = {}
        self.credentials: dict[str, Credential] = {}
        self.v2: dict[str, V2Applicant] = {}
        self.v2_by_id: dict[str, V2Applicant] = {}
        self.scripts: dict[str, Script] = {}
        self.stats = Stats()

    def script(self, out_seq_no: str, script: Script | None = None) -> Script:
        """Set (or, without ``script``, reset to a clean pass) the outcome for ``out_seq_no``."""
        self.scripts[out_seq_no] = script if script is not None else Script()
        return self.scripts[out_seq_no]

    def forget(self, out_seq_no: str) -> bool:
        """Drop an applicant (its credentials then answer 84003); True if it was known."""
        v2 = self.v2.pop(out_seq_no, None)
        if v2 is not None:
            self.v2_by_id.pop(v2.verify_id, None)
        return (self.legacy.pop(out_seq_no, None) is not None) or v2 is not None

    def snapshot(self) -> dict[str, object]:
        """Statistics as JSON-ready data."""
        return {
            "calls": dict(self.stats.calls),
            "errcodes": {str(k): v for k, v in self.stats.errcodes.items()},
            "token_fetches": self.tokens.fetches,
            "applicants": {"legacy": len(self.legacy), "v2": len(self.v2)},
        }
