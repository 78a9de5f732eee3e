"""aboto3's C++ response parsers against botocore's own parsers, which stay the oracle.

Every operation of every service model of the installed botocore, with responses made
from its output and error shapes (tests/parser_cases.py), is parsed by both and compared
type-strictly; so are damaged copies of the bodies (both must raise the same exception,
or agree). Targeted cases pin the forms each protocol has (flattened and wrapped XML
lists, attributes, namespaces, result wrappers, unions, header-bound members, payloads,
jsonvalue headers) and the parser defaults a session can set.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.exceptions
import botocore.handlers
import botocore.model
import botocore.parsers
import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.parsers import ResponseParserFactory

from tests.looplag import LoopLag
from tests.parser_cases import (
    UNDEFINED,
    Maker,
    Obj,
    Raw,
    Tag,
    assert_same_outcome,
    dump_cbor,
    mutations,
    outcome,
)

_core = pytest.importorskip("aboto3._core")
if not hasattr(_core, "parse_response"):
    pytest.skip("this build of aboto3._core has no response parsers", allow_module_level=True)

import aboto3  # noqa: E402
from aboto3 import _parsers  # noqa: E402

_session = botocore.session.get_session()


def _protocol(model: Any) -> str:
    return str(getattr(model, "resolved_protocol", None) or model.metadata["protocol"])


def services(protocol: str) -> Iterator[Any]:
    for name in _session.get_available_services():
        model = _session.get_service_model(name)
        if _protocol(model) == protocol:
            yield model


def shapes_of(model: Any) -> Iterator[tuple[str, Any, int]]:
    """(operation, shape, status) for each output shape and two error shapes."""
    for name in model.operation_names:
        operation = model.operation_model(name)
        if operation.has_event_stream_output:
            continue
        yield name, operation.output_shape, 200
        for error in operation.error_shapes[:2]:
            yield name, error, 400


def botocore_parser(protocol: str, **defaults: Any) -> Any:
    factory = ResponseParserFactory()
    factory.set_parser_defaults(**defaults)
    return factory.create_parser(protocol)


def fast_parser(protocol: str, **defaults: Any) -> Any:
    factory = ResponseParserFactory()
    factory.set_parser_defaults(**defaults)
    parser = _parsers.FastResponseParserFactory(factory).create_parser(protocol)
    assert type(parser) is _parsers.FAST_CLASSES[protocol]
    return parser


def compare(
    protocol: str, response: dict[str, Any], shape: Any, what: str, **defaults: Any
) -> None:
    theirs = outcome(botocore_parser(protocol, **defaults), response, shape)
    ours = outcome(fast_parser(protocol, **defaults), response, shape)
    assert_same_outcome(theirs, ours, what)


def counted() -> tuple[int, int]:
    counters = _core.parser_counters()
    return counters["parsed"], counters["declined"]


# ---- every operation of every service ----------------------------------------------------


@pytest.mark.parametrize("protocol", sorted(_parsers.SERVED))
def test_every_operation_parses_as_botocore_parses(protocol: str) -> None:
    theirs, ours = botocore_parser(protocol), fast_parser(protocol)
    before = counted()
    compared = 0
    for model in services(protocol):
        rng = random.Random(f"{model.service_name}-{botocore.__version__}")
        maker = Maker(rng, protocol)
        for operation, shape, status in shapes_of(model):
            for attempt in range(2):
                response = maker.response(shape, status)
                bodies = [response["body"]]
                if attempt == 0:
                    bodies += mutations(response["body"], rng, 1)
                for body in bodies:
                    response["body"] = body
                    what = (
                        f"{model.service_name}.{operation} {getattr(shape, 'name', None)} {body!r}"
                    )
                    assert_same_outcome(
                        outcome(theirs, response, shape), outcome(ours, response, shape), what
                    )
                    compared += 1
    parsed = counted()[0] - before[0]
    assert compared > 0
    assert parsed > compared / 3, f"only {parsed} of {compared} responses were parsed in C++"


@pytest.mark.parametrize("protocol", sorted(_parsers.SERVED))
def test_what_services_send_is_parsed_in_cpp(protocol: str) -> None:
    """Responses as services write them (no odd values): nearly all are answered in C++."""
    parser = fast_parser(protocol)
    declined_before = counted()[1]
    total = 0
    for model in list(services(protocol))[:40]:
        maker = Maker(random.Random(model.service_name), protocol, clean=True)
        for _, shape, status in shapes_of(model):
            parser.parse(maker.response(shape, status), shape)
            total += 1
    declined = counted()[1] - declined_before
    assert declined <= total * 0.02, f"{declined} of {total} left to botocore"


# ---- every form, on a model made for it ----------------------------------------------------


def kitchen_sink(protocol: str) -> Any:
    """An operation whose output has a member of every kind, in every placement."""
    rest = protocol.startswith("rest")
    xml = protocol in ("rest-xml", "query", "ec2")
    shapes: dict[str, Any] = {
        "Str": {"type": "string"},
        "Int": {"type": "integer"},
        "Long": {"type": "long"},
        "Flt": {"type": "float"},
        "Dbl": {"type": "double"},
        "Bool": {"type": "boolean"},
        "Time": {"type": "timestamp"},
        "Bin": {"type": "blob"},
        "Strs": {"type": "list", "member": {"shape": "Str"}},
        "Items": {"type": "list", "member": {"shape": "Item", "locationName": "item"}},
        "Flat": {"type": "list", "member": {"shape": "Str"}, "flattened": True},
        "Tags": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
        "Times": {
            "type": "map",
            "key": {"shape": "Str", "locationName": "Name"},
            "value": {"shape": "Time", "locationName": "When"},
        },
        "FlatMap": {
            "type": "map",
            "key": {"shape": "Str"},
            "value": {"shape": "Int"},
            "flattened": True,
        },
        "Item": {
            "type": "structure",
            "members": {
                "Name": {"shape": "Str"},
                "Count": {"shape": "Int"},
                "Kind": {"shape": "Str", "xmlAttribute": True, "locationName": "xsi:type"},
                "Child": {"shape": "Item"},
            },
        },
        "Value": {
            "type": "structure",
            "union": True,
            "members": {"S": {"shape": "Str"}, "N": {"shape": "Str"}, "L": {"shape": "Values"}},
        },
        "Values": {"type": "list", "member": {"shape": "Value"}},
        "Doc": {"type": "structure", "members": {}, "document": True},
        "Meta": {"type": "map", "key": {"shape": "Str"}, "value": {"shape": "Str"}},
        "JsonHeader": {"type": "string"},
        "Output": {
            "type": "structure",
            "members": {
                "Str": {"shape": "Str"},
                "Renamed": {"shape": "Str", "locationName": "renamed"},
                "Int": {"shape": "Int"},
                "Long": {"shape": "Long"},
                "Flt": {"shape": "Flt"},
                "Dbl": {"shape": "Dbl"},
                "Bool": {"shape": "Bool"},
                "Time": {"shape": "Time"},
                "Bin": {"shape": "Bin"},
                "Strs": {"shape": "Strs"},
                "Items": {"shape": "Items"},
                "Flat": {"shape": "Flat", "locationName": "flat"},
                "Tags": {"shape": "Tags"},
                "Times": {"shape": "Times"},
                "FlatMap": {"shape": "FlatMap"},
                "Item": {"shape": "Item"},
                "Value": {"shape": "Value"},
                "Values": {"shape": "Values"},
            },
        },
        "Failure": {
            "type": "structure",
            "members": {"Message": {"shape": "Str"}, "Reason": {"shape": "Str"}},
            "exception": True,
            "error": {"code": "Failure", "httpStatusCode": 400},
        },
    }
    output = shapes["Output"]["members"]
    if not xml:
        output["Doc"] = {"shape": "Doc"}
    if rest:
        output.update(
            {
                "HeaderInt": {"shape": "Int", "location": "header", "locationName": "x-int"},
                "HeaderTime": {"shape": "Time", "location": "header", "locationName": "x-time"},
                "HeaderStr": {"shape": "Str", "location": "header", "locationName": "X-Str"},
                "HeaderList": {"shape": "Strs", "location": "header", "locationName": "x-list"},
                "HeaderBool": {"shape": "Bool", "location": "header", "locationName": "x-bool"},
                "Meta": {"shape": "Meta", "location": "headers", "locationName": "x-meta-"},
                "Status": {"shape": "Int", "location": "statusCode"},
            }
        )
        if not xml:
            output["JsonHeader"] = {
                "shape": "JsonHeader",
                "location": "header",
                "locationName": "x-json",
                "jsonvalue": True,
            }
    metadata = {
        "apiVersion": "2020-01-01",
        "endpointPrefix": "sink",
        "protocol": protocol,
        "serviceId": "Sink",
        "signatureVersion": "v4",
        "jsonVersion": "1.0",
        "targetPrefix": "Sink",
        "xmlNamespace": "https://sink.example.com/doc/",
    }
    output_ref: dict[str, Any] = {"shape": "Output"}
    if protocol == "query":
        output_ref["resultWrapper"] = "SinkResult"
    model = {
        "metadata": metadata,
        "operations": {
            "Sink": {
                "name": "Sink",
                "http": {"method": "POST", "requestUri": "/"},
                "output": output_ref,
                "errors": [{"shape": "Failure"}],
            }
        },
        "shapes": shapes,
    }
    return botocore.model.ServiceModel(model, "sink").operation_model("Sink")


JSON_BODIES = {
    "everything": b"""{"Str": "\\u00e9t\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\",
        "renamed": "r", "Int": 7,
        "Long": -12345678901234, "Flt": 0.1, "Dbl": 1e400, "Bool": true, "Time": 1700000000.5,
        "Bin": "AAEC/w==", "Strs": ["a", "", "\\u65e5"], "Items": [{"Name": "n", "Count": 2,
        "Child": {"Name": "c", "Child": {"Count": 0}}}, {}], "flat": ["x"],
        "Tags": {"a": "1", "b": "2", "a": "3"}, "Times": {"t": "2024-02-29T23:59:58.123Z"},
        "FlatMap": {"k": 1}, "Value": {"S": "s"}, "Values": [{"N": "1"}, {"L": [{"S": "x"}]}],
        "Doc": {"x": [1, 2.5, null, NaN, {"y": "z", "y": 99999999999999999999999}]}}""",
    "absent": b"{}",
    "empty": b'{"Strs": [], "Items": [], "Tags": {}, "Times": {}, "Doc": {}, "Str": ""}',
    "nulls": b'{"Str": null, "Int": null, "Item": null, "Strs": ["a", null], "Tags": {"k": null},'
    b' "Items": [null, {"Name": null}], "Values": [null]}',
    "null map timestamp": b'{"Times": {"k": null}}',
    "wrong kinds": b'{"Str": 5, "Int": 1.5, "Long": "7", "Flt": 2, "Dbl": "2.5", "Bool": "true",'
    b' "Time": true, "Strs": "abc", "Doc": 3, "Values": [{"S": 1}]}',
    "wrong blob": b'{"Bin": 3}',
    "wrong map": b'{"Tags": [1]}',
    "wrong structure": b'{"Item": []}',
    "integer floats": b'{"Flt": 2, "Dbl": -0, "Int": -0}',
    "special floats": b'{"Flt": NaN, "Dbl": -Infinity, "Values": [],'
    b' "Int": 123456789012345678901234}',
    "escaped keys": b'{"\\u0053tr": "via escape", "Str": "last wins", "\\u0049nt": 1}',
    "union empty": b'{"Value": {}}',
    "union two": b'{"Value": {"S": "a", "N": "1"}}',
    "union type": b'{"Value": {"__type": "T", "S": "a"}}',
    "union unknown": b'{"Value": {"Other": 1}}',
    "union null": b'{"Value": {"S": null, "N": "1"}}',
    "unknown members": b'{"Nope": {"deep": [1, {"x": NaN}]}, "Str": "s"}',
    "truncated": b'{"Str": "abc", "Items": [{"Na',
    "trailing": b'{"Str": "abc"} x',
    "top null": b"null",
    "top list": b"[1]",
    "empty body": b"",
    "bad utf-8": b'{"Str": "\xff"}',
    "bad escape": b'{"Str": "\\x"}',
    "deep": b'{"Doc": ' + b"[" * 600 + b"]" * 600 + b"}",
}
for _i, _text in enumerate(
    [
        "2024-02-29T23:59:58Z",
        "2024-02-29T23:59:58.000Z",
        "2024-02-29T23:59:58.5Z",
        "2024-02-29T23:59:58.1234567Z",
        "2024-02-29T23:59:58+00:00",
        "2024-02-29T23:59:58-00:00",
        "2024-02-29T23:59:58+05:30",
        "2024-02-29T23:59:58",
        "Thu, 29 Feb 2024 23:59:58 GMT",
        "Fri, 29 Feb 2024 23:59:58 GMT",
        "2023-02-29T00:00:00Z",
        "1700000000",
        "garbage",
    ]
):
    JSON_BODIES[f"timestamp {_i}"] = json.dumps({"Time": _text}).encode()
for _i, _epoch in enumerate(["0", "-1", "1700000000", "1.5e9", "253402300800", "1e300"]):
    JSON_BODIES[f"epoch {_i}"] = b'{"Time": ' + _epoch.encode() + b"}"

REST_HEADERS = {
    "x-amzn-RequestId": "req",
    "X-Int": "12",
    "x-time": "Thu, 29 Feb 2024 23:59:58 GMT",
    "x-str": "header text",
    "x-list": "a, b ,c",
    "x-bool": "true",
    "X-Meta-One": "1",
    "x-meta-two": "2",
    "x-json": base64.b64encode(b'{"k": [1, "v"]}').decode(),
}
ODD_HEADERS = {"x-int": " 7", "x-time": "2024-02-29T23:59:58Z", "x-bool": "yes", "x-json": "!"}

# Cases botocore's parser must handle itself: everything else is answered in C++.
DECLINED = {
    "wrong blob",
    "wrong map",
    "wrong structure",
    "null map timestamp",
    "union empty",
    "union two",
    "union type",
    "union unknown",
    "union null",
    "truncated",
    "trailing",
    "top null",
    "top list",
    "bad utf-8",
    "bad escape",
    "deep",
    "timestamp 10",
    "timestamp 12",
    "epoch 4",
    "epoch 5",
}


def response(body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> Any:
    return {
        "body": body,
        "headers": HeadersDict(headers or {"x-amzn-requestid": "r"}),
        "status_code": status,
        "context": {"operation_name": "Sink"},
    }


def compare_case(protocol: str, shape: Any, case: dict[str, Any], name: str) -> bool:
    """Same outcome as botocore's; True when the C++ parser answered."""
    before = counted()
    compare(protocol, case, shape, f"{protocol} {name}")
    parsed = counted()[0] - before[0]
    return parsed > 0


