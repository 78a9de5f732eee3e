"""botocore's response parsers, in C++, plugged in where botocore makes them.

botocore parses every response in Python: a 1 MB DynamoDB page or a 1,000-key
S3 listing costs it tens of milliseconds, mostly ``json.loads``/ElementTree and
then a walk over the result that converts it to the output shape (dateutil for
every timestamp). The C++ parsers (``aboto3._core.parse_response``) walk the
output shape and the body together, once, and build only the result.

The seam is botocore's own: each client's endpoint asks its
``ResponseParserFactory`` for a parser on every call. A client with fast
parsing gets a :class:`FastResponseParserFactory` that wraps that factory (so
``set_parser_defaults`` on either still applies) and makes subclasses of
botocore's protocol parsers. They replace only the body parse
(``_do_parse``, ``_do_modeled_error_parse``); ``parse()``, the error
detection, the generic error code and message, ``ResponseMetadata``'s HTTP
fields and event streams stay botocore's for whatever version is installed.

The C++ side answers only what it reproduces exactly and otherwise returns
``NotImplemented``: botocore's own parse then handles that response (so a
malformed body raises exactly botocore's exception). A value of an unusual
kind inside an ordinary body is handed to botocore's own handler for its
shape. Each botocore ``Shape`` is compiled once into a ``ParsePlan`` kept on
the shape. Big bodies are parsed in slices: every few milliseconds the C++
side lets the event loop run (on the native engine) or other threads take the
GIL.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import struct
import threading
import time
import weakref
from typing import Any, Callable

import botocore.handlers
import botocore.parsers
import botocore.utils
from botocore.parsers import PROTOCOL_PARSERS, ResponseParser, ResponseParserFactory
from dateutil import tz  # type: ignore[import-untyped]

from ._safety import SafetyNet
from ._suspend import in_engine_greenlet, suspend

ParsePlan: Any
parse_response: Any
try:
    from . import _core

    ParsePlan = getattr(_core, "ParsePlan", None)
    parse_response = getattr(_core, "parse_response", None)
except ImportError:  # no _core: botocore parses
    ParsePlan = parse_response = None

logger = logging.getLogger("aboto3")

# Set to 0 (or false/no/off) to keep botocore's parsers for every client.
ENV_SWITCH = "ABOTO3_FAST_PARSING"

# Which C++ parser serves each protocol, and how it reads shapes.
_PROTOCOL_IDS = {"json": 0, "rest-json": 1, "rest-xml": 2, "query": 3, "ec2": 4}
_FAMILY = {"json": "json", "rest-json": "json", "rest-xml": "xml", "query": "xml", "ec2": "xml"}
if "smithy-rpc-v2-cbor" in PROTOCOL_PARSERS:
    _PROTOCOL_IDS["smithy-rpc-v2-cbor"] = 5
    _FAMILY["smithy-rpc-v2-cbor"] = "cbor"
# Protocols served in C++ (the others keep botocore's parser).
SERVED = frozenset(_PROTOCOL_IDS)

# Bodies at least this big are parsed in slices (of 2 ms) that let others run.
PACED_BODY_SIZE = 16 * 1024


# ---- compiling botocore shapes --------------------------------------------------------

# Node kinds and member locations, as src/cpp/parsers_common.h numbers them.
_KINDS = {
    "structure": 0,
    "list": 1,
    "map": 2,
    "string": 3,
    "boolean": 4,
    "integer": 5,
    "long": 5,
    "float": 6,
    "double": 6,
    "timestamp": 7,
    "blob": 8,
}
_DOCUMENT, _OTHER = 9, 10
_BODY, _HEADER, _HEADERS, _STATUS_CODE, _IGNORED = 0, 1, 2, 3, 4
_LOCATIONS = {"header": _HEADER, "headers": _HEADERS, "statusCode": _STATUS_CODE}
_UNION, _EXCEPTION, _FLATTENED, _JSONVALUE, _EVENTSTREAM, _ATTRIBUTE = 1, 2, 4, 8, 16, 32

# botocore 1.31 and later read members with an unknown location ("uri",
# "querystring") from an XML body; older ones skip every located member.
_KNOWN_LOCATIONS: tuple[str, ...] | None = getattr(ResponseParser, "KNOWN_LOCATIONS", None)
# The CBOR parser class, whose handlers say which shapes it walks.
_CBOR_PARSER: Any = PROTOCOL_PARSERS.get("smithy-rpc-v2-cbor")
# botocore's own rule for an XML member's element name.
_xml_member_key_name = botocore.parsers.BaseXMLResponseParser()._member_key_name


def _flag(shape: Any, name: str) -> bool:
    value = getattr(shape, name, None)
    return bool(value) if value is not None else False


def _compile(root: Any, family: str) -> Any:
    """The ParsePlan for ``root`` read by the ``family`` parsers, or None."""
    nodes: list[Any] = []
    seen: dict[tuple[str, str, str], int] = {}

    def visit(shape: Any) -> int:
        key = (shape.name, shape.type_name, repr(sorted(shape.serialization.items())))
        index = seen.get(key)
        if index is None:
            index = seen[key] = len(nodes)
            nodes.append(None)
            nodes[index] = node(shape)
        return index

    def node(shape: Any) -> tuple[Any, ...]:
        serialization = shape.serialization
        flags = _FLATTENED if serialization.get("flattened") else 0
        if serialization.get("eventstream"):
            flags |= _EVENTSTREAM
        kind = _KINDS.get(shape.type_name, _OTHER)
        if family == "cbor" and kind not in (0, 1):
            # botocore keeps the decoded value where its CBOR parser has no
            # handler for the type (all but structures and lists).
            has_handler = hasattr(_CBOR_PARSER, f"_handle_{shape.type_name}")
            kind = _OTHER if has_handler else _DOCUMENT
        item = key = value = payload = -1
        key_name = value_name = wrapper = ""
        members: list[tuple[Any, ...]] = []
        if kind == 0:
            if family != "cbor" and (
                shape.metadata.get("document") or _flag(shape, "is_document_type")
            ):
                kind = _DOCUMENT
            else:
                if shape.metadata.get("union") or _flag(shape, "is_tagged_union"):
                    flags |= _UNION
                if shape.metadata.get("exception"):
                    flags |= _EXCEPTION
                names = list(shape.members)
                for name, member in shape.members.items():
                    members.append(_member(name, member, visit(member), family))
                wires = [m[1] for m in members]
                if len(set(wires)) != len(wires) or (
                    flags & _UNION and any(m[1] != m[0] for m in members)
                ):
                    # Two members read from one name, or a union whose
                    # names differ from their wire names (botocore versions
                    # disagree on those): botocore's handler every time.
                    kind, members = _OTHER, []
                payload_name = serialization.get("payload")
                if payload_name is not None and kind == 0:
                    payload = names.index(payload_name)
                wrapper = serialization.get("resultWrapper", "")
        elif kind == 1:
            item = visit(shape.member)
        elif kind == 2:
            key, value = visit(shape.key), visit(shape.value)
            key_name = shape.key.serialization.get("name") or "key"
            value_name = shape.value.serialization.get("name") or "value"
        elif kind == 3 and botocore.utils.is_json_value_header(shape):
            flags |= _JSONVALUE
        return (
            kind,
            shape,
            flags,
            item,
            key,
            value,
            key_name,
            value_name,
            payload,
            wrapper,
            members,
        )

    root_index = visit(root)
    return ParsePlan(nodes, root_index)


def _member(name: str, member: Any, index: int, family: str) -> tuple[Any, ...]:
    serialization = member.serialization
    location = serialization.get("location")
    code = _LOCATIONS.get(location, _BODY) if location else _BODY
    location_name: Any = None
    if code == _HEADER:
        location_name = serialization.get("name", name)
    elif code == _HEADERS:
        location_name = serialization.get("name", "").lower()
    flags = 0
    if family == "json":
        wire = serialization.get("name", name)
    elif family == "xml":
        wire = _xml_member_key_name(member, name)
        if serialization.get("xmlAttribute"):
            flags |= _ATTRIBUTE
        if serialization.get("eventheader") or (
            location and code == _BODY and _KNOWN_LOCATIONS is None
        ):
            code = _IGNORED
    else:
        wire = name
    return (name, wire, index, code, location_name, flags)


_NO_PLAN = object()


def plan_for(shape: Any, family: str) -> Any:
    """The shape's compiled plan for ``family`` (cached on the shape), or None."""
    cache = shape.__dict__.get("_aboto3_plans")
    if cache is None:
        cache = shape.__dict__["_aboto3_plans"] = {}
    plan = cache.get(family, _NO_PLAN)
    if plan is _NO_PLAN:
        plan = None
        if shape.type_name == "structure" and not _has_event_stream(shape):
            try:
                plan = _compile(shape, family)
            except Exception:  # a model this compiler does not understand
                logger.debug("aboto3: botocore parses %s", shape.name, exc_info=True)
        cache[family] = plan
    return plan


