"""The C++ JSON body writer: request dicts byte-identical to botocore's serializers.

Every ``json`` and ``rest-json`` operation of every service model in the
installed botocore gets parameters made from its input shape, and botocore's
serializer and aboto3's serialize them; the whole request dicts (body bytes,
headers, URL path, query string, host prefix) must be equal, types and key
order included, or both must raise the same error. Parameters without the
values the writer leaves to botocore must have had their body written in C++.
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import json
import logging
import math
import random
import string
import sys
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.session
import pytest
from boto3.dynamodb.conditions import Key
from boto3.dynamodb.types import Binary
from botocore.config import Config
from botocore.model import ServiceModel
from botocore.serialize import create_serializer

import aboto3
from aboto3 import _serializers

pytestmark = pytest.mark.skipif(
    _serializers.JsonBodyPlan is None, reason="this build of aboto3._core has no JSON body writer"
)

PROTOCOLS = ("json", "rest-json")


# ---- comparing ---------------------------------------------------------------------


def outcome(serializer: Any, params: dict[str, Any], operation_model: Any) -> tuple[str, Any]:
    """("ok", request dict) or ("raised", (class, message)) for one serialization."""
    try:
        return "ok", serializer.serialize_to_request(params, operation_model)
    except Exception as error:
        return "raised", (type(error), str(error))


def assert_same(theirs: Any, ours: Any, path: str = "request") -> None:
    """Equal values of the same types, recursively; dict keys in the same order."""
    assert type(theirs) is type(ours), f"{path}: {theirs!r} != {ours!r}"
    if isinstance(theirs, dict):
        assert list(theirs) == list(ours), f"{path}: keys {list(theirs)} != {list(ours)}"
        for key in theirs:
            assert_same(theirs[key], ours[key], f"{path}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert len(theirs) == len(ours), f"{path}: {theirs!r} != {ours!r}"
        for i, (a, b) in enumerate(zip(theirs, ours)):
            assert_same(a, b, f"{path}[{i}]")
    elif isinstance(theirs, float) and math.isnan(theirs):  # passed through as given
        assert math.isnan(ours), f"{path}: {theirs!r} != {ours!r}"
    else:
        assert theirs == ours, f"{path}: {theirs!r} != {ours!r}"


def serializers(protocol: str, **kwargs: Any) -> tuple[Any, Any]:
    """botocore's serializer for ``protocol`` (no validation) and aboto3's made from it."""
    theirs = create_serializer(protocol, False, **kwargs)
    return theirs, _serializers._FAST_CLASSES[type(theirs)].replacing(theirs)


# ---- parameters made from shapes ------------------------------------------------------

WORDS = ["a", "Name", "x-1", "caf\xe9", "\u65e5\u672c\u8a9e", "\U0001f600 emoji", ""]
ESCAPES = ['quote " and \\ backslash', "line\nfeed\ttab\r\b\f", "\x00\x01\x1f\x7f\x80\xff", "/</>"]
FLOATS = [0.1, -0.0, 1.0, 1e300, 5e-324, 123456789.125, 2.5e-7, -1e16, 3]
INTS = [0, -1, 7, 2**31 - 1, -(2**63), 2**64 + 5, 10**30, True]
ZONES = [
    datetime.timezone.utc,
    datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
    datetime.timezone(datetime.timedelta(hours=-8)),
]


class Maker:
    """Parameters for a shape, from a seeded generator.

    ``odd`` > 0 mixes in, at that rate, values the C++ writer leaves to
    botocore (None, NaN, infinities, Decimal, a dict subclass, nesting past its
    depth limit...); ``self.odd_used`` says whether any went in.
    """

    def __init__(self, rng: random.Random, odd: float = 0.0) -> None:
        self.rng = rng
        self.odd = odd
        self.odd_used = False

    def params(self, shape: Any) -> dict[str, Any]:
        return self.structure(shape, 0, top=True)

    def _odd(self) -> bool:
        if self.odd and self.rng.random() < self.odd:
            self.odd_used = True
            return True
        return False

    def value(self, shape: Any, depth: int) -> Any:
        kind = shape.type_name
        if kind == "structure":
            if shape.is_document_type:
                return self.document(depth)
            return self.structure(shape, depth)
        if kind == "list":
            count = 0 if depth > 4 else self.rng.choice([0, 1, 2, 3])
            items = [self.value(shape.member, depth + 1) for _ in range(count)]
            return tuple(items) if self.rng.random() < 0.1 else items
        if kind == "map":
            count = 0 if depth > 4 else self.rng.choice([0, 1, 2, 3])
            return {self.text(): self.value(shape.value, depth + 1) for _ in range(count)}
        return self.scalar(shape)

    def structure(self, shape: Any, depth: int, top: bool = False) -> dict[str, Any]:
        members = list(shape.members.items())
        out: dict[str, Any] = {}
        if depth > 5:  # recursive shapes end here
            return out
        everything = top or self.rng.random() < 0.5
        for name, member in members:
            location = member.serialization.get("location")
            needed = location == "uri" or member.serialization.get("hostLabel")
            if not (needed or everything or self.rng.random() < 0.3):
                continue
            if self._odd():
                out[name] = self.rng.choice([None, float("nan"), decimal.Decimal("1.5")])
                continue
            out[name] = self.value(member, depth + 1)
        if self.rng.random() < 0.3:  # the order of the caller's dict is the body's
            items = list(out.items())
            self.rng.shuffle(items)
            out = dict(items)
        if not top and self._odd():
            return OrderedDict(out)  # type: ignore[return-value]
        return out

    def text(self) -> str:
        pick = self.rng.random()
        if pick < 0.5:
            return self.rng.choice(WORDS)
        if pick < 0.8:
            return self.rng.choice(ESCAPES)
        if pick < 0.9:
            return "".join(chr(self.rng.randrange(0x20, 0x3000)) for _ in range(8))
        if pick < 0.95:
            return "lone \ud800 surrogate"
        return "".join(self.rng.choice(string.ascii_letters) for _ in range(300))

    def scalar(self, shape: Any) -> Any:
        kind = shape.type_name
        rng = self.rng
        if shape.serialization.get("hostLabel"):
            return rng.choice(["host-1", "a.b"])
        if kind == "string":
            if shape.serialization.get("jsonvalue") and shape.serialization.get("location"):
                return self.document(0)  # a JSON value in a header
            return self.text()
        if kind in ("integer", "long"):
            return rng.choice(INTS) if rng.random() < 0.5 else rng.randrange(-1000, 10**6)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind in ("float", "double"):
            if self._odd():
                return rng.choice(
                    [float("inf"), float("-inf"), float("nan"), decimal.Decimal("2.5")]
                )
            return rng.choice(FLOATS) if rng.random() < 0.6 else rng.uniform(-1e6, 1e6)
        if kind == "blob":
            pick = rng.random()
            if shape.serialization.get("streaming") or pick < 0.6:
                return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
            if pick < 0.8:
                return self.text().replace("\ud800", "")
            return bytearray(b"\x00bytearray\xff")
        if kind == "timestamp":
            return self.timestamp()
        return self.text()

    def timestamp(self) -> Any:
        rng = self.rng
        seconds = rng.randrange(0, 4_000_000_000)
        micro = rng.choice([0, 0, 1, 3691, 500000, 999999])
        naive = datetime.datetime(1970, 1, 1) + datetime.timedelta(
            seconds=seconds, microseconds=micro
        )
        pick = rng.random()
        if pick < 0.35:
            return naive
        if pick < 0.7:
            return naive.replace(tzinfo=rng.choice(ZONES))
        if pick < 0.8:
            return seconds
        if pick < 0.85:
            return seconds + 0.25
        if pick < 0.95:
            return naive.strftime("%Y-%m-%dT%H:%M:%S") + rng.choice(["Z", "+02:00", ".123Z"])
        return naive.date().isoformat()

    def document(self, depth: int) -> Any:
        rng = self.rng
        pick = rng.random()
        if depth > 3 or pick < 0.4:
            return rng.choice([None, True, False, 0, -5, 2**70, 1.5, 1e-9, self.text()])
        if pick < 0.7:
            return {self.text(): self.document(depth + 1) for _ in range(rng.randrange(0, 4))}
        return [self.document(depth + 1) for _ in range(rng.randrange(0, 4))]


# ---- every operation of every model ---------------------------------------------------


def json_operations() -> Iterator[tuple[str, Any]]:
    """(protocol, operation model) for each json and rest-json operation with an input."""
    session = botocore.session.get_session()
    for service in session.get_available_services():
        model = session.get_service_model(service)
        try:
            protocol = getattr(model, "resolved_protocol", model.protocol)
        except Exception:  # a service with no protocol this botocore supports
            continue
        if protocol not in PROTOCOLS:
            continue
        for name in model.operation_names:
            operation = model.operation_model(name)
            if operation.input_shape is not None:
                yield protocol, operation


OPERATIONS = list(json_operations())


def test_every_operation_serializes_as_botocore_does() -> None:
    """Clean parameters: equal requests, every body written in C++."""
    pairs = {protocol: serializers(protocol) for protocol in PROTOCOLS}
    assert len(OPERATIONS) > 1000
    mismatches: list[str] = []
    bodies = 0
    for number, (protocol, operation) in enumerate(OPERATIONS):
        theirs, ours = pairs[protocol]
        for seed in (number, number + 1_000_003):
            params = Maker(random.Random(seed)).params(operation.input_shape)
            expected = outcome(theirs, params, operation)
            written, declined = ours.written, ours.declined
            got = outcome(ours, params, operation)
            try:
                assert_same(expected, got)
            except AssertionError as error:
                mismatches.append(
                    f"{operation.service_model.service_name}.{operation.name}: {error}"
                )
            # Parameters the writer can vouch for are never left to botocore.
            if ours.declined != declined:
                mismatches.append(
                    f"{operation.service_model.service_name}.{operation.name}: declined {params!r}"
                )
            bodies += ours.written - written
    assert not mismatches, "\n".join(mismatches[:20])
    assert bodies > len(OPERATIONS)  # most operations have a body, and it was ours


def test_values_left_to_botocore_give_botocores_request() -> None:
    """None, NaN, Decimal, a dict subclass...: botocore writes those bodies (and
    raises its own errors for them), with the same result as without aboto3."""
    pairs = {protocol: serializers(protocol) for protocol in PROTOCOLS}
    odd_calls = 0
    for number, (protocol, operation) in enumerate(OPERATIONS[::3]):
        theirs, ours = pairs[protocol]
        maker = Maker(random.Random(number), odd=0.15)
        params = maker.params(operation.input_shape)
        assert_same(outcome(theirs, params, operation), outcome(ours, params, operation))
        odd_calls += maker.odd_used
    assert odd_calls > 100
    assert pairs["json"][1].declined > 50


@pytest.mark.skipif(
    "timestamp_precision" not in inspect.signature(create_serializer).parameters,
    reason=f"botocore {botocore.__version__} has no timestamp_precision",
)
@pytest.mark.parametrize("precision", ["millisecond", "legacy"])
def test_timestamps_follow_the_serializers_precision(precision: str) -> None:
    """Each timestamp is converted by botocore's own method: a client whose
    serializer truncates to milliseconds gets milliseconds from aboto3 too."""
    checked = 0
    for protocol in PROTOCOLS:
        theirs, ours = serializers(protocol, timestamp_precision=precision)
        for number, (op_protocol, operation) in enumerate(OPERATIONS):
            if op_protocol != protocol or not has_body_timestamp(operation.input_shape):
                continue
            params = Maker(random.Random(number)).params(operation.input_shape)
            assert_same(outcome(theirs, params, operation), outcome(ours, params, operation))
            checked += 1
        assert ours.written > 0
    assert checked > 50


def has_body_timestamp(shape: Any) -> bool:
    """Whether a body member of ``shape`` is, or holds, a timestamp."""
    seen: set[str] = set()

    def reaches(shape: Any) -> bool:
        if shape.type_name == "timestamp":
            return True
        if shape.name in seen:
            return False
        seen.add(shape.name)
        if shape.type_name == "structure":
            return any(reaches(member) for member in shape.members.values())
        if shape.type_name == "list":
            return reaches(shape.member)
        if shape.type_name == "map":
            return reaches(shape.value)
        return False

    return any(
        reaches(member)
        for member in shape.members.values()
        if "location" not in member.serialization
    )


# ---- the writer's own edges ---------------------------------------------------------------

EDGE_MODEL: dict[str, Any] = {
    "version": "2.0",
    "metadata": {
        "apiVersion": "2024-02-29",
        "endpointPrefix": "edge",
        "jsonVersion": "1.1",
        "protocol": "json",
        "serviceId": "Edge",
        "signatureVersion": "v4",
        "targetPrefix": "Edge",
    },
    "operations": {
        "Put": {
            "name": "Put",
            "http": {"method": "POST", "requestUri": "/"},
            "input": {"shape": "In"},
        }
    },
    "shapes": {
        "In": {
            "type": "structure",
            "members": {
                "S": {"shape": "Str"},
                "I": {"shape": "Int"},
                "F": {"shape": "Dbl"},
                "B": {"shape": "Blb"},
                "Twin": {"shape": "Str", "locationName": "Same"},
                "Nested": {"shape": "Nest"},
                "L": {"shape": "Lst"},
                "Doc": {"shape": "Doc"},
            },
        },
        "Nest": {
            "type": "structure",
            "members": {
                "A": {"shape": "Str", "locationName": "Same"},
                "B": {"shape": "Str", "locationName": "Same"},
            },
        },
        "Lst": {"type": "list", "member": {"shape": "Lst"}},
        "Str": {"type": "string"},
        "Int": {"type": "integer"},
        "Dbl": {"type": "double"},
        "Blb": {"type": "blob"},
        "Doc": {"type": "structure", "members": {}, "document": True},
    },
}


def edge(params: dict[str, Any]) -> tuple[bytes, bool]:
    """botocore's body for ``params`` (it must equal ours) and whether ours came from C++."""
    operation = ServiceModel(EDGE_MODEL).operation_model("Put")
    theirs, ours = serializers("json")
    expected = outcome(theirs, params, operation)
    assert_same(expected, outcome(ours, params, operation))
    body = expected[1]["body"] if expected[0] == "ok" else b""
    return body, ours.written == 1