@pytest.mark.parametrize("protocol", ["json", "rest-json"])
def test_json_forms(protocol: str) -> None:
    operation = kitchen_sink(protocol)
    headers = REST_HEADERS if protocol == "rest-json" else None
    for name, body in JSON_BODIES.items():
        answered = compare_case(protocol, operation.output_shape, response(body, headers), name)
        assert answered == (name not in DECLINED), f"{name}: answered in C++: {answered}"
    if protocol == "rest-json":
        for status in (200, 206):
            case = response(JSON_BODIES["everything"], {**REST_HEADERS, **ODD_HEADERS}, status)
            compare_case(protocol, operation.output_shape, case, "odd headers")
        case = response(b"", {})
        assert compare_case(protocol, operation.output_shape, case, "no headers, no body")
    error = operation.service_model.shape_for("Failure")
    for body in (b'{"__type": "Failure", "Message": "m", "Reason": "r"}', b"{}", b"x"):
        compare_case(protocol, error, response(body, headers, 400), f"error {body!r}")


XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
XML_MEMBERS = {
    "everything": f"""<Str>caf\xc3\xa9 &amp; &lt;b&gt; &#x1F600;</Str><renamed>r</renamed>
        <Int>-7</Int><Long>12345678901234</Long><Flt>0.1</Flt><Dbl>1e400</Dbl><Bool>true</Bool>
        <Time>2024-02-29T23:59:58.123Z</Time><Bin>AAEC/w==</Bin>
        <Strs><member>a</member><member></member><member>\xe6\x97\xa5</member></Strs>
        <Items><item {XSI} xsi:type="Kind"><Name>n</Name><Count>2</Count>
        <Child><Name>c</Name><Child><Count>0</Count></Child></Child></item><item/></Items>
        <flat>x</flat><Str2>ignored</Str2><flat>y</flat>
        <Tags><entry><key>a</key><value>1</value></entry><entry><value>2</value><key>b</key></entry>
        <entry><key>a</key><value>3</value></entry></Tags>
        <Times><entry><Name>t</Name><When>Thu, 29 Feb 2024 23:59:58 GMT</When></entry></Times>
        <FlatMap><key>k</key><value>1</value></FlatMap><FlatMap><key>j</key><value>2</value></FlatMap>
        <Value><S>s</S></Value><Values><member><N>1</N></member><member><L><member><S>x</S>
        </member></L></member></Values>""".encode(),
    "absent": b"",
    "empty": b"<Strs/><Items></Items><Tags/><Str/><Item/><Times></Times>",
    "whitespace": b"\n  <Str>  padded  </Str>\n  <Int> 7 </Int>  <Bool>True</Bool>  ",
    "odd numbers": b"<Int>+3</Int><Long>1_000</Long><Flt>nan</Flt><Dbl> 2.5 </Dbl>",
    "text forms": b"<Str>a<![CDATA[<b>&]]><!-- c -->d&#13;&#x41;\r\ne</Str>",
    "prefixes": b'<s:Str xmlns:s="https://other.example.com/">p</s:Str>'
    b'<Item xmlns:foo="http://www.w3.org/2001/XMLSchema-instance" foo:type="K" type="plain">'
    b"<Name>n</Name></Item>",
    "mixed structure": b"<Item>text<Name>n</Name>more<Unknown><x>1</x></Unknown></Item>",
    "unknown": b"<Nope><deep><er/></deep></Nope><Str>s</Str>",
    "big numbers": b"<Int>99999999999999999999999</Int><Flt>1.7976931348623157e308</Flt>",
    "empty int": b"<Int></Int>",
    "bad int": b"<Int>x</Int>",
    "repeated": b"<Str>a</Str><Str>b</Str>",
    "repeated wrapper": b"<Strs><member>a</member></Strs><Strs><member>b</member></Strs>",
    "entry without value": b"<Tags><entry><key>a</key></entry></Tags>",
    "entry with unknown": b"<Tags><entry><key>a</key><value>1</value><x/></entry></Tags>",
    "union empty": b"<Value></Value>",
    "union two": b"<Value><S>a</S><N>1</N></Value>",
    "union unknown": b"<Value><Other>a</Other></Value>",
    "scalar child": b"<Str>a<b/>c</Str>",
    "bad blob": b"<Bin>AAE</Bin>",
    "lenient blob": b"<Bin>AA\nEC</Bin>",
    "timestamp plain": b"<Time>2024-02-29T23:59:58</Time>",
    "timestamp offset": b"<Time>2024-02-29T23:59:58+01:00</Time>",
    "timestamp epoch": b"<Time>1700000000</Time>",
    "timestamp bad": b"<Time>2023-02-29T00:00:00Z</Time>",
}
XML_DECLINED = {
    "empty int",
    "bad int",
    "repeated",
    "repeated wrapper",
    "entry without value",
    "entry with unknown",
    "union empty",
    "union two",
    "union unknown",
    "scalar child",
    "bad blob",
    "timestamp bad",
}
MALFORMED_XML = [
    b"<Output><Str>a</Str>",
    b"<Output><Str>a</Output>",
    b"<Output><Str>&nope;</Str></Output>",
    b'<!DOCTYPE Output [<!ENTITY e "x">]><Output><Str>&e;</Str></Output>',
    b"<Output/><Extra/>",
    b"<Output><Str>\xff</Str></Output>",
    b"<Output><Str>\x01</Str></Output>",
    b"<s:Output><Str>a</Str></s:Output>",
    b"<Output a='1' a='2'/>",
    b"<?xml version='1.0' encoding='latin-1'?><Output><Str>\xe9</Str></Output>",
    b"not xml",
]