def _has_event_stream(shape: Any) -> bool:
    return any(m.serialization.get("eventstream") for m in shape.members.values())


# ---- time zones botocore's timestamp parser would give -------------------------------

_zone_facts: dict[tuple[Any, ...], tuple[Any, Any, bool]] = {}


def _zones() -> tuple[Any, Any, bool]:
    """What botocore's timestamp parser gives on this machine now: (tzinfo of an
    ISO 8601 UTC timestamp, tzinfo of an epoch, whether that local zone is UTC
    all year round).

    dateutil names "Z" and "+00:00" "UTC": where the local zone is named UTC it
    gives tzlocal(), elsewhere tz.UTC. Epochs become
    datetime.fromtimestamp(value, tzlocal()). None where neither holds.
    """
    options = getattr(botocore.utils, "get_tzinfo_options", None)
    key = (time.tzname, time.timezone, time.altzone, time.daylight, options and options())
    facts = _zone_facts.get(key)
    if facts is None:
        local = tz.tzlocal()
        names = time.tzname
        if "UTC" not in names:
            utc = tz.UTC
        elif names == ("UTC", "UTC"):
            utc = local
        else:
            utc = None
        epoch = local if options is None or tuple(options()) == (tz.tzlocal,) else None
        facts = _zone_facts[key] = (utc, epoch, time.timezone == 0 and not time.daylight)
    return facts


