"""Protection of what the store keeps about applicants and credentials.

The store never sees a name or an ID number: callers hand it md5s and the v2 ``cert_hash``.
Even those are not kept as given. md5s and credentials become HMAC-SHA256 under a MAC key;
the ``cert_hash`` (which ``queryverifyinfo`` needs back) is sealed with AES-256-GCM under a
seal key. Both keys are derived from the one ``WXFACE_DATA_KEY`` with HKDF and distinct labels,
so neither key can be computed from the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.errors import ConfigError, SealedValueError

MIN_DATA_KEY_LENGTH = 16
_MAC_LABEL = b"wxface/store/mac/v1"
_SEAL_LABEL = b"wxface/store/seal/v1"
_SEAL_PREFIX = "v1."
_NONCE_BYTES = 12


def _derive(data_key: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(data_key)


class Protector:
    """Keyed hashing (for comparison) and sealing (for recovery) under one data key."""

    __slots__ = ("_aead", "_mac_key")

    def __init__(self, data_key: str) -> None:
        """Derive the MAC and seal keys; a data key shorter than 16 characters is refused."""
        if len(data_key) < MIN_DATA_KEY_LENGTH:
            raise ConfigError(
                f"WXFACE_DATA_KEY must be at least {MIN_DATA_KEY_LENGTH} characters long"
            )
        raw = data_key.encode("utf-8")
        self._mac_key = _derive(raw, _MAC_LABEL)
        self._aead = AESGCM(_derive(raw, _SEAL_LABEL))

    def mac(self, value: str) -> str:
        """HMAC-SHA256 of ``value`` as lowercase hex (64 characters)."""
        return hmac.new(self._mac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def matches(self, mac: str, value: str) -> bool:
        """True when ``mac`` is :meth:`mac` of ``value``, compared in constant time."""
        return hmac.compare_digest(mac, self.mac(value))

    def credential_hash(self, credential: str) -> str:
        """The ledger key of a credential (legacy ``verify_result`` or v2 ``verify_id``)."""
        return self.mac("cred:" + credential)

    def seal(self, value: str) -> str:
        """Encrypt ``value`` (AES-256-GCM, random nonce) into an ASCII token."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode("utf-8"), None)
        return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def unseal(self, token: str) -> str:
        """Recover a sealed value; raise :class:`SealedValueError` if it does not open."""
        if not token.startswith(_SEAL_PREFIX):
            raise SealedValueError("not a sealed value")
        try:
            blob = base64.urlsafe_b64decode(token[len(_SEAL_PREFIX) :].encode("ascii"))
            plain = self._aead.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], None)
        except (binascii.Error, ValueError, InvalidTag) as exc:
            raise SealedValueError("sealed value does not open under this data key") from exc
        return plain.decode("utf-8")