def xml_document(protocol: str, members: bytes) -> bytes:
    namespace = b' xmlns="https://sink.example.com/doc/"'
    if protocol == "query":
        return (
            b"<SinkResponse" + namespace + b"><SinkResult>" + members + b"</SinkResult>"
            b"<ResponseMetadata><RequestId>q-1</RequestId></ResponseMetadata></SinkResponse>"
        )
    if protocol == "ec2":
        return (
            b"<SinkResponse"
            + namespace
            + b"><requestId>e-1</requestId>"
            + members
            + b"</SinkResponse>"
        )
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Output'
        + namespace
        + b">"
        + members
        + b"</Output>"
    )


XML_ERRORS = {
    "query": [
        (
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Failure</Code><Message>m</Message>"
            b"<Reason>r</Reason></Error><RequestId>x</RequestId></ErrorResponse>",
            True,
        ),
        (b"<ErrorResponse><Foo/></ErrorResponse>", False),
        (b"<Failure><Message>m</Message></Failure>", True),
    ],
    "ec2": [
        (
            b"<Response><Errors><Error><Code>Failure</Code><Message>m</Message><Reason>r</Reason>"
            b"</Error></Errors><RequestID>x</RequestID></Response>",
            True,
        ),
        (
            b"<Response><Errors/><Errors><Error><Message>second</Message></Error><Error><Message>"
            b"third</Message></Error></Errors></Response>",
            True,
        ),
        (b"<Response><Other/></Response>", False),
    ],
    "rest-xml": [
        (
            b"<Error><Code>Failure</Code><Message>m</Message><Reason>r</Reason>"
            b"<RequestId>x</RequestId></Error>",
            True,
        ),
        (
            b"<ErrorResponse><Error><Code>Failure</Code><Message>m</Message></Error></ErrorResponse>",
            True,
        ),
        (b"", True),
    ],
}


