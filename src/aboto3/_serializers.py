"""botocore's JSON request serializers, ``json`` and ``rest-json``, with the body written in C++.

botocore writes a JSON body in two steps: ``_serialize`` walks the parameters
along the input shape into new dicts, then ``json.dumps`` writes those. For a
DynamoDB ``BatchWriteItem`` of 25 items that is over a quarter of the call's
CPU. :class:`FastJSONSerializer` and :class:`FastRestJSONSerializer` subclass
botocore's ``JSONSerializer`` and ``RestJSONSerializer`` and replace just those
two steps with one C++ pass (``aboto3._core.JsonBodyPlan``) that writes the
same bytes. Everything around the body stays botocore's, for whatever version
is installed: the method, ``X-Amz-Target``, ``Content-Type`` and the
query-compatible header, the host prefix, rest-json's URI, query string,
headers and payload member, and the conversion of each timestamp (called back
per timestamp, since its precision differs between versions). A body the C++
writer cannot vouch for (a value of a type it does not expect, ``None``, a
``Decimal``, NaN, a dict subclass...) is written by botocore for that call;
the safety net below checks the rest per process.

A client gets them as its ``_serializer``, the one object botocore's client
serializes through (``serialize_to_request(parameters, operation_model)`` in
every version since 1.29), inside botocore's parameter validator, which still
runs first. Other protocols keep botocore's serializers.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from botocore.model import ServiceModel
from botocore.serialize import JSONSerializer, RestJSONSerializer, create_serializer
from botocore.validate import ParamValidationDecorator

from ._safety import SafetyNet

JsonBodyPlan: Any
try:
    from . import _core

    JsonBodyPlan = getattr(_core, "JsonBodyPlan", None)
except ImportError:  # a pure-Python install: botocore serializes
    JsonBodyPlan = None

# Set to 0 (or false/no/off) to keep botocore's serializers for every client.
ENV_SWITCH = "ABOTO3_FAST_SERIALIZING"

# The node kind of each of botocore's _serialize_type_* methods the C++ writer
# reproduces. A shape type with a method not named here (one a newer botocore
# might add) is declined; a type without a method is botocore's
# _default_serialize ("scalar": the value as json.dumps writes it).
_KINDS = {
    "structure": "structure",
    "map": "map",
    "list": "list",
    "timestamp": "timestamp",
    "blob": "blob",
    "float": "float",
    "double": "float",
}


def describe(shape: Any, serializer_class: type[Any]) -> list[tuple[Any, ...]]:
    """The nodes of a :class:`JsonBodyPlan` for ``shape``: the shape first,
    then one per shape it reaches (a recursive shape refers back to itself)."""
    nodes: list[tuple[Any, ...]] = []
    numbered: dict[tuple[Any, ...], int] = {}

    def number(shape: Any) -> int:
        # A member's own traits (a timestampFormat) make a shape of its own;
        # its name alone stands for its members, which come from the model.
        key = (shape.name, shape.type_name, shape.serialization.get("timestampFormat"))
        index = numbered.get(key)
        if index is None:
            index = numbered[key] = len(nodes)
            nodes.append(("decline",))  # until its children are numbered
            nodes[index] = node(shape)
        return index

    def node(shape: Any) -> tuple[Any, ...]:
        type_name = shape.type_name
        handled = hasattr(serializer_class, f"_serialize_type_{type_name}")
        if not handled:
            return ("scalar",)
        kind = _KINDS.get(type_name)
        if kind is None:
            return ("decline",)
        if kind == "structure":
            if shape.is_document_type:
                return ("document",)
            members = []
            for name, member in shape.members.items():
                members.append((name, member.serialization.get("name", name), member))
            serialized_names = {serialized for _, serialized, _ in members}
            if len(serialized_names) != len(members):
                # Two members under one key: botocore's dict keeps the first
                # one's place and the last one's value.
                return ("decline",)
            return ("structure", [(n, s, number(m)) for n, s, m in members])
        if kind == "list":
            return ("list", number(shape.member))
        if kind == "map":
            return ("map", number(shape.value))
        if kind == "timestamp":
            return ("timestamp", shape.serialization.get("timestampFormat"))
        return (kind,)

    number(shape)
    return nodes


class _CppBodies:
    """What both serializers share: a compiled plan per shape, and the C++ write."""

    # What the client held before: its validating decorator, or the serializer.
    replaced: Any
    # Bodies the C++ writer wrote, and bodies it left to botocore (tests and
    # the self-check read them).
    written: int
    declined: int
    _plans: dict[int, tuple[Any, Any]]

    @classmethod
    def replacing(cls, serializer: Any) -> Any:
        """One of these with ``serializer``'s settings (its timestamp precision...)."""
        fast = cls.__new__(cls)
        fast.__dict__.update(vars(serializer))
        fast.replaced = serializer
        fast.written = fast.declined = 0
        fast._plans = {}
        return fast

    def _write_body(self, params: Any, shape: Any) -> bytes | None:
        entry = self._plans.get(id(shape))
        if entry is None or entry[0] is not shape:
            # Keyed by the shape object, which the operation model keeps.
            entry = self._plans[id(shape)] = (shape, JsonBodyPlan(describe(shape, type(self))))
        body: bytes | None = entry[1].write(params, self)
        if body is None:
            self.declined += 1
        else:
            self.written += 1
        return body