# ---- letting others run during a long parse ------------------------------------------


def _yield_to_loop() -> None:
    suspend(asyncio.sleep(0))


def _yield_gil() -> None:
    # Long enough for a thread waiting for the GIL to take it: released and
    # at once taken back, it would not (the waiter wakes to find it taken).
    time.sleep(0.0001)


def _pause_for(response: Any) -> Callable[[], None] | None:
    body = response.get("body")
    if not isinstance(body, bytes) or len(body) < PACED_BODY_SIZE:
        return None
    if in_engine_greenlet():
        return _yield_to_loop  # the event loop runs between slices
    if threading.current_thread() is not threading.main_thread():
        return _yield_gil  # a worker thread: the loop's thread can take the GIL
    return None


# ---- the parsers --------------------------------------------------------------------


class _FastParsing:
    """``_do_parse`` and ``_do_modeled_error_parse`` in C++; botocore's when declined."""

    PROTOCOL = ""

    def _do_parse(self, response: Any, shape: Any) -> Any:
        return self._fast(response, shape, False, super()._do_parse)  # type: ignore[misc]

    def _do_modeled_error_parse(self, response: Any, shape: Any) -> Any:
        return self._fast(response, shape, True, super()._do_modeled_error_parse)  # type: ignore[misc]

    def _fast(
        self, response: Any, shape: Any, modeled_error: bool, botocore_parse: Callable[..., Any]
    ) -> Any:
        plan = None
        if shape is not None:
            plan = plan_for(shape, _FAMILY[self.PROTOCOL])
            if plan is None:
                return botocore_parse(response, shape)
        utc, epoch, local_is_utc = _zones()
        pause = _pause_for(response)
        if pause is not None:
            pause()  # what botocore did with the response so far ends its slice here
        parsed = parse_response(
            _PROTOCOL_IDS[self.PROTOCOL],
            plan,
            response,
            self,
            modeled_error,
            utc,
            epoch,
            local_is_utc,
            pause,
        )
        if parsed is NotImplemented:
            return botocore_parse(response, shape)
        return parsed


def _fast_class(protocol: str, base: type[Any]) -> type[Any]:
    name = "Fast" + base.__name__
    return type(name, (_FastParsing, base), {"PROTOCOL": protocol, "__module__": __name__})


# botocore's classes as this module found them, and their C++ twins.
_BOTOCORE_CLASSES: dict[str, type[Any]] = {p: PROTOCOL_PARSERS[p] for p in SERVED}
FAST_CLASSES: dict[str, type[Any]] = {p: _fast_class(p, c) for p, c in _BOTOCORE_CLASSES.items()}