@pytest.mark.parametrize("protocol", ["rest-xml", "query", "ec2"])
def test_xml_forms(protocol: str) -> None:
    operation = kitchen_sink(protocol)
    output, error = operation.output_shape, operation.service_model.shape_for("Failure")
    headers = {k: v for k, v in REST_HEADERS.items() if k != "x-json"}
    if protocol != "rest-xml":
        headers = {"x-amzn-requestid": "r"}
    for name, members in XML_MEMBERS.items():
        case = response(xml_document(protocol, members), headers)
        answered = compare_case(protocol, output, case, name)
        assert answered == (name not in XML_DECLINED), f"{name}: answered in C++: {answered}"
    for body in MALFORMED_XML:
        assert not compare_case(protocol, output, response(body, headers), repr(body))
    # The declared encoding is overridden (botocore's parser reads UTF-8), a BOM is fine.
    body = (
        b"\xef\xbb\xbf<?xml version='1.0' encoding='latin-1'?><Output><Str>\xc3\xa9</Str></Output>"
    )
    if protocol != "query":
        assert compare_case(protocol, output, response(body, headers), "declared latin-1")
    for body, answered in XML_ERRORS[protocol]:
        case = response(body, headers, 400)
        assert compare_case(protocol, error, case, f"error {body!r}") == answered, body
    empty = compare_case(protocol, output, response(b"", headers), "empty body")
    assert empty == (protocol == "rest-xml")  # query and ec2 bodies cannot be empty


def test_query_response_metadata_forms() -> None:
    output = kitchen_sink("query").output_shape
    for metadata, answered in [
        (b"", True),
        (b"<ResponseMetadata><RequestId/><Other>o</Other></ResponseMetadata>", True),
        (b"<ResponseMetadata/>", True),
        (
            b"<ResponseMetadata><RequestId>a</RequestId><RequestId>b</RequestId></ResponseMetadata>",
            False,
        ),
        (b"<ResponseMetadata><RequestId>a<x/></RequestId></ResponseMetadata>", False),
    ]:
        body = b"<R><SinkResult><Str>s</Str></SinkResult>" + metadata + b"</R>"
        assert compare_case("query", output, response(body), repr(metadata)) == answered
    # no result wrapper at all: botocore raises KeyError
    assert not compare_case("query", output, response(b"<R><Str>s</Str></R>"), "no wrapper")
    for request_id in (b"<requestId>e</requestId>", b"<requestId/>", b""):
        body = b"<R>" + request_id + b"<Str>s</Str></R>"
        ec2 = kitchen_sink("ec2").output_shape
        assert compare_case("ec2", ec2, response(body), repr(request_id))


