"""Applicant recipes: ID-number checksum, id/name md5s and cert_hash against the shared vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.wechat.applicant import (
    cert_hash,
    cert_hash_source,
    check_character,
    id_card_md5,
    name_md5,
    normalize_id_card_number,
    valid_id_card_number,
)

VECTORS_PATH = (
    Path(__file__).resolve().parents[3].parent / "shared" / "vectors" / "wechat-vectors.json"
)


def _vectors(kind: str) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return [v for v in vectors if v["kind"] == kind]


def test_vectors_file_resolves() -> None:
    """The shared vectors file is where the tests look for it, and has the kinds used here."""
    assert VECTORS_PATH.is_file(), VECTORS_PATH
    assert len(_vectors("md5")) >= 4
    assert len(_vectors("cert_hash")) >= 1


@pytest.mark.parametrize("vector", _vectors("md5"), ids=lambda v: v["id"])
def test_md5_vectors(vector: dict[str, Any]) -> None:
    """id_card_md5 upper-cases a final x and name_md5 hashes UTF-8, as the vectors say."""
    inputs, expected = vector["inputs"], vector["expected"]
    digest = id_card_md5 if inputs["field"] == "id_card_number" else name_md5
    assert digest(inputs["value"]) == expected["md5"]
    if inputs["field"] == "id_card_number":
        assert normalize_id_card_number(inputs["value"]) == expected["normalized"]
    if "md5_if_not_normalized" in expected:
        assert digest(inputs["value"]) != expected["md5_if_not_normalized"]


@pytest.mark.parametrize("vector", _vectors("cert_hash"), ids=lambda v: v["id"])
def test_cert_hash_vectors(vector: dict[str, Any]) -> None:
    """cert_hash is SHA-256 of base64 fields in the fixed order, as the vectors say."""
    i, expected = vector["inputs"], vector["expected"]
    assert cert_hash_source(i["cert_name"], i["cert_no"], i["cert_type"]) == expected["hash_source"]
    assert cert_hash(i["cert_name"], i["cert_no"], i["cert_type"]) == expected["cert_hash"]


@pytest.mark.parametrize(
    "number",
    ["11010519491231002X", "11010519491231002x", "310101199801011232", "440300199003077898"],
)
def test_valid_id_numbers(number: str) -> None:
    """Numbers with a correct GB 11643 check character (x or X) are valid."""
    assert valid_id_card_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "310101199801011234",  # the cert_hash vector's number: its check digit is wrong
        "11010519491231002",  # 17 characters
        "11010519491231002XX",  # 19 characters
        "1101051949123100X2",  # X not in the last place
        "11010519491231002Y",
        "１１０１０５１９４９１２３１００２X",  # full-width digits
        "",
    ],
)
def test_invalid_id_numbers(number: str) -> None:
    """Wrong length, wrong characters or a wrong check character are invalid."""
    assert not valid_id_card_number(number)


def test_lower_and_upper_x_hash_alike() -> None:
    """A final x and a final X give the same md5 (WeChat hashes the upper-case form)."""
    assert id_card_md5("11010519491231002x") == id_card_md5("11010519491231002X")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character(body: str) -> None:
    """For any 17-digit body exactly one of the 11 check characters is valid."""
    valid = [c for c in "0123456789X" if valid_id_card_number(body + c)]
    assert len(valid) == 1


def test_check_character_builds_valid_numbers() -> None:
    """check_character completes a 17-digit body into a valid number; bad bodies are refused."""
    assert check_character("11010519491231002") == "X"
    assert valid_id_card_number("31010119980101123" + check_character("31010119980101123"))
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_character("1234")