class StrEnum(str):
    pass


@pytest.mark.parametrize(
    ("params", "in_cpp"),
    [
        ({"S": "".join(chr(c) for c in range(0x00, 0x180))}, True),
        ({"S": "\U0010ffff\U00010000\ud800\udfff\udbff"}, True),
        ({"S": StrEnum("enum value")}, True),  # str subclasses: json writes their text
        ({"I": 2**200}, True),
        ({"I": -(2**63) - 1}, True),
        ({"F": 1e22}, True),
        ({"F": 1.0e-5}, True),
        ({"F": 7}, True),
        ({"F": float("nan")}, False),
        ({"F": float("inf")}, False),
        ({"F": decimal.Decimal("0.1")}, False),
        ({"B": b""}, True),
        ({"B": b"a"}, True),
        ({"B": b"ab"}, True),
        ({"B": memoryview(b"abc")}, False),
        ({"B": "lone \ud800"}, False),  # botocore's UTF-8 encode raises
        ({"S": None}, False),
        ({"S": b"bytes"}, False),  # json.dumps raises TypeError
        ({"Unknown": "x"}, False),  # botocore raises KeyError
        ({"Nested": {"A": "a", "B": "b"}}, False),  # two members, one JSON key
        ({"Twin": "t", "S": "s"}, True),
        ({"Doc": {"k": [1, 2.5, None, True, {"n": "\u2028"}], "e": {}, "t": (1, 2)}}, True),
        ({"Doc": {1: "non-str key"}}, False),
        ({"Doc": OrderedDict(a=1)}, False),
        ({"Doc": float("nan")}, False),
        ({"L": []}, True),
        ({"L": [[[[]]], []]}, True),
    ],
)
def test_edges_match_botocore(params: dict[str, Any], in_cpp: bool) -> None:
    assert edge(params)[1] is in_cpp