def _cbor(value: Any, seed: int = 0) -> bytes:
    return dump_cbor(value, random.Random(seed))


CBOR_EVERYTHING: dict[str, Any] = {
    "Str": "\u00e9t\u00e9 \U0001f600",
    "Renamed": "r",
    "Int": -(2**64),
    "Long": 2**64 - 1,
    "Flt": 0.5,
    "Dbl": float("inf"),
    "Bool": True,
    "Time": Tag(1, 1700000000.5),
    "Bin": b"\x00\xff",
    "Strs": ["a", None, UNDEFINED, "\u65e5"],
    "Items": [{"Name": "n", "Count": 2, "Child": {"Name": "c", "Child": {"Count": 0}}}, {}],
    "Flat": ["x"],
    "Tags": Obj([("a", "1"), ("b", None), ("a", "3"), (1, "int key")]),
    "Times": {"t": Tag(1, 0)},
    "FlatMap": {"k": 1},
    "Value": {"S": "s"},
    "Values": [{"N": "1"}, {"L": [{"S": "x"}]}],
    "Doc": {"anything": [1, 2.5]},
}
CBOR_BODIES = {
    "everything": b"".join(_cbor(CBOR_EVERYTHING, seed) for seed in range(1))
    + b"trailing bytes are ignored",
    "indefinite": _cbor(CBOR_EVERYTHING, 3),
    "absent": _cbor({}),
    "nulls": _cbor(Obj([("Str", "kept"), ("Str", None), ("Int", UNDEFINED), ("Item", None)])),
    "unknown": _cbor(Obj([("Nope", [1, {"x": Tag(1, 5)}]), (b"bytes key", 1), ("Str", "s")])),
    "wrong kinds": _cbor({"Str": 5, "Int": "7", "Strs": "abc", "Item": None, "Time": 12}),
    "union type": _cbor({"Value": {"__type": "T", "S": "a"}}),
    "union empty": _cbor({"Value": {}}),
    "union two": _cbor({"Value": {"S": "a", "N": "1"}}),
    "union unknown": _cbor({"Value": {"Other": 1}}),
    "unhashable key": _cbor(Obj([([1], "v")])),
    "bad tag": _cbor({"Time": Tag(2, 1)}),
    "bad timestamp": _cbor({"Time": Tag(1, "text")}),
    "bad utf-8": _cbor({"Str": Raw("\x62\xff\xfe")}),
    "truncated": _cbor(CBOR_EVERYTHING)[:40],
    "top list": _cbor([1]),
    "empty body": b"",
    "reserved info": b"\xa1\x63Int\x1c",
    "simple value": b"\xa1\x63Str\xf8\x20",
}
CBOR_DECLINED = {
    "union empty",
    "union two",
    "union unknown",
    "unhashable key",
    "bad tag",
    "bad timestamp",
    "bad utf-8",
    "truncated",
    "top list",
    "empty body",
    "reserved info",
    "simple value",
}


@pytest.mark.skipif(
    "smithy-rpc-v2-cbor" not in _parsers.SERVED,
    reason=f"botocore {botocore.__version__} has no smithy-rpc-v2-cbor parser",
)
def test_cbor_forms() -> None:
    protocol = "smithy-rpc-v2-cbor"
    operation = kitchen_sink(protocol)
    for name, body in CBOR_BODIES.items():
        answered = compare_case(protocol, operation.output_shape, response(body), name)
        assert answered == (name not in CBOR_DECLINED), f"{name}: answered in C++: {answered}"
    error = operation.service_model.shape_for("Failure")
    for body in (_cbor({"__type": "Failure", "Message": "m", "Reason": "r"}), b""):
        compare_case(protocol, error, response(body, status=400), f"error {body!r}")


# ---- what a session can set, and the machine's time zone ----------------------------------


