"""The known-answer vectors of /work/shared/vectors pass through the project's own code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.wechat.crypto import AesCipher, aes_key
from shared.wechat.event import GenericEvent
from shared.wechat.push import (
    BodyFormat,
    PushMode,
    PushPolicy,
    PushQuery,
    verify_handshake,
    verify_push,
)
from shared.wechat.signature import sign, verify

VECTORS_FILE = Path(__file__).parents[3].parent / "shared/vectors/wechat-vectors.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def of_kind(*kinds: str) -> list[Any]:
    """The vectors of these kinds, as pytest params named by id."""
    return [pytest.param(v, id=v["id"]) for v in VECTORS if v["kind"] in kinds]


def by_id(vector_id: str) -> dict[str, Any]:
    """One vector."""
    return next(v for v in VECTORS if v["id"] == vector_id)


def test_the_vector_file_has_every_kind_we_test() -> None:
    """The file is where CI expects it and still holds the kinds this module covers."""
    kinds = {v["kind"] for v in VECTORS}
    assert {"signature", "msg_signature", "decrypt", "encrypt", "aes_key"} <= kinds


@pytest.mark.parametrize("vector", of_kind("signature"))
def test_signature_vectors(vector: dict[str, Any]) -> None:
    """The 3-item signature (and its sorted form) matches."""
    i, e = vector["inputs"], vector["expected"]
    parts = (i["token"], i["timestamp"], i["nonce"])
    assert sign(*parts) == e["signature"]
    verify(e["signature"], *parts)
    if "sorted" in e:
        assert sorted(parts) == e["sorted"]


@pytest.mark.parametrize("vector", of_kind("msg_signature"))
def test_msg_signature_vectors(vector: dict[str, Any]) -> None:
    """The 4-item msg_signature over Encrypt matches."""
    i, e = vector["inputs"], vector["expected"]
    parts = (i["token"], i["timestamp"], i["nonce"], i["encrypt"])
    assert sign(*parts) == e["msg_signature"]
    verify(e["msg_signature"], *parts, name="msg_signature")


@pytest.mark.parametrize("vector", of_kind("decrypt"))
def test_decrypt_vectors(vector: dict[str, Any]) -> None:
    """Decryption yields the published random prefix, message and appid."""
    i, e = vector["inputs"], vector["expected"]
    cipher = AesCipher(i["encoding_aes_key"])
    parts = cipher.decrypt_parts(i["encrypt"])
    assert parts.random == e["random"].encode("ascii")
    assert (parts.msg, parts.appid) == (e["msg"], e["appid"])
    assert len(parts.msg.encode()) == e["msg_len"]
    assert cipher.decrypt(i["encrypt"], e["appid"]) == e["msg"]


@pytest.mark.parametrize("vector", of_kind("encrypt"))
def test_encrypt_vectors(vector: dict[str, Any]) -> None:
    """Encryption with the given random prefix reproduces the published Encrypt byte for byte."""
    i, e = vector["inputs"], vector["expected"]
    cipher = AesCipher(i["encoding_aes_key"])
    encrypt = cipher.encrypt(i["msg"], i["appid"], random_prefix=i["random"].encode("ascii"))
    assert encrypt == e["encrypt"]
    assert cipher.decrypt(encrypt, i["appid"]) == i["msg"]


@pytest.mark.parametrize("vector", of_kind("aes_key"))
def test_aes_key_vectors(vector: dict[str, Any]) -> None:
    """EncodingAESKey → 32-byte key (non-canonical last character included); IV is key[:16]."""
    key = aes_key(vector["inputs"]["encoding_aes_key"])
    assert key.hex() == vector["expected"]["aes_key_hex"]
    assert key[:16].hex() == vector["expected"]["iv_hex"]


def test_v1_handshake_end_to_end() -> None:
    """The official GET handshake returns echostr verbatim."""
    vector = by_id("V1-signature")
    query = vector["context"]["query"]
    policy = PushPolicy(token="AAAAA", appid="wxba5fad812f8e6fb9", cipher=None)
    now = int(query["timestamp"])
    echoed = verify_handshake(PushQuery.from_mapping(query), query["echostr"], policy, now)
    assert echoed == vector["expected"]["response_body"]


def test_v2_plaintext_push_end_to_end() -> None:
    """The official plaintext JSON push verifies and reads as a generic debug event."""
    context = by_id("V2-signature")["context"]
    policy = PushPolicy(token="AAAAA", appid="wxba5fad812f8e6fb9", cipher=None)
    now = int(context["query"]["timestamp"])
    body = orjson.dumps(context["body_json"])
    verified = verify_push(PushQuery.from_mapping(context["query"]), body, policy, now)
    assert verified.mode is PushMode.PLAINTEXT
    assert verified.event.model_dump() == context["body_json"]


def test_v3_safe_json_push_end_to_end() -> None:
    """The official safe-mode JSON push: both signatures verify, decrypts to the debug event."""
    context = by_id("V3-msg_signature")["context"]
    policy = PushPolicy(token="AAAAA", appid="wxba5fad812f8e6fb9", cipher=AesCipher("A" * 43))
    now = int(context["query"]["timestamp"])
    body = orjson.dumps(context["body_json"])
    verified = verify_push(PushQuery.from_mapping(context["query"]), body, policy, now)
    assert (verified.mode, verified.fmt) == (PushMode.SAFE, BodyFormat.JSON)
    expected = json.loads(by_id("V3-decrypt")["expected"]["msg"])
    assert verified.event.model_dump() == expected


def test_v5_compatible_xml_push_end_to_end() -> None:
    """The official sample's compatible XML push verifies by msg_signature and decrypts."""
    vector = by_id("V5-msg_signature")
    i = vector["inputs"]
    query = PushQuery(
        timestamp=i["timestamp"],
        nonce=i["nonce"],
        msg_signature=vector["expected"]["msg_signature"],
    )
    key = by_id("V5-decrypt")["inputs"]["encoding_aes_key"]
    policy = PushPolicy(token=i["token"], appid="wx2c2769f8efd9abc2", cipher=AesCipher(key))
    body = vector["context"]["body_xml"].encode()
    verified = verify_push(query, body, policy, int(i["timestamp"]))
    assert (verified.mode, verified.fmt) == (PushMode.COMPATIBLE, BodyFormat.XML)
    assert isinstance(verified.event, GenericEvent)
    assert verified.event.MsgType == "text"
    assert verified.event.model_extra == {"Content": "abcdteT", "MsgId": "6054768590064713728"}