def test_nesting_past_the_depth_limit_is_left_to_botocore() -> None:
    deep: list[Any] = []
    for _ in range(150):
        deep = [deep]
    body, in_cpp = edge({"L": deep})
    assert not in_cpp and body.startswith(b'{"L": [[[')
    shallow: list[Any] = []
    for _ in range(90):
        shallow = [shallow]
    assert edge({"L": shallow})[1]


def test_big_integers_past_pythons_digit_limit_raise_botocores_error() -> None:
    if not hasattr(sys, "set_int_max_str_digits"):
        pytest.skip("this Python has no integer string conversion limit")
    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        operation = ServiceModel(EDGE_MODEL).operation_model("Put")
        theirs, ours = serializers("json")
        expected = outcome(theirs, {"I": 10**700}, operation)
        assert expected[0] == "raised"
        assert_same(expected, outcome(ours, {"I": 10**700}, operation))
    finally:
        sys.set_int_max_str_digits(old)


def test_a_body_equals_json_dumps_of_botocores_dicts() -> None:
    """The JSON text itself: separators, ensure_ascii escapes and float repr."""
    text = '\x00\x1f \x7f\xe9\u20ac\U0001f600\ud800"\\/\b\f\n\r\t'
    body, in_cpp = edge({"S": text, "F": 0.1 + 0.2, "I": -(2**65)})
    assert in_cpp
    assert body == json.dumps({"S": text, "F": 0.1 + 0.2, "I": -(2**65)}).encode()
    assert math.isclose(json.loads(body)["F"], 0.30000000000000004)