def test_a_sessions_own_timestamp_and_blob_parsers_are_called() -> None:
    calls: list[Any] = []

    def timestamps(value: Any) -> Any:
        calls.append(value)
        return ("when", value)

    def blobs(value: Any) -> Any:
        calls.append(value)
        return ("blob", value)

    for protocol in sorted(_parsers.SERVED):
        operation = kitchen_sink(protocol)
        if protocol in ("json", "rest-json"):
            body = JSON_BODIES["everything"]
        elif protocol == "smithy-rpc-v2-cbor":
            body = CBOR_BODIES["everything"]
        else:
            body = xml_document(protocol, XML_MEMBERS["everything"])
        headers = {k: v for k, v in REST_HEADERS.items() if k != "x-json"}
        for defaults in ({"timestamp_parser": timestamps}, {"blob_parser": blobs}):
            before = len(calls)
            case = response(body, headers)
            before_parsed = counted()[0]
            compare(protocol, case, operation.output_shape, f"{protocol} {defaults}", **defaults)
            assert counted()[0] > before_parsed, protocol
            if protocol != "smithy-rpc-v2-cbor" or "timestamp_parser" in defaults:
                # (botocore's CBOR parser keeps byte strings as they are)
                assert len(calls) > before, f"{protocol}: {defaults} never called"


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Etc/UTC",
        "Africa/Abidjan",
        "Europe/Paris",
        "Europe/London",
        "America/New_York",
        "Asia/Kolkata",
    ],
)
def test_timestamps_take_the_time_zone_botocore_gives_on_this_machine(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        for protocol in sorted(_parsers.SERVED):
            output = kitchen_sink(protocol).output_shape
            for text in ("2024-07-01T12:00:00Z", "2024-01-01T12:00:00.5+00:00", "1700000000"):
                if protocol in ("json", "rest-json"):
                    bodies = [json.dumps({"Time": text}).encode(), b'{"Time": 1720000000}']
                elif protocol == "smithy-rpc-v2-cbor":
                    bodies = [dump_cbor({"Time": Tag(1, 1720000000.25)}, random.Random(0))]
                else:
                    bodies = [xml_document(protocol, f"<Time>{text}</Time>".encode())]
                for body in bodies:
                    assert compare_case(protocol, output, response(body), f"{zone} {body!r}")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


# ---- plugged into clients --------------------------------------------------------------


def test_aioclient_uses_them_by_default_and_can_turn_them_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def factory(aio: aboto3.AIOClient[Any]) -> Any:
        return aio.client._endpoint._response_parser_factory

    aio = aboto3.AIOClient(boto3.client("ssm", region_name="us-east-1"))
    assert aio.fast_parsing
    assert type(factory(aio)) is _parsers.FastResponseParserFactory
    assert type(factory(aio).create_parser("json")) is _parsers.FAST_CLASSES["json"]

    off = aboto3.AIOClient(boto3.client("ssm", region_name="us-east-1"), fast_parsing=False)
    assert not off.fast_parsing
    assert type(factory(off)) is ResponseParserFactory

    # Taken back from a client that had them.
    assert not _parsers.use_fast_parsing(aio.client, False)
    assert type(factory(aio)) is ResponseParserFactory

    monkeypatch.setenv("ABOTO3_FAST_PARSING", "0")
    env_off = aboto3.AIOClient(boto3.client("ssm", region_name="us-east-1"))
    assert not env_off.fast_parsing
    assert type(factory(env_off)) is ResponseParserFactory


def test_the_sessions_parser_defaults_still_apply() -> None:
    # A session of its own: the default session's factory is shared by every
    # later boto3.client() of the test run.
    client = boto3.session.Session().client("ssm", region_name="us-east-1")
    aio = aboto3.AIOClient(client)
    shared = client._endpoint._response_parser_factory.wrapped

    def timestamps(value: Any) -> Any:
        return ("when", value)

    shared.set_parser_defaults(timestamp_parser=timestamps)
    parser = aio.client._endpoint._response_parser_factory.create_parser("json")
    assert type(parser) is _parsers.FAST_CLASSES["json"]
    assert parser._timestamp_parser is timestamps


def test_a_disagreeing_parser_is_not_used_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = _parsers.parse_response

    def off_by_one(*args: Any) -> Any:
        parsed = real(*args)
        if isinstance(parsed, dict) and isinstance(parsed.get("Count"), int):
            parsed["Count"] += 1
        return parsed

    monkeypatch.setattr(_parsers, "parse_response", off_by_one)
    monkeypatch.setattr(_parsers.safety_net, "verdict", None)
    monkeypatch.setattr(_parsers.safety_net, "warned", False)
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        first = aboto3.AIOClient(boto3.client("ssm", region_name="us-east-1"))
        second = aboto3.AIOClient(boto3.client("s3", region_name="us-east-1"))
    assert not first.fast_parsing and not second.fast_parsing
    assert type(first.client._endpoint._response_parser_factory) is ResponseParserFactory
    warnings = [r for r in caplog.records if "parses responses with botocore" in r.getMessage()]
    assert len(warnings) == 1
    assert "differs from botocore's" in warnings[0].getMessage()


def test_the_canned_check_passes_on_the_installed_botocore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_parsers.safety_net, "verdict", None)
    before = counted()
    assert _parsers.safety_net.check() == ""
    parsed, declined = (now - then for now, then in zip(counted(), before))
    assert parsed == 2 * len(_parsers.SERVED) and declined == 0


def test_without_the_cpp_parsers_botocore_parses_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_parsers, "parse_response", None)
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        aio = aboto3.AIOClient(boto3.client("ssm", region_name="us-east-1"))
    assert not aio.fast_parsing
    assert not caplog.records


def test_a_factory_of_someone_elses_is_left_alone() -> None:
    class Theirs(ResponseParserFactory):  # type: ignore[misc]
        pass

    client = boto3.client("ssm", region_name="us-east-1")
    client._endpoint._response_parser_factory = theirs = Theirs()
    assert not aboto3.AIOClient(client).fast_parsing
    assert client._endpoint._response_parser_factory is theirs


def test_a_replaced_protocol_parser_class_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    class Custom(botocore.parsers.JSONParser):  # type: ignore[misc]
        pass

    monkeypatch.setitem(botocore.parsers.PROTOCOL_PARSERS, "json", Custom)
    factory = _parsers.FastResponseParserFactory(ResponseParserFactory())
    assert type(factory.create_parser("json")) is Custom


async def test_every_engine_and_the_wrapped_client_parse_in_cpp(
    make_client: Any, make_aio: Any
) -> None:
    ssm = make_client("ssm")
    aio = make_aio(ssm)
    assert aio.fast_parsing
    await aio.put_parameter(Name="/parsed/here", Value="v", Type="String")
    before = counted()
    awaited = await aio.get_parameter(Name="/parsed/here")
    called = ssm.get_parameter(Name="/parsed/here")  # the boto3 client itself
    assert counted()[0] - before[0] == 2
    assert awaited["Parameter"]["Value"] == called["Parameter"]["Value"] == "v"
    await aio.close()


# ---- responses recorded from moto --------------------------------------------------------


class RecordingFactory(ResponseParserFactory):  # type: ignore[misc]
    """botocore's factory, whose parsers keep what they were asked to parse."""

    def __init__(self, recorded: list[tuple[str, dict[str, Any], Any]]) -> None:
        super().__init__()
        self.recorded = recorded

    def create_parser(self, protocol_name: str) -> Any:
        parser = super().create_parser(protocol_name)
        parse = parser.parse

        def recording(response: dict[str, Any], shape: Any) -> Any:
            if isinstance(response.get("body"), bytes):
                self.recorded.append((protocol_name, dict(response), shape))
            return parse(response, shape)

        parser.parse = recording
        return parser