class _JSONFraming(JSONSerializer):  # type: ignore[misc]
    """botocore's ``json`` serializer minus the body's walk: what goes around
    a body that the C++ writer has already written."""

    def _serialize(self, serialized: Any, value: Any, shape: Any, key: Any = None) -> None:
        pass


class FastJSONSerializer(_CppBodies, JSONSerializer):  # type: ignore[misc]
    """botocore's ``json`` serializer with the body written in C++."""

    _framing: _JSONFraming

    @classmethod
    def replacing(cls, serializer: Any) -> Any:
        fast = super().replacing(serializer)
        fast._framing = _JSONFraming.__new__(_JSONFraming)
        fast._framing.__dict__.update(vars(serializer))
        return fast

    def serialize_to_request(self, parameters: Any, operation_model: Any) -> Any:
        shape = operation_model.input_shape
        if shape is not None:
            body = self._write_body(parameters, shape)
            if body is not None:
                serialized = self._framing.serialize_to_request(parameters, operation_model)
                serialized["body"] = body
                return serialized
        return super().serialize_to_request(parameters, operation_model)


class FastRestJSONSerializer(_CppBodies, RestJSONSerializer):  # type: ignore[misc]
    """botocore's ``rest-json`` serializer with the body written in C++."""

    def _serialize_body_params(self, params: Any, shape: Any) -> Any:
        # Called for the members that go in the body, or the payload member.
        body = self._write_body(params, shape)
        if body is None:
            return super()._serialize_body_params(params, shape)
        return body


_FAST_CLASSES: dict[type[Any], type[Any]] = {
    JSONSerializer: FastJSONSerializer,
    RestJSONSerializer: FastRestJSONSerializer,
}


# ---- safety net ---------------------------------------------------------------

_SHAPES: dict[str, Any] = {
    "String": {"type": "string"},
    "Long": {"type": "long"},
    "Double": {"type": "double"},
    "Boolean": {"type": "boolean"},
    "Blob": {"type": "blob"},
    "Timestamp": {"type": "timestamp"},
    "Document": {"type": "structure", "members": {}, "document": True},
    "AttributeMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Attribute"}},
    "AttributeList": {"type": "list", "member": {"shape": "Attribute"}},
    "Attribute": {
        "type": "structure",
        "members": {
            "S": {"shape": "String"},
            "N": {"shape": "String"},
            "B": {"shape": "Blob"},
            "BOOL": {"shape": "Boolean"},
            "M": {"shape": "AttributeMap"},
            "L": {"shape": "AttributeList"},
        },
    },
    "Body": {
        "type": "structure",
        "members": {
            "Name": {"shape": "String", "locationName": "name"},
            "Count": {"shape": "Long"},
            "Ratio": {"shape": "Double"},
            "Flag": {"shape": "Boolean"},
            "Data": {"shape": "Blob"},
            "When": {"shape": "Timestamp"},
            "WhenText": {"shape": "Timestamp", "timestampFormat": "iso8601"},
            "Item": {"shape": "AttributeMap"},
            "Items": {"shape": "Items"},
            "Doc": {"shape": "Document"},
        },
    },
    "Items": {"type": "list", "member": {"shape": "AttributeMap"}},
}
_BODY_MEMBERS = _SHAPES["Body"]["members"]


