"""Applicant identity recipes: ID-number validation and the hashes WeChat compares against.

``id_card_md5`` and ``name_md5`` are the values getinfo returns (``id_card_number_md5``,
``name_utf8_md5``); ``cert_hash`` is what queryverifyinfo expects. All are lowercase hex.
"""

from __future__ import annotations

import base64
import hashlib
import re

IDENTITY_CARD = "IDENTITY_CARD"

_ID_SHAPE_RE = re.compile(r"[0-9]{17}[0-9Xx]")  # ASCII only: \d admits other scripts
# GB 11643-1999: weights 2^(17-i) mod 11 for the 17 body digits, then this check-char table
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


def valid_id_card_number(value: str) -> bool:
    """True for an 18-character PRC ID number whose GB 11643 check character is right."""
    if not _ID_SHAPE_RE.fullmatch(value):
        return False
    return check_character(value[:17]) == value[17].upper()


def check_character(first17: str) -> str:
    """The GB 11643 check character (``0``-``9`` or ``X``) for 17 ASCII digits."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise ValueError("expected 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalize_id_card_number(value: str) -> str:
    """The ID number as WeChat hashes it: the final check character ``x`` upper-cased."""
    return value.upper()


def id_card_md5(id_card_number: str) -> str:
    """``id_card_number_md5``: md5 of the normalised ID number's UTF-8 bytes."""
    normalized = normalize_id_card_number(id_card_number)
    return hashlib.md5(normalized.encode("utf-8"), usedforsecurity=False).hexdigest()


def name_md5(name: str) -> str:
    """``name_utf8_md5``: md5 of the name's UTF-8 bytes (never GBK), unchanged otherwise."""
    return hashlib.md5(name.encode("utf-8"), usedforsecurity=False).hexdigest()


def cert_hash_source(cert_name: str, cert_no: str, cert_type: str = IDENTITY_CARD) -> str:
    """The string queryverifyinfo's ``cert_hash`` is the SHA-256 of (fixed field order)."""
    parts = (("cert_type", cert_type), ("cert_name", cert_name), ("cert_no", cert_no))
    return "&".join(f"{key}={_b64(value)}" for key, value in parts)


def cert_hash(cert_name: str, cert_no: str, cert_type: str = IDENTITY_CARD) -> str:
    """``cert_hash`` for queryverifyinfo: SHA-256 (lowercase hex) of :func:`cert_hash_source`."""
    source = cert_hash_source(cert_name, cert_no, cert_type)
    return hashlib.sha256(source.encode("ascii")).hexdigest()


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")