# ---- the safety net and the switches ----------------------------------------------------


def test_the_canned_check_passes_on_the_installed_botocore() -> None:
    assert _serializers.safety_net.check() == ""


def test_a_disagreeing_writer_is_not_used_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_serializers.safety_net, "verdict", None)
    monkeypatch.setattr(_serializers.safety_net, "warned", False)
    real = _serializers.JsonBodyPlan

    class Wrong:
        def __init__(self, nodes: list[Any]) -> None:
            self.plan = real(nodes)

        def write(self, params: Any, serializer: Any) -> Any:
            body = self.plan.write(params, serializer)
            return None if body is None else body.replace(b", ", b",")

    monkeypatch.setattr(_serializers, "JsonBodyPlan", Wrong)
    client = boto3.client("dynamodb", region_name="us-east-1")
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        assert not aboto3.AIOClient(client).fast_serializing
        assert not aboto3.AIOClient(client).fast_serializing
    assert not isinstance(client._serializer._serializer, _serializers._CppBodies)
    warnings = [r for r in caplog.records if r.name == "aboto3"]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "botocore's serializer" in message and "json request differs" in message


def test_a_writer_that_declines_everything_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_serializers.safety_net, "verdict", None)
    monkeypatch.setattr(_serializers.safety_net, "warned", True)

    class Declining:
        def __init__(self, nodes: list[Any]) -> None:
            pass

        def write(self, params: Any, serializer: Any) -> None:
            return None

    monkeypatch.setattr(_serializers, "JsonBodyPlan", Declining)
    assert "left a json test request to botocore" in _serializers.safety_net.check()


