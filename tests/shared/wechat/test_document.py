"""Push documents: format sniffing, safe XML and JSON parsing, and WeChat-style rendering."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import MalformedPushError
from shared.wechat.document import BodyFormat, parse, render, sniff

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xml><ToUserName>&b;</ToUserName></xml>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><ToUserName>&e;</ToUserName></xml>"""
DTD_ONLY = b'<!DOCTYPE xml SYSTEM "http://example.com/x.dtd"><xml><A>1</A></xml>'


@pytest.mark.parametrize(
    ("data", "fmt"),
    [(b"{}", BodyFormat.JSON), (b" \r\n\t<xml/>", BodyFormat.XML), (b"\n{", BodyFormat.JSON)],
)
def test_sniff_reads_the_first_non_blank_byte(data: bytes, fmt: BodyFormat) -> None:
    """``{`` means JSON and ``<`` means XML, after leading whitespace."""
    assert sniff(data) is fmt


@pytest.mark.parametrize("data", [b"", b"   ", b"[]", b"success", b"\xef\xbb\xbf{}", b"\x00<"])
def test_sniff_refuses_anything_else(data: bytes) -> None:
    """Empty bodies, arrays, text and binary are malformed."""
    with pytest.raises(MalformedPushError):
        sniff(data)


def test_xml_cdata_and_bare_numbers_both_read_as_text() -> None:
    """CDATA strings and bare numbers are element text; empty elements are empty strings."""
    fmt, fields = parse(
        b"<xml><A><![CDATA[x <y> & z]]></A>\n<B>12</B><C/><D><![CDATA[]]></D></xml>"
    )
    assert fmt is BodyFormat.XML
    assert fields == {"A": "x <y> & z", "B": "12", "C": "", "D": ""}


def test_xml_nested_elements_become_dicts_and_repeats_lists() -> None:
    """Nested elements are kept (for generic events), repeated nested elements as a list."""
    _, fields = parse(b"<xml><P><i>1</i><i>2</i><j>3</j></P></xml>")
    assert fields == {"P": {"i": ["1", "2"], "j": "3"}}


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS,
        EXTERNAL,
        DTD_ONLY,
        b"<xml><A>1</A>",
        b"<root><A>1</A></root>",
        b"<xml><A>1</A><A>2</A></xml>",
        b'<?xml version="1.0" encoding="no-such-codec"?><xml/>',
        b"<xml><A>\xff</A></xml>",
    ],
)
def test_xml_refuses_dtds_entities_and_bad_documents(data: bytes) -> None:
    """DTDs, entities, unclosed or foreign roots, repeated fields and bad bytes are malformed."""
    with pytest.raises(MalformedPushError):
        parse(data)


@pytest.mark.parametrize(
    "data", [b"[1, 2]", b'{"a": ', b'{"a": "\xff"}', b"{'a': 1}", b'{"a": 1} x', b"{" * 2000]
)
def test_json_refuses_non_objects_and_bad_documents(data: bytes) -> None:
    """Arrays, truncated, non-UTF-8, non-JSON and absurdly nested documents are malformed."""
    with pytest.raises(MalformedPushError):
        parse(data)


def test_render_xml_uses_cdata_for_strings_and_bare_numbers() -> None:
    """Rendering matches WeChat's plaintext XML convention; None fields are left out."""
    xml = render({"ToUserName": "gh_1", "CreateTime": 1, "Event": None}, BodyFormat.XML)
    assert xml == "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1</CreateTime></xml>"


def test_render_json_is_compact_and_keeps_unicode() -> None:
    """JSON output has no spaces and no \\u escapes for Chinese."""
    assert render({"a": "中文", "b": 1}, BodyFormat.JSON) == '{"a":"中文","b":1}'


@pytest.mark.parametrize(
    ("tag", "value"),
    [("1a", "x"), ("a b", "x"), ("a", "\x00"), ("a", "\ud800"), ("a", {"b": 1}), ("a", True)],
)
def test_render_xml_refuses_what_xml_cannot_carry(tag: str, value: object) -> None:
    """Bad element names, XML-illegal characters and nested values cannot be rendered."""
    with pytest.raises(ValueError, match=r"."):
        render({tag: value}, BodyFormat.XML)


xml_text = st.text(
    st.characters(blacklist_categories=["Cs"]).filter(lambda c: c not in "\ufffe\uffff")
).filter(lambda s: all(c in "\t\n\r" or c >= " " for c in s))


@settings(deadline=None)  # timing on a shared CI box is not what is tested
@given(xml_text)
def test_xml_text_round_trips_including_cdata_end_and_cr(text: str) -> None:
    """Any XML-legal text, ``]]>`` and carriage returns included, reads back unchanged."""
    _, fields = parse(render({"A": text, "B": text + "]]>"}, BodyFormat.XML).encode())
    assert fields == {"A": text, "B": text + "]]>"}