class FastResponseParserFactory(ResponseParserFactory):  # type: ignore[misc]
    """botocore's ResponseParserFactory, making C++-backed parsers where it can.

    It shares the wrapped factory's defaults (``set_parser_defaults`` on
    either applies to both). A protocol whose parser class someone replaced in
    ``botocore.parsers.PROTOCOL_PARSERS`` gets that class, unchanged.
    """

    def __init__(self, wrapped: ResponseParserFactory) -> None:
        super().__init__()
        self.wrapped = wrapped
        self._defaults = wrapped._defaults
        self._made: dict[tuple[Any, ...], Any] = {}

    def create_parser(self, protocol_name: str) -> Any:
        fast = FAST_CLASSES.get(protocol_name)
        if fast is None or PROTOCOL_PARSERS.get(protocol_name) is not _BOTOCORE_CLASSES.get(
            protocol_name
        ):
            return self.wrapped.create_parser(protocol_name)
        # Parsers keep no state between calls: one per protocol and defaults.
        key = (protocol_name, *self._defaults.items())
        try:
            parser = self._made.get(key)
        except TypeError:  # a default that cannot be hashed: a parser per call
            return fast(**self._defaults)
        if parser is None:
            parser = fast(**self._defaults)
            if len(self._made) > 32:
                self._made.clear()
            self._made[key] = parser
        return parser


# ---- safety net ---------------------------------------------------------------------------

# A model with a member of each kind the parsers read, for the canned check.
_CHECK_SHAPES: dict[str, Any] = {
    "Text": {"type": "string"},
    "Count": {"type": "integer"},
    "Ratio": {"type": "double"},
    "On": {"type": "boolean"},
    "Time": {"type": "timestamp"},
    "Data": {"type": "blob"},
    "Items": {"type": "list", "member": {"shape": "Item"}},
    "Flat": {"type": "list", "member": {"shape": "Text"}, "flattened": True},
    "Times": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Time"}},
    "Meta": {"type": "map", "key": {"shape": "Text"}, "value": {"shape": "Text"}},
    "Item": {
        "type": "structure",
        "members": {
            "Name": {"shape": "Text"},
            "Size": {"shape": "Count"},
            "When": {"shape": "Time"},
            "Child": {"shape": "Item"},
        },
    },
    "Output": {
        "type": "structure",
        "members": {
            "Text": {"shape": "Text"},
            "Count": {"shape": "Count"},
            "Ratio": {"shape": "Ratio"},
            "On": {"shape": "On"},
            "Time": {"shape": "Time"},
            "Data": {"shape": "Data"},
            "Items": {"shape": "Items"},
            "Flat": {"shape": "Flat"},
            "Times": {"shape": "Times"},
        },
    },
    "Oops": {
        "type": "structure",
        "members": {"Message": {"shape": "Text"}, "Detail": {"shape": "Count"}},
        "exception": True,
        "error": {"code": "Oops", "httpStatusCode": 400},
    },
}
_CHECK_HEADER_MEMBERS = {
    "Modified": {"shape": "Time", "location": "header", "locationName": "x-time"},
    "Length": {"shape": "Count", "location": "header", "locationName": "x-length"},
    "Meta": {"shape": "Meta", "location": "headers", "locationName": "x-meta-"},
}
_CHECK_JSON = (
    b'{"Text": "caf\\u00e9 \\u2603", "Count": 3, "Ratio": 0.25, "On": true, "Time": 1700000000.5,'
    b' "Data": "aGk=", "Items": [{"Name": "a", "Size": 1, "When": "2024-01-02T03:04:05.678Z",'
    b' "Child": {"Name": "b", "When": 1700000001}}, {}], "Flat": ["x", "y"],'
    b' "Times": {"k": "2024-01-02T03:04:05Z", "j": "2024-01-02T03:04:06+00:00"}, "Unknown": [1]}'
)
_CHECK_XML_MEMBERS = (
    "<Text>caf\u00e9 \u2603 &amp;</Text><Count>3</Count><Ratio>0.25</Ratio><On>true</On>"
    "<Time>2024-01-02T03:04:05.678Z</Time><Data>aGk=</Data><Items><member><Name>a</Name>"
    "<Size>1</Size><When>2024-01-02T03:04:05Z</When><Child><Name>b</Name></Child></member>"
    "<member/></Items><Flat>x</Flat><Flat>y</Flat><Times><entry><key>k</key>"
    "<value>Tue, 02 Jan 2024 03:04:05 GMT</value></entry></Times><Unknown><a/></Unknown>"
)
_CHECK_XML_OUTPUT = {
    "rest-xml": "<Output xmlns='https://check.example.com/'>{}</Output>",
    "query": (
        "<OpResponse xmlns='https://check.example.com/'><OpResult>{}</OpResult>"
        "<ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></OpResponse>"
    ),
    "ec2": "<OpResponse xmlns='https://check.example.com/'><requestId>id</requestId>{}</OpResponse>",
}
_CHECK_ERRORS = {
    "json": b'{"__type": "Oops", "Message": "m", "Detail": 2}',
    "rest-json": b'{"Message": "m", "Detail": 2}',
    "rest-xml": b"<Error><Code>Oops</Code><Message>m</Message><Detail>2</Detail></Error>",
    "query": (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Oops</Code><Message>m</Message>"
        b"<Detail>2</Detail></Error><RequestId>id</RequestId></ErrorResponse>"
    ),
    "ec2": (
        b"<Response><Errors><Error><Code>Oops</Code><Message>m</Message><Detail>2</Detail>"
        b"</Error></Errors><RequestID>id</RequestID></Response>"
    ),
}


