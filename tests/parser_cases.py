"""Responses made from botocore's shapes, for comparing aboto3's C++ parsers with botocore's.

``Maker(rng, protocol)`` writes a response (body, headers, status) for any
output or error shape of any protocol: what services send, and what they
should not (absent members, nulls, empty lists and maps, unknown members,
values of the wrong kind, every timestamp form, unicode and escapes, huge
numbers, duplicate keys and elements, namespaces and attributes...).
``mutations`` damages a body (truncation, a flipped or inserted byte). The
oracle is botocore's own parser: :func:`outcome` runs a parser and
:func:`assert_same` compares two outcomes type-strictly, dict key order and
datetime time zones included.
"""

from __future__ import annotations

import base64
import datetime
import json
import math
import random
import re
import struct
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

from botocore.awsrequest import HeadersDict

# ---- comparing outcomes --------------------------------------------------------------


def outcome(parser: Any, response: dict[str, Any], shape: Any) -> tuple[str, Any]:
    """("ok", parsed) or ("raised", (class, message)) for one parse."""
    try:
        return "ok", parser.parse(dict(response), shape)
    except Exception as error:
        return "raised", (type(error), str(error))


def assert_same(theirs: Any, ours: Any, path: str = "") -> None:
    """Equal values of the same types, recursively; dict keys in the same order."""
    where = path or "the result"
    assert type(theirs) is type(ours), (
        f"{where}: {type(theirs)} != {type(ours)} ({theirs!r} / {ours!r})"
    )
    if isinstance(theirs, dict):
        assert list(theirs) == list(ours), f"{where}: keys {list(theirs)} != {list(ours)}"
        for key in theirs:
            assert_same(theirs[key], ours[key], f"{path}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(theirs) == len(ours), f"{where}: {len(theirs)} items != {len(ours)}"
        for i, (a, b) in enumerate(zip(theirs, ours)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float):
        same = (math.isnan(theirs) and math.isnan(ours)) or (
            theirs == ours and math.copysign(1, theirs) == math.copysign(1, ours)
        )
        assert same, f"{where}: {theirs!r} != {ours!r}"
    elif isinstance(theirs, datetime.datetime):
        assert (theirs, theirs.fold) == (ours, ours.fold), f"{where}: {theirs!r} != {ours!r}"
        assert type(theirs.tzinfo) is type(ours.tzinfo), f"{where}: {theirs!r} != {ours!r}"
        assert theirs.tzinfo == ours.tzinfo, f"{where}: {theirs.tzinfo!r} != {ours.tzinfo!r}"
        assert theirs.utcoffset() == ours.utcoffset(), f"{where}: {theirs!r} != {ours!r}"
    elif isinstance(theirs, (str, bytes, int, bool, type(None))):
        assert theirs == ours, f"{where}: {theirs!r} != {ours!r}"
    elif isinstance(theirs, ElementTree.Element):
        # botocore's result for XML it does not expect (a repeated element)
        # holds ElementTree nodes: equal when they are the same XML.
        assert ElementTree.tostring(theirs) == ElementTree.tostring(ours), where
    else:  # a stream or an event stream: botocore's own object, passed through
        assert theirs is ours or type(theirs).__module__.startswith("botocore"), where


_ADDRESS = re.compile(" at 0x[0-9a-f]+")


def assert_same_outcome(theirs: tuple[str, Any], ours: tuple[str, Any], what: str) -> None:
    assert theirs[0] == ours[0], f"{what}: botocore {theirs}, aboto3 {ours}"
    if theirs[0] == "raised":
        same = (theirs[1][0], _ADDRESS.sub("", theirs[1][1])) == (
            ours[1][0],
            _ADDRESS.sub("", ours[1][1]),
        )
        assert same, f"{what}: botocore raised {theirs[1]}, aboto3 {ours[1]}"
    else:
        try:
            assert_same(theirs[1], ours[1])
        except AssertionError as error:
            raise AssertionError(f"{what}: {error}") from None


# ---- values ---------------------------------------------------------------------------

TEXTS = [
    "",
    "plain",
    "with space",
    "ünïcödé",
    "日本語",
    "emoji 😀 and 𝄞",
    'quote " backslash \\ slash /',
    "tab\tnewline\nreturn\r",
    "control \x01\x1f",
    "<xml> & 'apos' \"quot\"",
    "x" * 70,
    "arn:aws:s3:::bucket/key",
    "]]>",
    " padded ",
]
TIMESTAMP_TEXTS = [
    "2024-02-29T23:59:58Z",
    "2024-02-29T23:59:58.000Z",
    "2024-02-29T23:59:58.5Z",
    "2024-02-29T23:59:58.123456Z",
    "2024-02-29T23:59:58.1234567Z",
    "2024-02-29T23:59:58+00:00",
    "2024-02-29T23:59:58-00:00",
    "2024-02-29T23:59:58+02:00",
    "2024-02-29T23:59:58",
    "2024-02-29",
    "1999-12-31T23:59:59.999Z",
    "2023-02-29T00:00:00Z",
    "2024-01-01T24:00:00Z",
    "Thu, 29 Feb 2024 23:59:58 GMT",
    "Fri, 29 Feb 2024 23:59:58 GMT",
    "Thu, 29 Feb 2024 23:59:58 UTC",
    "1700000000",
    "1700000000.25",
    "not a date",
    "",
]
CLEAN_TIMESTAMP_TEXTS = [
    "2024-02-29T23:59:58Z",
    "2024-02-29T23:59:58.000Z",
    "2024-02-29T23:59:58.123456Z",
    "2024-02-29T23:59:58+00:00",
    "Thu, 29 Feb 2024 23:59:58 GMT",
]
BIG_INTEGERS = [2**63, -(2**63) - 1, 10**30, 2**53 + 1, -1, 0]
FLOATS = [0.1, -0.0, 1.5e300, 5e-324, 123456789.123456789, 2.0**53 + 2, 1e22, 1e23, 0.3]
FLOAT_TEXTS = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1E5",
    "1e-7",
    "0.30000000000000004",
]


