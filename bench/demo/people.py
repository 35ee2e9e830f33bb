"""Made-up applicants: plausible Chinese names and ID numbers with a valid check character.

The demo's applicants exist only here and in the registration requests; nothing prints them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from shared.wechat.applicant import check_character

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
_REGIONS = ("110101", "310101", "440300", "330106", "510104", "420102", "320102", "370102")
_FIRST_BIRTHDAY = date(1960, 1, 1)
_BIRTHDAY_SPAN_DAYS = 16_000  # to late 2003: every applicant is an adult


@dataclass(frozen=True)
class Applicant:
    """A person to verify (demo data only)."""

    name: str
    id_card_number: str


def make_applicant(rng: random.Random) -> Applicant:
    """A random applicant: a two- or three-character name and a well-formed ID number."""
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
    birthday = _FIRST_BIRTHDAY + timedelta(days=rng.randrange(_BIRTHDAY_SPAN_DAYS))
    first17 = f"{rng.choice(_REGIONS)}{birthday:%Y%m%d}{rng.randrange(1000):03d}"
    return Applicant(rng.choice(_SURNAMES) + given, first17 + check_character(first17))


def make_openid(rng: random.Random) -> str:
    """An openid-shaped string (28 characters, as WeChat's are)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))