def _canned(protocol: str) -> list[tuple[dict[str, Any], Any]]:
    """(response, shape) pairs of one protocol: an output and a modeled error."""
    from botocore.awsrequest import HeadersDict
    from botocore.model import ServiceModel

    shapes = json.loads(json.dumps(_CHECK_SHAPES))
    headers = {"x-amzn-RequestId": "req", "Content-Type": "application/x"}
    if protocol.startswith("rest"):
        shapes["Output"]["members"].update(_CHECK_HEADER_MEMBERS)
        headers.update(
            {"X-Time": "Tue, 02 Jan 2024 03:04:05 GMT", "x-length": "12", "X-Meta-A": "1"}
        )
    output: dict[str, Any] = {"shape": "Output"}
    if protocol == "query":
        output["resultWrapper"] = "OpResult"
    model = ServiceModel(
        {
            "metadata": {"protocol": protocol, "apiVersion": "2020-01-01", "jsonVersion": "1.0"},
            "operations": {
                "Op": {"name": "Op", "http": {}, "output": output, "errors": [{"shape": "Oops"}]}
            },
            "shapes": shapes,
        },
        "check",
    )
    operation = model.operation_model("Op")
    if _FAMILY[protocol] == "json":
        body = _CHECK_JSON
    elif _FAMILY[protocol] == "cbor":
        document = json.loads(_CHECK_JSON)
        document["Time"] = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000, datetime.timezone.utc)
        body = _cbor(document)
    else:
        body = _CHECK_XML_OUTPUT[protocol].format(_CHECK_XML_MEMBERS).encode()

    def response(body: bytes, status: int) -> dict[str, Any]:
        return {"body": body, "headers": HeadersDict(headers), "status_code": status, "context": {}}

    error = _CHECK_ERRORS.get(protocol) or _cbor(json.loads(_CHECK_ERRORS["json"]))
    return [
        (response(body, 200), operation.output_shape),
        (response(error, 400), model.shape_for("Oops")),
    ]


def _cbor(value: Any) -> bytes:
    """``value`` in CBOR (RFC 8949); a datetime as an epoch timestamp (tag 1)."""

    def head(major: int, n: int) -> bytes:
        if n < 24:
            return bytes([major << 5 | n])
        for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 1 << (8 * size):
                return bytes([major << 5 | info]) + n.to_bytes(size, "big")
        raise ValueError(n)

    if value is None:
        return b"\xf6"
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return head(0, value) if value >= 0 else head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, datetime.datetime):  # tag 1: an epoch timestamp
        return b"\xc1" + _cbor(value.timestamp())
    if isinstance(value, str):
        data = value.encode()
        return head(3, len(data)) + data
    if isinstance(value, list):
        return head(4, len(value)) + b"".join(map(_cbor, value))
    return head(5, len(value)) + b"".join(_cbor(k) + _cbor(v) for k, v in value.items())


def _same(theirs: Any, ours: Any) -> bool:
    """Equal, of the same types all the way down, dict keys in the same order."""
    if type(theirs) is not type(ours):
        return False
    if isinstance(theirs, dict):
        return list(theirs) == list(ours) and all(_same(theirs[k], ours[k]) for k in theirs)
    if isinstance(theirs, list):
        return len(theirs) == len(ours) and all(map(_same, theirs, ours))
    if isinstance(theirs, datetime.datetime):
        return (
            theirs == ours
            and theirs.fold == ours.fold
            and type(theirs.tzinfo) is type(ours.tzinfo)
            and theirs.utcoffset() == ours.utcoffset()
        )
    return bool(theirs == ours)