def _calls(client: Any, service: str) -> None:
    """Calls of each kind a service has, its errors included, against moto."""
    c = client
    steps: dict[str, list[Callable[[], Any]]] = {
        "s3": [
            lambda: c.create_bucket(Bucket="bucket"),
            *[
                lambda i=i: c.put_object(
                    Bucket="bucket", Key=f"dir/k\u00e9y {i}", Body=b"x" * i, Metadata={"m": "v"}
                )
                for i in range(5)
            ],
            lambda: c.list_objects_v2(Bucket="bucket"),
            lambda: c.list_objects_v2(Bucket="bucket", Delimiter="/", EncodingType="url"),
            lambda: c.list_objects(Bucket="bucket", MaxKeys=2),
            lambda: c.list_object_versions(Bucket="bucket"),
            lambda: c.head_object(Bucket="bucket", Key="dir/k\u00e9y 1"),
            lambda: c.put_bucket_tagging(
                Bucket="bucket", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
            ),
            lambda: c.get_bucket_tagging(Bucket="bucket"),
            lambda: c.get_bucket_acl(Bucket="bucket"),
            lambda: c.get_bucket_location(Bucket="bucket"),
            lambda: c.list_buckets(),
            lambda: c.get_object(Bucket="bucket", Key="missing"),
            lambda: c.head_object(Bucket="bucket", Key="missing"),
            lambda: c.delete_objects(
                Bucket="bucket", Delete={"Objects": [{"Key": "dir/k\u00e9y 0"}, {"Key": "nope"}]}
            ),
        ],
        "dynamodb": [
            lambda: c.create_table(
                TableName="tab",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            ),
            *[
                lambda i=i: c.put_item(
                    TableName="tab",
                    Item={
                        "pk": {"S": f"k{i}"},
                        "n": {"N": "1.50"},
                        "b": {"B": b"\x00\xff"},
                        "l": {"L": [{"S": "\u00e9"}, {"NULL": True}, {"BOOL": False}]},
                        "m": {"M": {"ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}}},
                    },
                )
                for i in range(5)
            ],
            lambda: c.get_item(TableName="tab", Key={"pk": {"S": "k1"}}),
            lambda: c.query(
                TableName="tab",
                KeyConditionExpression="pk = :v",
                ExpressionAttributeValues={":v": {"S": "k2"}},
            ),
            lambda: c.scan(TableName="tab", ReturnConsumedCapacity="TOTAL"),
            lambda: c.describe_table(TableName="tab"),
            lambda: c.batch_get_item(RequestItems={"tab": {"Keys": [{"pk": {"S": "k3"}}]}}),
            lambda: c.get_item(TableName="missing", Key={"pk": {"S": "x"}}),
        ],
        "sqs": [
            lambda: c.create_queue(QueueName="q", Attributes={"DelaySeconds": "0"}),
            lambda: c.send_message(
                QueueUrl=c.get_queue_url(QueueName="q")["QueueUrl"],
                MessageBody="b\u00e9",
                MessageAttributes={"a": {"DataType": "String", "StringValue": "v"}},
            ),
            lambda: c.receive_message(
                QueueUrl=c.get_queue_url(QueueName="q")["QueueUrl"],
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ),
            lambda: c.get_queue_attributes(
                QueueUrl=c.get_queue_url(QueueName="q")["QueueUrl"], AttributeNames=["All"]
            ),
            lambda: c.list_queues(),
            lambda: c.get_queue_url(QueueName="missing"),
        ],
        "sns": [
            lambda: c.create_topic(Name="t"),
            lambda: c.list_topics(),
            lambda: c.get_topic_attributes(TopicArn=c.list_topics()["Topics"][0]["TopicArn"]),
            lambda: c.publish(TopicArn=c.list_topics()["Topics"][0]["TopicArn"], Message="m"),
            lambda: c.get_topic_attributes(TopicArn="arn:aws:sns:us-east-1:123456789012:none"),
        ],
        "iam": [
            lambda: c.create_user(UserName="u", Tags=[{"Key": "k", "Value": "v"}]),
            lambda: c.list_users(),
            lambda: c.get_user(UserName="u"),
            lambda: c.create_role(RoleName="r", AssumeRolePolicyDocument="{}"),
            lambda: c.list_roles(),
            lambda: c.get_user(UserName="missing"),
        ],
        "sts": [lambda: c.get_caller_identity()],
        "ec2": [
            lambda: c.describe_regions(),
            lambda: c.run_instances(ImageId="ami-12c6146b", MinCount=2, MaxCount=2),
            lambda: c.describe_instances(),
            lambda: c.describe_vpcs(),
            lambda: c.describe_security_groups(),
            lambda: c.describe_instances(InstanceIds=["i-nope"]),
        ],
        "ssm": [
            lambda: c.put_parameter(Name="/a/b", Value="v", Type="String"),
            lambda: c.get_parameter(Name="/a/b"),
            lambda: c.get_parameters_by_path(Path="/a"),
            lambda: c.describe_parameters(),
            lambda: c.get_parameter(Name="/missing"),
        ],
        "kms": [
            lambda: c.create_key(Description="d"),
            lambda: c.list_keys(),
            lambda: c.encrypt(KeyId=c.list_keys()["Keys"][0]["KeyId"], Plaintext=b"\x01\x02"),
            lambda: c.describe_key(KeyId="missing"),
        ],
        "logs": [
            lambda: c.create_log_group(logGroupName="g"),
            lambda: c.create_log_stream(logGroupName="g", logStreamName="s"),
            lambda: c.put_log_events(
                logGroupName="g",
                logStreamName="s",
                logEvents=[{"timestamp": 1700000000000, "message": "m\u00e9"}],
            ),
            lambda: c.get_log_events(logGroupName="g", logStreamName="s"),
            lambda: c.describe_log_groups(),
        ],
        "route53": [
            lambda: c.create_hosted_zone(Name="example.com", CallerReference="r"),
            lambda: c.list_hosted_zones(),
            lambda: c.get_hosted_zone(Id="missing"),
        ],
        "lambda": [
            lambda: c.list_functions(),
            lambda: c.get_function(FunctionName="missing"),
        ],
        "apigateway": [
            lambda: c.create_rest_api(name="api"),
            lambda: c.get_rest_apis(),
            lambda: c.get_rest_api(restApiId="missing"),
        ],
        "cloudformation": [
            lambda: c.list_stacks(),
            lambda: c.describe_stacks(StackName="missing"),
        ],
    }
    for step in steps[service]:
        # (ParamValidationError: a parameter an older model does not have)
        with contextlib.suppress(
            botocore.exceptions.ClientError, botocore.exceptions.ParamValidationError
        ):
            step()


def test_responses_recorded_from_moto_parse_as_botocore_parses(make_client: Any) -> None:
    recorded: list[tuple[str, dict[str, Any], Any]] = []
    for service in (
        "s3", "dynamodb", "sqs", "sns", "iam", "sts", "ec2", "ssm", "kms", "logs",
        "route53", "lambda", "apigateway", "cloudformation",
    ):  # fmt: skip
        client = make_client(service)
        client._endpoint._response_parser_factory = RecordingFactory(recorded)
        _calls(client, service)
    protocols = {protocol for protocol, _, _ in recorded}
    assert {"json", "rest-json", "rest-xml", "ec2"} <= protocols, protocols
    before = counted()
    served = 0
    for protocol, response, shape in recorded:
        if protocol in _parsers.SERVED:
            compare(protocol, response, shape, f"{protocol} {shape and shape.name}")
            # botocore finds an error's code and message itself; the body of a
            # success and a modeled error's fields are the C++ parsers' to read.
            if response["status_code"] < 300 or shape.metadata.get("exception"):
                served += 1
    parsed = counted()[0] - before[0]
    assert served > 60 and parsed == served, (parsed, served)


# ---- the event loop stays free --------------------------------------------------------------


def _fill_table(ddb: Any, items: int) -> None:
    ddb.create_table(
        TableName="big",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def item(i: int) -> dict[str, Any]:
        return {
            "pk": {"S": f"user#{i:08d}"},
            "sk": {"S": f"order#{i * 7919 % 1000003:09d}"},
            "amount": {"N": str(i * 13 % 100000 / 100)},
            "status": {"S": ("NEW", "PAID", "SHIPPED")[i % 3]},
            "note": {"S": "x" * (150 + i % 50)},
            "tags": {"SS": ["a", "bb", "ccc"]},
            "active": {"BOOL": i % 2 == 0},
            "meta": {"M": {"created": {"S": "2024-01-01T00:00:00Z"}, "v": {"N": "3"}}},
        }

    batches = [
        {"big": [{"PutRequest": {"Item": item(i)}} for i in range(start, start + 25)]}
        for start in range(0, items, 25)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda batch: ddb.batch_write_item(RequestItems=batch), batches))


@pytest.mark.native
async def test_a_big_scan_page_leaves_the_loop_free(
    make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ddb = make_client("dynamodb")
    _fill_table(ddb, 2400)
    pauses = []
    yield_to_loop = _parsers._yield_to_loop

    def counting() -> None:
        pauses.append(1)
        yield_to_loop()

    monkeypatch.setattr(_parsers, "_yield_to_loop", counting)
    async with aboto3.AIOClient(ddb, engine="native") as aio:
        await aio.describe_table(TableName="big")  # the client's first call does set-up
        before = counted()
        async with LoopLag(limit=0.010):
            page = await aio.scan(TableName="big")
    assert page["Count"] == 2400
    assert counted()[0] - before[0] == 1  # parsed in C++
    assert pauses  # in slices, the loop running in between


@pytest.mark.native
async def test_a_thousand_key_listing_leaves_the_loop_free(make_client: Any) -> None:
    s3 = make_client("s3", max_pool_connections=8)
    s3.create_bucket(Bucket="listing")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket="listing", Key=f"data/2024/{i:06d}.json", Body=b""),
                range(1000),
            )
        )
    async with aboto3.AIOClient(s3, engine="native") as aio:
        await aio.list_objects_v2(Bucket="listing", MaxKeys=1)
        before = counted()
        async with LoopLag(limit=0.010):
            page = await aio.list_objects_v2(Bucket="listing")
    assert page["KeyCount"] == 1000
    assert counted()[0] - before[0] == 1


