"""The scripted mix: what each demo verification goes through and the outcome it must end in.

A :class:`Case` names one situation (a clean pass, a face that did not match, another person's
ID, a lost push, WeChat failing for a moment…): its flow, how the result reaches wxface
(:class:`Delivery`), what the stand-in is scripted to answer (``standin.scenario.Script``
fields) and the contract's outcome and reason for it. :func:`plan` draws ``count``
verifications from the weighted mix, every case at least once when there is room.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bench.demo.people import Applicant, make_applicant, make_openid
from shared.vocabulary import Flow, Outcome, Reason
from shared.wechat.document import BodyFormat

FACE_MISMATCH = 10004  # identify_ret / verify_ret 比对人脸信息不匹配


class Delivery(StrEnum):
    """How the finished verification reaches wxface."""

    PUSH = "push"  # WeChat pushes face_identify once
    PUSH_TWICE = "push_twice"  # WeChat pushes it, then pushes the same event again
    RESULT = "result"  # the push is lost: the mini-program posts verify_result to …/result
    V2_RESULT = "v2_result"  # v2: the mini-program posts {} to …/result


@dataclass(frozen=True)
class Case:
    """One situation of the mix and what the contract says must come out of it."""

    label: str
    flow: Flow
    delivery: Delivery
    outcome: Outcome
    reason: Reason | None
    weight: int  # relative frequency in the mix (about per mille)
    script: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fmt: BodyFormat = BodyFormat.JSON

    @property
    def expected(self) -> tuple[Outcome, Reason | None]:
        """The outcome and reason the event must carry."""
        return self.outcome, self.reason


def _script(**fields: Any) -> Mapping[str, Any]:
    return MappingProxyType(fields)


_L, _V2 = Flow.LEGACY, Flow.V2
_OK, _NO = Outcome.VERIFIED, Outcome.REJECTED
CASES: tuple[Case, ...] = (
    Case("pass, JSON push", _L, Delivery.PUSH, _OK, None, 240),
    Case("pass, XML push", _L, Delivery.PUSH, _OK, None, 100, fmt=BodyFormat.XML),
    Case("face did not match", _L, Delivery.PUSH, _NO, Reason.NOT_PASSED, 80,
         _script(identify_ret=FACE_MISMATCH)),
    Case("another person's ID", _L, Delivery.PUSH, _NO, Reason.IDENTITY_MISMATCH, 60,
         _script(other_person=True), BodyFormat.XML),
    Case("another user's openid", _L, Delivery.PUSH, _NO, Reason.OPENID_MISMATCH, 40,
         _script(openid="o-demo-somebody-else-000000")),
    Case("duplicated push", _L, Delivery.PUSH_TWICE, _OK, None, 80),
    Case("lost push, result endpoint", _L, Delivery.RESULT, _OK, None, 80),
    Case("WeChat -1 once", _L, Delivery.PUSH, _OK, None, 40, _script(transient=1)),
    Case("WeChat -1 twice", _L, Delivery.PUSH, _OK, None, 20, _script(transient=2),
         BodyFormat.XML),
    Case("access token invalidated", _L, Delivery.PUSH, _OK, None, 3,
         _script(invalidate_token=1)),
    Case("v2 pass", _V2, Delivery.V2_RESULT, _OK, None, 140),
    Case("v2 face did not match", _V2, Delivery.V2_RESULT, _NO, Reason.NOT_PASSED, 40,
         _script(verify_ret=FACE_MISMATCH)),
    Case("v2 not finished yet, then pass", _V2, Delivery.V2_RESULT, _OK, None, 40,
         _script(not_finished=2)),
    Case("v2 WeChat -1 once", _V2, Delivery.V2_RESULT, _OK, None, 30, _script(transient=1)),
)  # fmt: skip


@dataclass(frozen=True)
class Planned:
    """One verification of the run."""

    out_seq_no: str
    case: Case
    applicant: Applicant
    openid: str  # the verifying user (registered for v2; pushed by WeChat for legacy)


def plan(count: int, seed: int, tag: str, cases: tuple[Case, ...] = CASES) -> list[Planned]:
    """``count`` verifications drawn from ``cases`` by weight (each case once when possible)."""
    rng = random.Random(seed)  # demo data, not secrets
    drawn = list(cases[:count])
    weights = [case.weight for case in cases]
    drawn += rng.choices(cases, weights=weights, k=count - len(drawn))
    rng.shuffle(drawn)
    return [
        Planned(f"{tag}-{n:05d}", case, make_applicant(rng), make_openid(rng))
        for n, case in enumerate(drawn)
    ]