def _blob(rng: random.Random, clean: bool = False) -> str:
    data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 9)))
    text = base64.b64encode(data).decode()
    roll = 1.0 if clean else rng.random()
    if roll < 0.1:
        return text.rstrip("=")  # b64decode refuses: incorrect padding
    if roll < 0.15:
        return text[:1] + "\n" + text[1:]  # b64decode drops what is not base64
    if roll < 0.2:
        return "!" + text
    return text


class Raw:
    """JSON text written as is (NaN, 1e400, a huge integer)."""

    def __init__(self, text: str) -> None:
        self.text = text


class Obj:
    """A JSON object as (key, value) pairs, so keys can repeat."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def dump_json(value: Any, rng: random.Random, ensure_ascii: bool) -> str:
    space = rng.choice(["", " ", "\n  "])
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Obj):
        inner = ("," + space).join(
            json.dumps(k, ensure_ascii=ensure_ascii) + ":" + space + dump_json(v, rng, ensure_ascii)
            for k, v in value.pairs
        )
        return "{" + space + inner + space + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump_json(v, rng, ensure_ascii) for v in value) + "]"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=ensure_ascii)


# ---- responses ------------------------------------------------------------------------


class Maker:
    """Responses for one protocol, chosen by ``rng``; ``odd`` is how often a value
    is something botocore's parser must cope with rather than what services send."""

    def __init__(
        self, rng: random.Random, protocol: str, odd: float = 0.08, clean: bool = False
    ) -> None:
        self.rng = rng
        self.protocol = protocol
        self.odd = 0.0 if clean else odd
        self.clean = clean  # only what services send: no repeats, junk or bad values

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def oddity(self, p: float) -> bool:
        """A roll for something services should not send (never when clean)."""
        return not self.clean and self.rng.random() < p

    # -- scalar text, shared by every family --

    def text(self, shape: Any) -> str:
        enum = shape.metadata.get("enum") if hasattr(shape, "metadata") else None
        if enum and self.chance(0.6):
            return str(self.rng.choice(enum))
        text = self.rng.choice(TEXTS)
        if (
            "\x01" in text
            and self.protocol in ("rest-xml", "query", "ec2")
            and not self.oddity(0.3)
        ):
            text = "control"  # not a character XML allows
        return text

    def timestamp_text(self) -> str:
        if self.clean:
            return self.rng.choice(CLEAN_TIMESTAMP_TEXTS)
        return self.rng.choice(TIMESTAMP_TEXTS)

    def blob(self) -> str:
        return _blob(self.rng, self.clean)

    # -- JSON --

    def json_value(self, shape: Any, depth: int = 0) -> Any:
        rng = self.rng
        kind = shape.type_name
        odd = self.chance(self.odd)
        if kind == "structure":
            if shape.metadata.get("document") or getattr(shape, "is_document_type", False):
                return self.any_json(depth)
            if odd:
                return rng.choice([None, [], "text", 1])
            return self.json_structure(shape, depth)
        if kind == "list":
            if odd:
                return rng.choice([None, "ab", {"a": 1}, 3])
            count = 0 if depth > 3 else rng.choice([0, 1, 2, 3])
            items = [self.json_value(shape.member, depth + 1) for _ in range(count)]
            if items and self.oddity(0.1):
                items[0] = None
            return items
        if kind == "map":
            if odd:
                return rng.choice([None, [], "x"])
            count = 0 if depth > 3 else rng.choice([0, 1, 2, 3])
            pairs = []
            for i in range(count):
                key = self.text(shape.key) + str(i % 2)
                value = None if self.oddity(0.05) else self.json_value(shape.value, depth + 1)
                pairs.append((key, value))
            if pairs and self.oddity(0.1):
                pairs.append((pairs[0][0], self.json_value(shape.value, depth + 1)))
            return Obj(pairs)
        if kind in ("string", "character"):
            if odd:
                return rng.choice([1, True, None, [], {"a": "b"}, 2.5])
            return self.text(shape)
        if kind == "boolean":
            if odd:
                return rng.choice(["true", "False", 0, 1, None])
            return rng.choice([True, False])
        if kind in ("integer", "long"):
            if odd:
                return rng.choice([1.5, "12", Raw("1e3"), None, True, *BIG_INTEGERS])
            return rng.choice([0, 1, -7, 42, 1700000000, 2**31])
        if kind in ("float", "double"):
            if odd:
                return rng.choice([Raw(t) for t in FLOAT_TEXTS] + [1, -3, "2.5", None, True])
            return rng.choice(FLOATS)
        if kind == "timestamp":
            roll = rng.random()
            if roll < 0.3:
                epochs = [1700000000, 1700000000.5, 0, 1.5e9]
                return rng.choice(epochs if self.clean else [*epochs, 253402300800])
            if odd:
                return rng.choice([True, None, [], -1e20])
            return self.timestamp_text()
        if kind == "blob":
            if odd:
                return rng.choice([1, None, "é", []])
            return self.blob()
        return self.any_json(depth)

    def json_structure(self, shape: Any, depth: int) -> Obj:
        rng = self.rng
        members = list(shape.members.items())
        union = shape.metadata.get("union") or getattr(shape, "is_tagged_union", False)
        if union and members and not self.oddity(self.odd):
            members = [rng.choice(members)]
        pairs: list[tuple[str, Any]] = []
        for name, member in members:
            if member.serialization.get("eventstream"):
                continue
            if depth > 3 and not union and self.chance(0.7):
                continue
            if not union and self.chance(0.25):
                continue  # absent
            wire = member.serialization.get("name", name)
            if self.oddity(0.05):
                pairs.append((wire, None))
            else:
                pairs.append((wire, self.json_value(member, depth + 1)))
        if pairs and self.oddity(0.05):
            pairs.append((pairs[0][0], pairs[0][1]))  # a duplicate key
        if self.oddity(0.05):
            pairs.append(("unknownMember", self.any_json(depth + 1)))
        if union and self.oddity(0.05):
            pairs.append(("__type", "some.Type"))
        rng.shuffle(pairs) if self.chance(0.2) else None
        return Obj(pairs)

    def any_json(self, depth: int) -> Any:
        rng = self.rng
        choices: list[Any] = [1, -2.5, "s", True, None, Raw("1e400"), 10**25]
        if depth < 4:
            choices += [
                [1, "a", None, [True]],
                Obj([("a", 1), ("b", Obj([("c", [])])), ("a", 2)]),
            ]
        return rng.choice(choices)

    def json_body(self, shape: Any) -> bytes:
        value = self.json_structure(shape, 0) if shape is not None else Obj([])
        text = dump_json(value, self.rng, ensure_ascii=self.chance(0.5))
        return text.encode()

    # -- CBOR --

    def cbor_value(self, shape: Any, depth: int = 0) -> Any:
        rng = self.rng
        kind = shape.type_name
        odd = self.chance(self.odd)
        if kind == "structure":
            if odd:
                return rng.choice([None, UNDEFINED, [], "text", 1])
            return self.cbor_structure(shape, depth)
        if kind == "list":
            if odd:
                return rng.choice(["ab", {"a": 1}, 3, None])
            count = 0 if depth > 3 else rng.choice([0, 1, 2, 3])
            items = [self.cbor_value(shape.member, depth + 1) for _ in range(count)]
            if items and self.oddity(0.1):
                items[0] = rng.choice([None, UNDEFINED])
            return items
        if kind == "map":
            count = 0 if depth > 3 else rng.choice([0, 1, 2])
            pairs = [
                (self.text(shape.key) + str(i), self.cbor_value(shape.value, depth + 1))
                for i in range(count)
            ]
            if self.oddity(0.1):
                pairs.append((rng.choice([1, b"k", 2.5]), "odd key"))
            return Obj(pairs)
        if kind == "timestamp":
            if odd:
                return rng.choice([Tag(1, "text"), Tag(1, True), 1700000000, Tag(2, 1)])
            return Tag(1, rng.choice([1700000000, 1700000000.5, 0, -1.25]))
        if kind == "blob":
            return rng.choice([b"", b"\x00\xff", b"blob"]) if not odd else "text"
        if kind in ("integer", "long"):
            return rng.choice([0, 23, 24, 255, 65536, -1, -25, 2**63, -(2**64)]) if odd else 42
        if kind in ("float", "double"):
            return rng.choice([0.5, -0.0, 1e300, float("inf"), 1.1, 65504.0, 5.960464477539063e-08])
        if kind == "boolean":
            return rng.choice([True, False]) if not odd else UNDEFINED
        if kind == "string":
            if odd:
                return rng.choice([Raw("\x62\xff\xfe"), 1, b"bytes"])
            return self.text(shape)
        return self.cbor_any(depth)

    def cbor_structure(self, shape: Any, depth: int) -> Obj:
        rng = self.rng
        members = list(shape.members.items())
        union = shape.metadata.get("union") or getattr(shape, "is_tagged_union", False)
        if union and members and not self.oddity(self.odd):
            members = [rng.choice(members)]
        pairs: list[tuple[Any, Any]] = []
        for name, member in members:
            if member.serialization.get("eventstream"):
                continue
            if (depth > 3 and not union and self.chance(0.7)) or (not union and self.chance(0.25)):
                continue
            value = rng.choice([None, UNDEFINED]) if self.oddity(0.05) else None
            pairs.append((name, value if value is not None else self.cbor_value(member, depth + 1)))
            if self.oddity(0.03):
                pairs.append((name, None))  # a later None never replaces a value
        if pairs and self.oddity(0.05):
            pairs.append((pairs[0][0], self.cbor_value(members[0][1], depth + 1)))
        if self.oddity(0.05):
            pairs.append(("unknownMember", self.cbor_any(depth + 1)))
        if self.oddity(0.03):
            pairs.append((rng.choice([7, b"key", Tag(1, 5)]), "non-text key"))
        if union and self.oddity(0.05):
            pairs.append(("__type", "some.Type"))
        return Obj(pairs)

    def cbor_any(self, depth: int) -> Any:
        choices: list[Any] = [1, -2.5, "s", True, None, UNDEFINED, b"b", Tag(1, 10)]
        if depth < 4:
            choices += [[1, None, [2]], Obj([("a", 1), ("b", None), ("a", 2)])]
        return self.rng.choice(choices)

    def cbor_body(self, shape: Any) -> bytes:
        value = self.cbor_structure(shape, 0) if shape is not None else Obj([])
        body = dump_cbor(value, self.rng)
        if self.oddity(0.05):
            body += b"\x01trailing"  # botocore reads one data item and ignores the rest
        return body

    # -- headers (rest protocols) --

    def header_value(self, shape: Any) -> str:
        rng = self.rng
        kind = shape.type_name
        odd = self.chance(self.odd)
        if kind in ("integer", "long"):
            return (
                rng.choice([" 7", "+3", "1.5", "x", "9" * 25])
                if odd
                else str(rng.choice([0, 12, -3]))
            )
        if kind == "timestamp":
            return self.timestamp_text()
        if kind == "boolean":
            return rng.choice(["true", "false", "True", "yes"])
        if kind in ("float", "double"):
            return rng.choice(["1.5", "2", "nan", "x"])
        if kind == "list":
            return rng.choice(["a,b", " a , b ", "", "single"])
        if kind == "blob":
            return self.blob()
        if kind == "string" and shape.serialization.get("jsonvalue"):
            data = json.dumps({"k": [1, "v"]}).encode()
            return base64.b64encode(data).decode() if not odd else "!!"
        return self.rng.choice([t for t in TEXTS if t.isprintable() and t.isascii()])

    def headers(self, shape: Any) -> dict[str, str]:
        headers: dict[str, str] = {}
        roll = self.rng.random()
        if roll < 0.6:
            headers["x-amzn-RequestId"] = "req-" + str(self.rng.randrange(1000))
        elif roll < 0.8:
            headers["x-amz-request-id"] = "s3req"
            if self.chance(0.5):
                headers["x-amz-id-2"] = "host/id="
        headers["Content-Type"] = "application/x"
        if shape is None:
            return headers
        for name, member in shape.members.items():
            location = member.serialization.get("location")
            if location == "header" and self.chance(0.7):
                headers[member.serialization.get("name", name)] = self.header_value(member)
            elif location == "headers":
                prefix = member.serialization.get("name", "")
                for i in range(self.rng.choice([0, 1, 2])):
                    headers[f"{prefix}Key{i}"] = f"value {i}"
        return headers

    # -- whole responses --

    def response(self, shape: Any, status: int = 200) -> dict[str, Any]:
        headers = self.headers(shape) if self.protocol.startswith("rest") else self.headers(None)
        if shape is not None:
            for member in shape.members.values():
                if member.serialization.get("location") == "statusCode" and self.chance(0.5):
                    status = self.rng.choice([200, 201, 206])
        return {
            "body": self.body(shape),
            "headers": HeadersDict(headers),
            "status_code": status,
            "context": {"operation_name": "Op"},
        }

    def body(self, shape: Any) -> bytes:
        payload = shape.serialization.get("payload") if shape is not None else None
        if payload is not None:
            member = shape.members[payload]
            if member.type_name in ("blob", "string"):
                choices = [b"", b"payload bytes", "é".encode()]
                return self.rng.choice(choices if self.clean else [*choices, b"\xff"])
            return self.family_body(member)
        return self.family_body(shape)

    def family_body(self, shape: Any) -> bytes:
        if self.oddity(0.03):
            return b""
        if self.protocol in ("json", "rest-json"):
            return self.json_body(shape)
        if self.protocol == "smithy-rpc-v2-cbor":
            return self.cbor_body(shape)
        return self.xml_document(shape)

    # -- XML --

    def xml_text(self, shape: Any) -> str:
        rng = self.rng
        kind = shape.type_name
        odd = self.chance(self.odd)
        if kind in ("integer", "long"):
            if odd:
                return rng.choice([" 7", "+3", "1.5", "x", "", "9" * 25, "1_000"])
            return str(rng.choice([0, 1, -7, 42, 2**31]))
        if kind in ("float", "double"):
            if odd:
                return rng.choice(["nan", "inf", " 2.5", "1e400", "", "x", "1."])
            return rng.choice(["1.5", "0.1", "-0.0", "1e3", "5e-324", "3"])
        if kind == "boolean":
            return (
                rng.choice(["true", "false", "True", ""]) if odd else rng.choice(["true", "false"])
            )
        if kind == "timestamp":
            return self.timestamp_text()
        if kind == "blob":
            return self.blob()
        return self.text(shape)

    def xml_escape(self, text: str) -> str:
        roll = self.rng.random()
        if roll < 0.05 and "]]>" not in text:
            return "<![CDATA[" + text + "]]>"
        if roll < 0.1:
            return "".join(f"&#x{ord(c):x};" if c.isalpha() else escape(c) for c in text)
        if roll < 0.13:
            return "<!-- note -->" + escape(text)
        return escape(text, {'"': "&quot;"} if self.chance(0.3) else {})

    def xml_element(self, tag: str, shape: Any, depth: int) -> str:
        return f"<{tag}>{self.xml_content(shape, depth)}</{tag}>"

    def xml_content(self, shape: Any, depth: int) -> str:
        rng = self.rng
        kind = shape.type_name
        if kind == "structure":
            return self.xml_members(shape, depth)[1]
        if kind == "list":
            count = 0 if depth > 3 else rng.choice([0, 1, 2, 3])
            item = shape.member.serialization.get("name", "member")
            return "".join(self.xml_element(item, shape.member, depth + 1) for _ in range(count))
        if kind == "map":
            return "".join(
                self.xml_entry(shape, "entry", depth) for _ in range(rng.choice([0, 1, 2]))
            )
        return self.xml_escape(self.xml_text(shape))

    def xml_entry(self, shape: Any, tag: str, depth: int) -> str:
        key_tag = shape.key.serialization.get("name") or "key"
        value_tag = shape.value.serialization.get("name") or "value"
        key = self.xml_escape(self.text(shape.key) + str(self.rng.randrange(2)))
        value = self.xml_content(shape.value, depth + 1)
        parts = [f"<{key_tag}>{key}</{key_tag}>", f"<{value_tag}>{value}</{value_tag}>"]
        if self.chance(0.2):
            parts.reverse()
        if self.oddity(self.odd / 2):
            parts.pop()
        return f"<{tag}>{''.join(parts)}</{tag}>"

    def xml_members(self, shape: Any, depth: int) -> tuple[str, str]:
        """(attributes, children) of a structure element."""
        rng = self.rng
        members = list(shape.members.items())
        union = shape.metadata.get("union") or getattr(shape, "is_tagged_union", False)
        if union and members and not self.oddity(self.odd):
            members = [rng.choice(members)]
        attributes, children = [], []
        for name, member in members:
            serialization = member.serialization
            if serialization.get("location") or serialization.get("eventstream"):
                continue
            if (depth > 3 and not union and self.chance(0.7)) or (not union and self.chance(0.25)):
                continue
            wire = serialization.get("name", name)
            if serialization.get("xmlAttribute"):
                prefix = wire.split(":")[0] if ":" in wire else ""
                local = wire.split(":")[-1]
                if prefix:
                    uri = "http://www.w3.org/2001/XMLSchema-instance"
                    attributes.append(f' xmlns:{prefix}="{uri}" {prefix}:{local}=')
                else:
                    attributes.append(f" {local}=")
                attributes[-1] += quoteattr(self.xml_text(member))
                continue
            if member.type_name in ("list", "map") and serialization.get("flattened"):
                if member.type_name == "list":
                    tag = member.member.serialization.get("name", wire)
                    for _ in range(rng.choice([0, 1, 2, 3])):
                        children.append(self.xml_element(tag, member.member, depth + 1))
                else:
                    for _ in range(rng.choice([0, 1, 2])):
                        children.append(self.xml_entry(member, wire, depth + 1))
                continue
            children.append(self.xml_element(wire, member, depth + 1))
            if self.oddity(0.02):
                children.append(self.xml_element(wire, member, depth + 1))  # repeated
        if self.oddity(0.05):
            children.append("<UnknownMember><a>1</a></UnknownMember>")
        if self.chance(0.05):
            children.append("\n  ")
        if self.chance(0.2):
            rng.shuffle(children)
        return "".join(attributes), "".join(children)

    def xml_document(self, shape: Any) -> bytes:
        rng = self.rng
        namespace = rng.choice(["", ' xmlns="https://example.com/doc/2006-03-01/"'])
        declaration = rng.choice(["", '<?xml version="1.0" encoding="UTF-8"?>\n'])
        error = shape is not None and shape.metadata.get("exception")
        if error:
            attributes, members = self.xml_members(shape, 1)
            wires = {m.serialization.get("name", n) for n, m in shape.members.items()}
            code = "".join(
                f"<{tag}>{text}</{tag}>"
                for tag, text in (("Code", shape.name), ("Message", "went wrong"))
                if tag not in wires
            )
            if self.protocol == "ec2":
                text = (
                    f"<Response><Errors><Error{attributes}>{code}{members}</Error></Errors>"
                    "<RequestID>r-1</RequestID></Response>"
                )
            elif self.protocol == "rest-xml" and self.chance(0.5):
                text = f"<Error{attributes}>{code}{members}<RequestId>r</RequestId></Error>"
            else:
                text = (
                    f"<ErrorResponse{namespace}><Error{attributes}><Type>Sender</Type>"
                    f"{code}{members}</Error><RequestId>r-2</RequestId></ErrorResponse>"
                )
            return (declaration + text).encode()
        attributes, members = self.xml_members(shape, 0) if shape is not None else ("", "")
        if self.protocol == "query":
            wrapper = shape.serialization.get("resultWrapper") if shape is not None else None
            body = f"<{wrapper}{attributes}>{members}</{wrapper}>" if wrapper else members
            metadata = "<ResponseMetadata><RequestId>q-1</RequestId></ResponseMetadata>"
            if self.oddity(0.1):
                metadata = rng.choice(["", "<ResponseMetadata/>", metadata * 2])
            text = f"<OpResponse{namespace}>{body}{metadata}</OpResponse>"
        elif self.protocol == "ec2":
            request = rng.choice(["<requestId>e-1</requestId>", "<requestId/>", ""])
            text = f"<OpResponse{namespace}{attributes}>{request}{members}</OpResponse>"
        else:
            tag = shape.name if shape is not None else "Root"
            if self.chance(0.1):
                tag = "s3:" + tag
                namespace = ' xmlns:s3="https://example.com/s3/"'
            text = f"<{tag}{namespace}{attributes}>{members}</{tag}>"
        return (declaration + text).encode()