# ---- S3's check for errors sent with status 200 ------------------------------------------

ROOT_BODIES = [
    b"<ListBucketResult><Contents/></ListBucketResult>",
    b'<?xml version="1.0"?>\n<Error><Code>InternalError</Code></Error>',
    b'<Error xmlns="https://s3.example.com/"><Code>x</Code></Error>',
    b"<s3:Error xmlns:s3='https://s3.example.com/'/>",
    b"<Errors/>",
    b"<Error>",
    b"<ListBucketResult><Contents>",
    b"not xml at all",
    b"<a/><b/>",
    b"<!DOCTYPE Error><Error/>",
    b"\xef\xbb\xbf<Error/>",
    b"<Error>\xff</Error>",
    b"  <Error/>  ",
    b"<!-- c --><?pi x?><Error/>",
]


needs_200_check = pytest.mark.skipif(
    not _parsers._replaceable_200_handler(),
    reason=f"botocore {botocore.__version__} checks only some S3 operations for 200 errors",
)


@needs_200_check
def test_the_s3_200_error_check_agrees_with_botocores() -> None:
    looks_like_error = botocore.handlers._looks_like_special_case_error
    rng = random.Random(200)
    bodies = list(ROOT_BODIES)
    listing = xml_document("rest-xml", XML_MEMBERS["everything"])
    bodies += [listing, *mutations(listing, rng, 200)]
    for body in bodies:
        for status in (200, 201):
            response = {"status_code": status, "body": body}
            theirs = dict(response)
            botocore.handlers._handle_200_error(_LIST_OBJECTS, theirs)
            ours = dict(response)
            _parsers._handle_200_error(_LIST_OBJECTS, ours)
            assert theirs == ours, body
            assert (theirs["status_code"] == 500) == (
                status == 200 and looks_like_error(status, body)
            ), body


_LIST_OBJECTS = _session.get_service_model("s3").operation_model("ListObjectsV2")


@needs_200_check
def test_s3_clients_get_the_cheaper_check_and_give_it_back() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    events = s3.meta.events
    original = list(events._emitter._handlers.prefix_search("before-parse.s3.ListObjectsV2"))
    assert botocore.handlers._handle_200_error in original
    aio = aboto3.AIOClient(s3)
    assert aio.fast_parsing
    now = list(events._emitter._handlers.prefix_search("before-parse.s3.ListObjectsV2"))
    assert _parsers._handle_200_error in now
    assert botocore.handlers._handle_200_error not in now
    _parsers.use_fast_parsing(s3, False)
    back = list(events._emitter._handlers.prefix_search("before-parse.s3.ListObjectsV2"))
    assert back == original


def test_parser_defaults_that_cannot_be_hashed_still_apply() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, value: Any) -> Any:
            return ("when", value)

    wrapped = ResponseParserFactory()
    wrapped.set_parser_defaults(timestamp_parser=Unhashable())
    parser = _parsers.FastResponseParserFactory(wrapped).create_parser("json")
    assert type(parser) is _parsers.FAST_CLASSES["json"]
    assert isinstance(parser._timestamp_parser, Unhashable)