def test_aioclient_uses_it_by_default_and_can_turn_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    original = client._serializer
    assert aboto3.AIOClient(client).fast_serializing
    assert isinstance(client._serializer._serializer, _serializers.FastJSONSerializer)
    # The validator botocore wraps around its serializer still runs first.
    assert type(client._serializer) is type(original)
    assert not aboto3.AIOClient(client, fast_serializing=False).fast_serializing
    assert client._serializer is original
    monkeypatch.setenv("ABOTO3_FAST_SERIALIZING", "0")
    assert not aboto3.AIOClient(client).fast_serializing
    assert client._serializer is original


def test_only_json_protocols_get_it() -> None:
    assert aboto3.AIOClient(boto3.client("lambda", region_name="us-east-1")).fast_serializing
    s3 = boto3.client("s3", region_name="us-east-1")
    original = s3._serializer
    assert not aboto3.AIOClient(s3).fast_serializing
    assert s3._serializer is original


def test_without_parameter_validation_the_serializer_is_replaced_whole() -> None:
    client = boto3.client(
        "dynamodb", region_name="us-east-1", config=Config(parameter_validation=False)
    )
    original = client._serializer
    assert aboto3.AIOClient(client).fast_serializing
    assert isinstance(client._serializer, _serializers.FastJSONSerializer)
    assert not aboto3.AIOClient(client, fast_serializing=False).fast_serializing
    assert client._serializer is original


def test_invalid_parameters_raise_botocores_validation_error() -> None:
    from botocore.exceptions import ParamValidationError

    client = boto3.client("dynamodb", region_name="us-east-1")
    aboto3.AIOClient(client)
    with pytest.raises(ParamValidationError, match=r"Invalid type for parameter Item\.k\.S"):
        client.put_item(TableName="t", Item={"k": {"S": 5}})


def test_without_the_cpp_writer_botocore_serializes_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_serializers, "JsonBodyPlan", None)
    client = boto3.client("dynamodb", region_name="us-east-1")
    original = client._serializer
    with caplog.at_level(logging.WARNING, logger="aboto3"):
        assert not aboto3.AIOClient(client).fast_serializing
    assert client._serializer is original
    assert not [r for r in caplog.records if r.name == "aboto3"]


# ---- real calls against moto ----------------------------------------------------------


def written_by_cpp(client: Any) -> int:
    return int(client._serializer._serializer.written)


