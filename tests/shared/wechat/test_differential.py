"""Differential test: wechatpy 1.8.18 (test-only) and AesCipher agree on WeChat's AES scheme."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException

from shared.errors import AppidMismatchError, Base64Error, PaddingError
from shared.wechat.crypto import AesCipher, aes_key
from shared.wechat.document import render
from shared.wechat.event import FaceIdentifyEvent
from shared.wechat.push import (
    BodyFormat,
    PushMode,
    PushPolicy,
    PushQuery,
    build_push,
    serialize_event,
    verify_push,
)

KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APPID = "wx49f0ab532d5d035a"
TOKEN = "123456"
NOW = 1_411_525_903
NONCE = "461056294"
OURS = AesCipher(KEY)
THEIRS = PrpCrypto(aes_key(KEY))
FACE = FaceIdentifyEvent(
    ToUserName="gh_81f",
    FromUserName="oRRn15NU",
    CreateTime=NOW,
    MsgType="event",
    Event="face_identify",
    openid="oRRn15NU",
    out_seq_no="diff-12345",
    verify_result="XXIzTtMqCxwOaawoE91",
)
# lengths around every multiple of 32 of the whole plaintext, ASCII and Chinese
messages = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=300),
    st.integers(0, 140).map(lambda n: "a" * n),
    st.integers(0, 50).map(lambda n: "中" * n),
)


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(messages)
def test_wechatpy_decrypts_what_we_encrypt(msg: str) -> None:
    """Our ciphertext is readable by wechatpy, message and appid intact."""
    assert THEIRS.decrypt(OURS.encrypt(msg, APPID), APPID) == msg


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(messages)
def test_we_decrypt_what_wechatpy_encrypts(msg: str) -> None:
    """wechatpy's ciphertext is readable by us, message and appid intact."""
    encrypt = THEIRS.encrypt(msg, APPID).decode("ascii")
    assert OURS.decrypt(encrypt, APPID) == msg


def test_wechatpy_reads_our_safe_xml_push() -> None:
    """wechatpy's message decryption (msg_signature check included) accepts our safe XML push."""
    query, body = build_push(FACE, BodyFormat.XML, PushMode.SAFE, TOKEN, APPID, OURS, NOW, NONCE)
    crypto = WeChatCrypto(TOKEN, KEY, APPID)
    inner = crypto.decrypt_message(
        body.decode(), query["msg_signature"], query["timestamp"], query["nonce"]
    )
    assert inner == serialize_event(FACE, BodyFormat.XML)


def test_we_read_wechatpys_encrypted_xml() -> None:
    """A push assembled from wechatpy's Encrypt and MsgSignature passes verify_push."""
    crypto = WeChatCrypto(TOKEN, KEY, APPID)
    reply = crypto.encrypt_message(serialize_event(FACE, BodyFormat.JSON), NONCE, str(NOW))
    encrypt = reply.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    signature = reply.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    body = render({"ToUserName": "gh_81f", "Encrypt": encrypt}, BodyFormat.XML)
    query = PushQuery(timestamp=str(NOW), nonce=NONCE, msg_signature=signature)
    policy = PushPolicy(token=TOKEN, appid=APPID, cipher=OURS)
    assert verify_push(query, body.encode(), policy, NOW).event == FACE


def flip(encrypt: str, offset_from_end: int, mask: int) -> str:
    """Encrypt with one ciphertext byte XOR-ed (offset 1 = the last byte)."""
    raw = bytearray(base64.b64decode(encrypt))
    raw[-offset_from_end] ^= mask
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("msg", ["{}", "a" * 45, "中文" * 7])
@pytest.mark.parametrize(("offset", "mask"), [(1, 0x01), (1, 0xFF), (7, 0x10), (16, 0x80)])
def test_both_reject_a_corrupted_last_block(msg: str, offset: int, mask: int) -> None:
    """A flipped bit in the last block garbles the padding: we say so, wechatpy fails too."""
    corrupted = flip(OURS.encrypt(msg, APPID, random_prefix=b"0123456789abcdef"), offset, mask)
    with pytest.raises(PaddingError):
        OURS.decrypt(corrupted, APPID)
    with pytest.raises(Exception):  # noqa: B017, PT011 - wechatpy raises assorted types
        THEIRS.decrypt(corrupted, APPID)


def test_both_reject_a_wrong_appid() -> None:
    """A message sealed for another appid is refused by both."""
    sealed = OURS.encrypt("{}", "wx0000000000000000")
    with pytest.raises(AppidMismatchError):
        OURS.decrypt(sealed, APPID)
    with pytest.raises(InvalidAppIdException):
        THEIRS.decrypt(sealed, APPID)


@pytest.mark.parametrize("cut", [1, 2, 4, 8])
def test_both_reject_truncated_base64(cut: int) -> None:
    """Encrypt cut short (broken base64 or a partial AES block) is refused by both."""
    truncated = OURS.encrypt("{}", APPID)[:-cut]
    with pytest.raises(Base64Error):
        OURS.decrypt(truncated, APPID)
    with pytest.raises(Exception):  # noqa: B017, PT011 - binascii.Error or ValueError
        THEIRS.decrypt(truncated, APPID)
