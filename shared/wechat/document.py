"""Push documents: a flat JSON object or an ``<xml>`` element, parsed to a dict and rendered back.

WeChat sends the same fields in either format (docs/wechat-api.md §1.4); the format is sniffed
from the first non-blank byte. XML is parsed with defusedxml (no DTD, no entities); element text
stays a string (pydantic converts ``CreateTime``), nested elements become dicts and repeated
nested elements lists. XML output uses CDATA for strings and bare numbers, as WeChat does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from shared.errors import MalformedPushError

_BLANK = b" \t\r\n"
_TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# XML 1.0 cannot carry these at all, not even as character references
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class BodyFormat(StrEnum):
    """The data format (数据格式) configured for message push."""

    JSON = "json"
    XML = "xml"


def sniff(data: bytes) -> BodyFormat:
    """``JSON`` for ``{``, ``XML`` for ``<`` (first non-blank byte); anything else is malformed."""
    first = data.lstrip(_BLANK)[:1]
    if first == b"{":
        return BodyFormat.JSON
    if first == b"<":
        return BodyFormat.XML
    raise MalformedPushError("body is neither a JSON object nor XML")


def parse(data: bytes) -> tuple[BodyFormat, dict[str, object]]:
    """The sniffed format and the document's fields."""
    fmt = sniff(data)
    return fmt, (_parse_json(data) if fmt is BodyFormat.JSON else _parse_xml(data))


def render(fields: Mapping[str, object], fmt: BodyFormat) -> str:
    """``fields`` as compact JSON (UTF-8, not ASCII-escaped) or as WeChat-style ``<xml>``."""
    if fmt is BodyFormat.JSON:
        return orjson.dumps(dict(fields)).decode("utf-8")
    return "<xml>" + "".join(_xml_element(k, v) for k, v in fields.items()) + "</xml>"


def _parse_json(data: bytes) -> dict[str, object]:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise MalformedPushError("body is not valid JSON") from exc
    if not isinstance(doc, dict):
        raise MalformedPushError("JSON body is not an object")
    return doc


def _parse_xml(data: bytes) -> dict[str, object]:
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        # ValueError/LookupError: unknown or unusable encoding declarations
        raise MalformedPushError("body is not valid XML (or uses a DTD/entities)") from exc
    if root.tag != "xml":
        raise MalformedPushError("XML root element is not <xml>")
    fields: dict[str, object] = {}
    for child in root:
        if child.tag in fields:
            raise MalformedPushError(f"XML element {child.tag} repeated")
        fields[child.tag] = _xml_value(child)
    return fields


def _xml_value(element: Element) -> object:
    """Text of a leaf (CDATA or bare); a dict (lists for repeats) for an element with children."""
    if len(element) == 0:
        return element.text or ""
    nested: dict[str, object] = {}
    for child in element:
        value = _xml_value(child)
        previous = nested.get(child.tag)
        if previous is None:
            nested[child.tag] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            nested[child.tag] = [previous, value]
    return nested


def _xml_element(tag: str, value: object) -> str:
    if not _TAG.fullmatch(tag):
        raise ValueError(f"{tag!r} is not an XML element name")
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"<{tag}>{value}</{tag}>"
    if isinstance(value, str):
        return f"<{tag}>{_cdata(value)}</{tag}>"
    raise ValueError(f"field {tag} of type {type(value).__name__} has no XML rendering")


def _cdata(text: str) -> str:
    """CDATA that survives any XML-legal text: ``]]>`` is split and CR becomes ``&#13;``."""
    if _NOT_XML.search(text):
        raise ValueError("text contains characters XML 1.0 cannot carry")
    body = text.replace("]]>", "]]]]><![CDATA[>").replace("\r", "]]>&#13;<![CDATA[")
    return f"<![CDATA[{body}]]>"
