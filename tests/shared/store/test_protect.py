"""Protector: keyed MACs, constant-time matching, and sealing that only the data key opens."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.errors import ConfigError, SealedValueError
from shared.store.protect import Protector
from tests.shared.store.support import DATA_KEY, cert_hash, id_md5

PROTECTOR = Protector(DATA_KEY)


def test_mac_is_deterministic_hex_and_keyed() -> None:
    """The same value gives the same 64-hex MAC; another data key gives another MAC."""
    mac = PROTECTOR.mac(id_md5())
    assert mac == PROTECTOR.mac(id_md5())
    assert len(mac) == 64
    assert int(mac, 16) >= 0
    assert mac != Protector("another-data-key-0123456789").mac(id_md5())


def test_matches_accepts_the_value_and_refuses_others() -> None:
    """matches() is true for the MACed value only."""
    mac = PROTECTOR.mac(id_md5())
    assert PROTECTOR.matches(mac, id_md5())
    assert not PROTECTOR.matches(mac, id_md5("110105194912310029"))
    assert not PROTECTOR.matches(mac, id_md5().upper())


def test_credential_hash_is_domain_separated_from_plain_macs() -> None:
    """A credential's ledger key differs from the MAC of the same string used as an md5."""
    assert PROTECTOR.credential_hash("abc") != PROTECTOR.mac("abc")
    assert PROTECTOR.credential_hash("abc") == PROTECTOR.credential_hash("abc")


def test_seal_hides_the_value_and_is_randomised() -> None:
    """Two seals of one cert_hash differ, and neither contains it."""
    first, second = PROTECTOR.seal(cert_hash()), PROTECTOR.seal(cert_hash())
    assert first != second
    assert cert_hash() not in first
    assert PROTECTOR.unseal(first) == PROTECTOR.unseal(second) == cert_hash()


@given(st.text())
def test_seal_unseal_round_trip(value: str) -> None:
    """unseal(seal(x)) == x for any text."""
    assert PROTECTOR.unseal(PROTECTOR.seal(value)) == value


def test_unseal_refuses_tampered_tokens() -> None:
    """A flipped character, a foreign prefix or garbage raise SealedValueError."""
    token = PROTECTOR.seal(cert_hash())
    # flip a bit of the decoded bytes: flipping a base64 character can hit discarded bits only
    blob = bytearray(base64.urlsafe_b64decode(token[3:]))
    blob[-1] ^= 0x01
    flipped = "v1." + base64.urlsafe_b64encode(bytes(blob)).decode("ascii")
    for bad in (flipped, "v2." + token[3:], "v1.", "v1.!!!", "v1.短"):
        with pytest.raises(SealedValueError):
            PROTECTOR.unseal(bad)


def test_unseal_refuses_another_data_key() -> None:
    """A value sealed under one data key does not open under another."""
    token = Protector("another-data-key-0123456789").seal(cert_hash())
    with pytest.raises(SealedValueError):
        PROTECTOR.unseal(token)


def test_short_data_key_is_a_config_error() -> None:
    """A data key under 16 characters is refused at construction."""
    with pytest.raises(ConfigError, match="WXFACE_DATA_KEY"):
        Protector("too-short")