async def test_dynamodb_writes_and_reads_through_both_serializers(
    make_client: Any, make_aio: Any
) -> None:
    """The same DynamoDB calls through aboto3 (bodies written in C++) and through a
    plain boto3 client give the same table contents and results."""
    plain = make_client("dynamodb")
    client = make_client("dynamodb")
    aio = make_aio(client)
    assert aio.fast_serializing
    key_schema = [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    definitions = [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "N"},
    ]
    for table, create in (("ours", aio.create_table), ("plain", None)):
        kwargs = dict(
            TableName=table,
            KeySchema=key_schema,
            AttributeDefinitions=definitions,
            BillingMode="PAY_PER_REQUEST",
        )
        if create is None:
            plain.create_table(**kwargs)
        else:
            await create(**kwargs)

    def item(i: int) -> dict[str, Any]:
        return {
            "pk": {"S": "user\u00e9#1"},
            "sk": {"N": str(i)},
            "text": {"S": f'line "{i}"\n\u65e5\u672c \U0001f600'},
            "blob": {"B": bytes(range(i, i + 20))},
            "nested": {
                "M": {"flag": {"BOOL": i % 2 == 0}, "list": {"L": [{"N": "1.5"}, {"NULL": True}]}}
            },
        }

    await aio.put_item(TableName="ours", Item=item(0))
    plain.put_item(TableName="plain", Item=item(0))
    batch = [{"PutRequest": {"Item": item(i)}} for i in range(1, 26)]
    await aio.batch_write_item(RequestItems={"ours": batch})
    plain.batch_write_item(RequestItems={"plain": batch})
    query = dict(
        KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
        ExpressionAttributeValues={
            ":pk": {"S": "user\u00e9#1"},
            ":a": {"N": "0"},
            ":b": {"N": "30"},
        },
    )
    ours = await aio.query(TableName="ours", **query)
    theirs = plain.query(TableName="plain", **query)
    assert ours["Count"] == theirs["Count"] == 26
    assert ours["Items"] == theirs["Items"]
    assert written_by_cpp(client) >= 4  # create_table, put_item, batch_write_item, query


@pytest.mark.skipif(not hasattr(aboto3, "AIOResource"), reason="this aboto3 has no resource layer")
async def test_dynamodb_resources_write_through_the_cpp_writer(moto_url: str, engine: str) -> None:
    """aboto3's DynamoDB resources (Table actions and the batch writer; boto3
    turns Decimal numbers, sets and Binary values into the wire format) write
    what a plain boto3 resource writes, and the bodies are written in C++."""
    executor = ThreadPoolExecutor(max_workers=4) if engine == "executor" else None
    resource = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url=moto_url)
    plain = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url=moto_url)
    table_kwargs: dict[str, Any] = dict(
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {
            "pk": "p\u00e9",
            "sk": decimal.Decimal(i),
            "price": decimal.Decimal("19.99"),
            "tags": {"a", "b\u00e9"},
            "data": Binary(b"\x00\x01" * (i + 1)),
            "doc": {"nested": [1, decimal.Decimal("2.5"), None, True, 'quote " \\ \U0001f600']},
        }
        for i in range(30)
    ]
    async with aboto3.AIOResource(
        resource, executor, engine="threads" if engine == "executor" else engine
    ) as dynamodb:
        assert dynamodb.meta.client.fast_serializing
        written = resource.meta.client._serializer._serializer
        before = written.written
        table = await dynamodb.create_table(TableName="ours", **table_kwargs)
        await table.put_item(Item=items[0])
        async with table.batch_writer() as batch:
            for item in items[1:]:
                await batch.put_item(Item=item)
        ours = await table.query(KeyConditionExpression=Key("pk").eq("p\u00e9"))
        # create_table, put_item, two batch_write_item calls (25 + 4 items), query
        assert written.written - before == 5
        assert written.declined == 0
    if executor is not None:
        executor.shutdown(wait=True)
    plain_table = plain.create_table(TableName="plain", **table_kwargs)
    plain_table.put_item(Item=items[0])
    with plain_table.batch_writer() as plain_batch:
        for item in items[1:]:
            plain_batch.put_item(Item=item)
    theirs = plain_table.query(KeyConditionExpression=Key("pk").eq("p\u00e9"))
    assert len(ours["Items"]) == 30
    assert ours["Items"] == theirs["Items"]
