"""Push signatures: sorted-join SHA-1 and a verification that fails closed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import SignatureError
from shared.wechat.signature import sign, verify

V1 = ("AAAAA", "1714036504", "1514711492")
V1_SIGNATURE = "f464b24fc39322e44b38aa78f5edd27bd1441696"


def test_sign_matches_the_official_handshake_example() -> None:
    """sign() is sha1 of the sorted, joined parts in lowercase hex (vector V1)."""
    assert sign(*V1) == V1_SIGNATURE


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(st.permutations(V1))
def test_sign_ignores_argument_order(parts: list[str]) -> None:
    """The parts are sorted first, so the order they are passed in does not matter."""
    assert sign(*parts) == V1_SIGNATURE


def test_verify_accepts_the_right_signature() -> None:
    """A matching signature passes silently."""
    verify(V1_SIGNATURE, *V1)


@pytest.mark.parametrize(
    "expected",
    [
        None,
        "",
        V1_SIGNATURE.upper(),
        V1_SIGNATURE[:-1] + "0",
        V1_SIGNATURE[:-1],
        "é" * 40,
    ],
)
def test_verify_rejects_missing_and_wrong_signatures(expected: str | None) -> None:
    """Missing, empty, upper-case, altered, truncated and non-ASCII signatures all fail."""
    with pytest.raises(SignatureError):
        verify(expected, *V1)


def test_verify_names_the_parameter_in_its_message() -> None:
    """The error says which query parameter failed, never the values."""
    with pytest.raises(SignatureError, match=r"^msg_signature missing$"):
        verify(None, *V1, name="msg_signature")


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(st.lists(st.text(), max_size=5), st.text())
def test_sign_and_verify_never_raise_anything_but_signature_error(
    parts: list[str], expected: str
) -> None:
    """Arbitrary text (lone surrogates included) yields a digest, and verify fails closed."""
    assert len(sign(*parts)) == 40
    if expected != sign(*parts):
        with pytest.raises(SignatureError):
            verify(expected, *parts)