def _compare() -> str:
    """Parses canned responses of each protocol (an output with a member of
    each kind, timestamps in several forms, header-bound members, and a
    modeled error) with botocore's parser and with the C++ one: they must agree."""
    if parse_response is None:
        return "this build of aboto3._core has no response parsers"
    for protocol in sorted(SERVED):
        for response, shape in _canned(protocol):
            theirs = _BOTOCORE_CLASSES[protocol]().parse(dict(response), shape)
            ours = FAST_CLASSES[protocol]().parse(dict(response), shape)
            if not _same(theirs, ours):
                return f"its {protocol} parse of a test response differs from botocore's"
    return ""


safety_net = SafetyNet(
    ENV_SWITCH,
    _compare,
    trying="parsing a test response",
    fallback="parses responses with botocore's parsers",
)


# ---- S3's check for errors in 200 responses --------------------------------------------

# botocore parses the body of every S3 response with ElementTree before
# parsing it (before-parse.s3.*), to find an <Error> sent with status 200: a
# tree it throws away, which costs more than the C++ parse of a listing.
# The replacement asks expat (the same library) only whether the document is
# well formed and what its root is, and leaves botocore's handler to act
# whenever that could matter: a malformed body, an <Error> root, a DTD.
_BOTOCORE_200_HANDLER: Any = getattr(botocore.handlers, "_handle_200_error", None)
xml_root_tag: Any = getattr(_core, "xml_root_tag", None) if parse_response is not None else None


def _handle_200_error(operation_model: Any, response_dict: Any, **kwargs: Any) -> Any:
    """botocore's S3 200-error handler, skipped where its check would find no error."""
    body = response_dict.get("body")
    if response_dict.get("status_code") == 200 and type(body) is bytes and body:
        root = xml_root_tag(body)
        if root is not NotImplemented and root is not None and root != "Error":
            return None  # well formed, and not an <Error>: botocore would do nothing
    return _BOTOCORE_200_HANDLER(operation_model, response_dict, **kwargs)


def _replaceable_200_handler() -> bool:
    handler = _BOTOCORE_200_HANDLER
    names = getattr(getattr(handler, "__code__", None), "co_names", ())
    # Its only effect comes from the check this replaces.
    return xml_root_tag is not None and "_looks_like_special_case_error" in names


_EVENT_200 = "before-parse.s3.*"


def _use_fast_200_check(client: Any, wanted: bool) -> None:
    if client.meta.service_model.service_name != "s3" or not _replaceable_200_handler():
        return
    events = client.meta.events
    if wanted and events not in _swapped:
        events.unregister(_EVENT_200, _BOTOCORE_200_HANDLER)
        events.register_first(_EVENT_200, _handle_200_error)
        _swapped.add(events)
    elif not wanted and events in _swapped:
        events.unregister(_EVENT_200, _handle_200_error)
        events.register_first(_EVENT_200, _BOTOCORE_200_HANDLER)
        _swapped.discard(events)


_swapped: weakref.WeakSet[Any] = weakref.WeakSet()  # the clients' event emitters changed


# ---- installing on a client -----------------------------------------------------------


def _configure() -> None:
    _core.configure_parsers(
        botocore.utils.parse_timestamp,
        ResponseParser._default_blob_parser,
        tz.tzutc(),
        _lists_are_sparse(),
    )


def _lists_are_sparse() -> bool:
    """Whether this botocore's _handle_list makes a null item None (1.31+)."""

    class Item:
        type_name = "integer"
        serialization: dict[str, Any] = {}  # noqa: RUF012

    class Listing:
        member = Item()
        serialization: dict[str, Any] = {}  # noqa: RUF012

    try:
        return botocore.parsers.RestJSONParser()._handle_list(Listing(), [None]) == [None]  # type: ignore[no-any-return]
    except TypeError:
        return False


if parse_response is not None:
    _configure()


def use_fast_parsing(client: Any, wanted: bool) -> bool:
    """Give ``client`` the C++ parsers (or take them back); True if it now has them."""
    endpoint: Any = getattr(client, "_endpoint", None)
    factory = getattr(endpoint, "_response_parser_factory", None)
    if endpoint is None or factory is None:
        return False
    installed = isinstance(factory, FastResponseParserFactory)
    if wanted and safety_net.enabled_by_environment() and parse_response is not None:
        reason = safety_net.check()
        if not reason:
            if not installed:
                if type(factory) is not ResponseParserFactory:
                    return False  # someone's own factory: theirs to keep
                endpoint._response_parser_factory = FastResponseParserFactory(factory)
            _use_fast_200_check(client, True)
            return True
        safety_net.warn_once(reason)
    if installed:
        endpoint._response_parser_factory = factory.wrapped
        _use_fast_200_check(client, False)
    return False
