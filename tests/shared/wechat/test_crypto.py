"""WeChat message AES: block-32 padding, the length prefix, appid check, and strict failures."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import AppidMismatchError, Base64Error, ConfigError, PaddingError
from shared.wechat.crypto import AesCipher, aes_key

KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APPID = "wx2c2769f8efd9abc2"
RANDOM = b"0123456789abcdef"


def seal(raw: bytes) -> str:
    """Encrypt arbitrary (already padded) plaintext with KEY, bypassing AesCipher's layout."""
    key = aes_key(KEY)
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(raw) + encryptor.finalize()).decode()


def layout(msg: bytes, appid: bytes, length: int | None = None) -> bytes:
    """random ‖ length ‖ msg ‖ appid, without padding."""
    size = len(msg) if length is None else length
    return RANDOM + size.to_bytes(4, "big") + msg + appid


def padded(full: bytes) -> bytes:
    """Correct block-32 PKCS#7 padding."""
    pad = 32 - len(full) % 32
    return full + bytes([pad]) * pad


@pytest.mark.parametrize(
    "key",
    [
        "A" * 42,
        "A" * 44,
        "A" * 42 + "!",
        "A" * 42 + "é",
        "",
    ],
)
def test_aes_key_rejects_malformed_keys(key: str) -> None:
    """Wrong length, characters outside base64 and non-ASCII keys are configuration errors."""
    with pytest.raises(ConfigError):
        aes_key(key)


text_lengths = st.sampled_from([n * 32 + d for n in range(4) for d in (-2, -1, 0, 1, 2)])


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(
    st.one_of(
        st.text(),
        st.text(alphabet="我是中文abc", min_size=0, max_size=200),
        text_lengths.filter(lambda n: n >= 0).map(lambda n: "x" * n),
    ),
    st.sampled_from([APPID, "", "wx中文"]),
)
def test_encrypt_then_decrypt_round_trips(msg: str, appid: str) -> None:
    """Any text (Chinese, lengths around every multiple of 32) survives encrypt → decrypt."""
    msg = msg.encode("utf-8", "replace").decode("utf-8")  # lone surrogates are not text
    cipher = AesCipher(KEY)
    sealed = cipher.encrypt(msg, appid)
    raw = base64.b64decode(sealed)
    assert len(raw) % 32 == 0
    assert 1 <= len(raw) - (16 + 4 + len(msg.encode()) + len(appid.encode())) <= 32
    parts = cipher.decrypt_parts(sealed)
    assert (parts.msg, parts.appid, len(parts.random)) == (msg, appid, 16)
    assert cipher.decrypt(sealed, appid) == msg


def test_encrypt_uses_a_fresh_random_prefix() -> None:
    """Two encryptions of the same message differ (16 bytes from secrets each time)."""
    cipher = AesCipher(KEY)
    assert cipher.encrypt("m", APPID) != cipher.encrypt("m", APPID)


def test_encrypt_refuses_a_prefix_that_is_not_16_bytes() -> None:
    """A wrong-sized random prefix is a programming error."""
    with pytest.raises(ValueError, match="16 bytes"):
        AesCipher(KEY).encrypt("m", APPID, random_prefix=b"short")


def test_decrypt_checks_the_appid() -> None:
    """A message sealed for another appid is refused."""
    sealed = AesCipher(KEY).encrypt("m", "wxsomeoneelse")
    with pytest.raises(AppidMismatchError):
        AesCipher(KEY).decrypt(sealed, APPID)


@pytest.mark.parametrize(
    "encrypt",
    [
        "",
        "not base64!",
        "QUJD",  # 3 bytes
        base64.b64encode(b"x" * 47).decode(),
        base64.b64encode(b"x" * 64).decode()[:-2],  # padding cut off
        "QUJDRA==" + "é",
        " " + base64.b64encode(b"x" * 32).decode(),
    ],
)
def test_decrypt_rejects_bad_base64(encrypt: str) -> None:
    """Empty, non-base64, non-ASCII and non-block-sized Encrypt values are base64 errors."""
    with pytest.raises(Base64Error):
        AesCipher(KEY).decrypt_parts(encrypt)


@pytest.mark.parametrize(
    "raw",
    [
        padded(layout(b"m", APPID.encode()))[:-1] + b"\x00",  # pad byte 0
        layout(b"m" * 25, APPID.encode()) + b"\x21" * 33,  # pad 33 > 32
        padded(layout(b"m", APPID.encode()))[:-2] + b"\x00\x1b",  # inconsistent pad bytes
        padded(layout(b"m", APPID.encode(), length=10_000)),  # length prefix too large
        padded(b"\x00" * 10),  # shorter than random + length prefix
        padded(layout(b"\xff\xfe", APPID.encode())),  # message not UTF-8
        padded(layout(b"m", b"\xc3")),  # appid not UTF-8
        b"\x20" * 32,  # nothing but padding
    ],
)
def test_decrypt_rejects_bad_plaintext_layouts(raw: bytes) -> None:
    """Bad pad bytes, oversized length prefixes and non-UTF-8 parts are padding errors."""
    with pytest.raises(PaddingError):
        AesCipher(KEY).decrypt_parts(seal(raw))


def test_decrypt_accepts_a_full_pad_block() -> None:
    """An aligned plaintext carries a whole block of 0x20 and still decrypts (vector S1 shape)."""
    full = layout(b"m" * 12, b"wx" * 16)
    assert len(full) % 32 == 0
    parts = AesCipher(KEY).decrypt_parts(seal(full + b"\x20" * 32))
    assert (parts.msg, parts.appid, parts.random) == ("m" * 12, "wx" * 16, RANDOM)


def test_cipher_repr_hides_the_key() -> None:
    """The cipher can be printed (settings dumps, debugging) without revealing its key."""
    assert "abcdef" not in repr(AesCipher(KEY))
