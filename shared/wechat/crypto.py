"""WeChat message AES: AES-256-CBC, IV = key[0:16], PKCS#7 padding to 32-byte blocks.

Plaintext layout: ``random(16) ‖ msg_len(4, big-endian) ‖ msg (UTF-8) ‖ appid (UTF-8)``.
``Encrypt`` is the standard base64 (with padding) of the ciphertext. See docs/wechat-api.md §1.5.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.errors import AppidMismatchError, Base64Error, ConfigError, PaddingError

BLOCK = 32  # WeChat pads to 32 bytes although AES blocks are 16
_AES_BLOCK = 16
_RANDOM_LEN = 16
_LEN_PREFIX = 4


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key: ``base64(EncodingAESKey + "=")``.

    Lenient about the last character's discarded bits (most console keys are non-canonical
    base64), strict about the alphabet and the resulting length.
    """
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except ValueError as exc:  # binascii.Error, or a non-ASCII str
        raise ConfigError("EncodingAESKey is not base64") from exc
    if len(key) != 32:
        raise ConfigError("EncodingAESKey must be 43 characters (a 32-byte key)")
    return key


@dataclass(frozen=True)
class Decrypted:
    """The three parts of a decrypted ``Encrypt``."""

    random: bytes
    msg: str
    appid: str


class AesCipher:
    """Encrypts and decrypts ``Encrypt`` values with one EncodingAESKey (derived once)."""

    def __init__(self, encoding_aes_key: str) -> None:
        key = aes_key(encoding_aes_key)
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:_AES_BLOCK]))

    def __repr__(self) -> str:
        return "AesCipher(<key hidden>)"

    def encrypt(self, msg: str, appid: str, random_prefix: bytes | None = None) -> str:
        """Base64 ``Encrypt`` of ``msg`` for ``appid`` (a fresh random prefix by default)."""
        prefix = secrets.token_bytes(_RANDOM_LEN) if random_prefix is None else random_prefix
        if len(prefix) != _RANDOM_LEN:
            raise ValueError("random_prefix must be 16 bytes")
        body = msg.encode("utf-8")
        full = prefix + len(body).to_bytes(_LEN_PREFIX, "big") + body + appid.encode("utf-8")
        pad = BLOCK - len(full) % BLOCK  # 1..32: an aligned plaintext gets a whole block
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(full + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def decrypt_parts(self, encrypt: str) -> Decrypted:
        """Decrypt ``Encrypt`` into its random prefix, message and appid (appid not checked)."""
        decryptor = self._cipher.decryptor()
        full = decryptor.update(_ciphertext(encrypt)) + decryptor.finalize()
        content = _unpad(full)[_RANDOM_LEN:]
        msg_len = int.from_bytes(content[:_LEN_PREFIX], "big")
        if len(content) < _LEN_PREFIX or msg_len > len(content) - _LEN_PREFIX:
            raise PaddingError("length prefix exceeds the decrypted plaintext")
        end = _LEN_PREFIX + msg_len
        try:
            msg, appid = content[_LEN_PREFIX:end].decode(), content[end:].decode()
        except UnicodeDecodeError as exc:
            raise PaddingError("decrypted message is not UTF-8") from exc
        return Decrypted(random=full[:_RANDOM_LEN], msg=msg, appid=appid)

    def decrypt(self, encrypt: str, appid: str) -> str:
        """Decrypt ``Encrypt`` and return the message, after checking it is sealed for ``appid``."""
        parts = self.decrypt_parts(encrypt)
        if parts.appid != appid:
            raise AppidMismatchError("appid inside the ciphertext is not ours")
        return parts.msg


def _ciphertext(encrypt: str) -> bytes:
    """Strict base64 decode of a non-empty whole number of AES blocks."""
    try:
        raw = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError) as exc:  # ValueError: non-ASCII str
        raise Base64Error("Encrypt is not base64") from exc
    if not raw or len(raw) % _AES_BLOCK:
        raise Base64Error("Encrypt is not a whole number of AES blocks")
    return raw


def _unpad(full: bytes) -> bytes:
    """Strip block-32 PKCS#7 padding, checking every pad byte."""
    pad = full[-1]
    if not 1 <= pad <= BLOCK or pad > len(full) or full[-pad:] != bytes([pad]) * pad:
        raise PaddingError("invalid PKCS#7 padding")
    return full[:-pad]