class Tag:
    """A CBOR tag around a value (tag 1: an epoch timestamp)."""

    def __init__(self, number: int, value: Any) -> None:
        self.number = number
        self.value = value


UNDEFINED = object()  # CBOR's undefined, which botocore reads as None


def dump_cbor(value: Any, rng: random.Random) -> bytes:
    """``value`` in CBOR, sizes and lengths in forms chosen by ``rng``."""

    def head(major: int, n: int) -> bytes:
        if n < 24 and rng.random() < 0.9:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
        raise ValueError(n)

    def indefinite() -> bool:
        return rng.random() < 0.15

    if value is None:
        return b"\xf6"
    if value is UNDEFINED:
        return b"\xf7"
    if isinstance(value, Raw):
        return value.text.encode("latin-1")
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        for code, fmt in ((0xF9, ">e"), (0xFA, ">f")):
            try:
                packed = struct.pack(fmt, value)
            except OverflowError:
                continue
            if struct.unpack(fmt, packed)[0] == value and rng.random() < 0.5:
                return bytes([code]) + packed
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, Tag):
        return head(6, value.number) + dump_cbor(value.value, rng)
    if isinstance(value, (str, bytes)):
        major = 3 if isinstance(value, str) else 2
        data = value.encode() if isinstance(value, str) else value
        if indefinite() and data:
            cut = rng.randrange(len(data) + 1)
            chunks = [data[:cut], data[cut:]]
            return (
                bytes([major << 5 | 31])
                + b"".join(head(major, len(c)) + c for c in chunks)
                + b"\xff"
            )
        return head(major, len(data)) + data
    if isinstance(value, list):
        items = b"".join(dump_cbor(v, rng) for v in value)
        return (b"\x9f" + items + b"\xff") if indefinite() else head(4, len(value)) + items
    pairs = value.pairs if isinstance(value, Obj) else list(value.items())
    items = b"".join(dump_cbor(k, rng) + dump_cbor(v, rng) for k, v in pairs)
    return (b"\xbf" + items + b"\xff") if indefinite() else head(5, len(pairs)) + items


def mutations(body: bytes, rng: random.Random, count: int) -> Iterator[bytes]:
    """Damaged copies of ``body``: cut short, a byte changed, a byte inserted."""
    if not body:
        return
    for _ in range(count):
        at = rng.randrange(len(body))
        roll = rng.random()
        if roll < 0.4:
            yield body[:at]
        elif roll < 0.7:
            yield body[:at] + bytes([rng.choice(b'{}[]",:<>/&;x0\xff\x00 ')]) + body[at + 1 :]
        else:
            yield body[:at] + bytes([rng.choice(b'{}[]",:<>/&;x0\xc3 ')]) + body[at:]