def _canned_model(protocol: str) -> dict[str, Any]:
    """A service of ``protocol`` with what trips JSON writers up."""
    metadata = {
        "apiVersion": "2024-02-29",
        "endpointPrefix": "canned",
        "protocol": protocol,
        "serviceFullName": "Canned",
        "serviceId": "Canned",
        "signatureVersion": "v4",
        "uid": "canned-2024-02-29",
    }
    shapes = dict(_SHAPES)
    if protocol == "json":
        metadata.update(jsonVersion="1.0", targetPrefix="Canned_20240229")
        shapes["Input"] = {"type": "structure", "members": _BODY_MEMBERS}
        operations = {"Put": {"name": "Put", "http": {"method": "POST", "requestUri": "/"}}}
    else:
        shapes["Input"] = {
            "type": "structure",
            "members": {
                "Id": {"shape": "String", "location": "uri", "locationName": "Id"},
                "Mode": {"shape": "String", "location": "header", "locationName": "X-Mode"},
                "Since": {"shape": "Timestamp", "location": "querystring", "locationName": "since"},
                **_BODY_MEMBERS,
            },
        }
        shapes["PayloadInput"] = {
            "type": "structure",
            "members": {
                "Id": {"shape": "String", "location": "uri", "locationName": "Id"},
                "Body": {"shape": "Body"},
            },
            "payload": "Body",
        }
        operations = {
            "Put": {"name": "Put", "http": {"method": "PUT", "requestUri": "/things/{Id}"}},
            "PutPayload": {
                "name": "PutPayload",
                "http": {"method": "POST", "requestUri": "/things/{Id}/payload"},
                "input": {"shape": "PayloadInput"},
            },
        }
    operations["Put"]["input"] = {"shape": "Input"}
    return {"version": "2.0", "metadata": metadata, "operations": operations, "shapes": shapes}


def _canned_body() -> dict[str, Any]:
    item = {
        "pk": {"S": 'line\n"quoted" \\ tab\t\x00\x7f caf\xe9 \u20ac \U0001f600 \ud800'},
        "n": {"N": "-12.5e3"},
        "bin": {"B": b"\x00\xff\xfe binary"},
        "m": {"M": {"\u00fc": {"BOOL": False}, "l": {"L": [{"S": ""}, {"B": "t\xe9xt"}]}}},
    }
    return {
        "Name": "\u65e5\u672c",
        "Count": 2**70,
        "Ratio": 0.1,
        "Flag": True,
        "Data": "str blob \u00e9",
        "When": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456),
        "WhenText": datetime.datetime(
            2024, 2, 29, 12, 0, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
        ),
        "Item": item,
        "Items": [item, {}],
        "Doc": {"a": [1, 2.5, None, True, "x\u2028"], "b": {}},
    }


def _canned_calls() -> list[tuple[str, str, dict[str, Any]]]:
    body = _canned_body()
    rest = {"Id": "a b/\u00e9", "Mode": "fast", "Since": 1709251198, **body}
    return [
        ("json", "Put", body),
        ("rest-json", "Put", rest),
        ("rest-json", "PutPayload", {"Id": "x", "Body": body}),
    ]


def _compare() -> str:
    """Serializes canned requests with botocore's serializers and with ours;
    the whole request dicts must be equal, and ours must have written each
    body in C++ (a check that botocore passed would check nothing)."""
    if JsonBodyPlan is None:
        return "this build of aboto3._core has no JSON body writer"
    for protocol, operation, params in _canned_calls():
        operation_model = ServiceModel(_canned_model(protocol)).operation_model(operation)
        botocore_serializer = create_serializer(protocol, False)
        theirs = botocore_serializer.serialize_to_request(params, operation_model)
        fast = _FAST_CLASSES[type(botocore_serializer)].replacing(botocore_serializer)
        ours = fast.serialize_to_request(params, operation_model)
        if ours != theirs:
            return f"its {protocol} request differs from botocore's on a test request"
        if fast.written != 1:
            return f"it left a {protocol} test request to botocore"
    return ""


safety_net = SafetyNet(
    ENV_SWITCH,
    _compare,
    trying="serializing a test request",
    fallback="serializes JSON requests with botocore's serializer",
)


# ---- installing on a client ------------------------------------------------------


def use_fast_serializing(client: Any, wanted: bool) -> bool:
    """Give ``client`` the C++ JSON body writer (or take it back); True if it now has it.

    Only clients of the ``json`` and ``rest-json`` protocols, whose serializer
    is botocore's own class, get it.
    """
    current: Any = getattr(client, "_serializer", None)
    validating = isinstance(current, ParamValidationDecorator)
    inner = getattr(current, "_serializer", None) if validating else current
    if isinstance(inner, _CppBodies):
        if wanted and safety_net.enabled_by_environment():
            return True
        client._serializer = inner.replaced
        return False
    fast_class = _FAST_CLASSES.get(type(inner))
    if (
        not wanted
        or fast_class is None
        or not safety_net.enabled_by_environment()
        or JsonBodyPlan is None
    ):
        return False
    reason = safety_net.check()
    if reason:
        safety_net.warn_once(reason)
        return False
    fast = fast_class.replacing(inner)
    fast.replaced = current
    if validating:
        # A copy of the client's validating decorator around ours: the
        # parameters are still validated first, as botocore does.
        outer = copy.copy(current)
        outer._serializer = fast
        client._serializer = outer
    else:  # parameter_validation=False
        client._serializer = fast
    return True
