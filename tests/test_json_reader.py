"""The C++ JSON reader (src/cpp/json_reader.h) against Python's json.loads: the same
objects for what json.loads accepts, a ValueError for what it refuses."""

from __future__ import annotations

import gzip
import json
import random
from collections import OrderedDict
from pathlib import Path
from typing import Any

import botocore
import pytest

from tests.parser_cases import assert_same, mutations

_core = pytest.importorskip("aboto3._core")
if not hasattr(_core, "json_loads"):
    pytest.skip("this build of aboto3._core has no JSON reader", allow_module_level=True)


def python(data: bytes, **kwargs: Any) -> tuple[str, Any]:
    try:
        return "ok", json.loads(data.decode("utf-8"), **kwargs)
    except ValueError:
        return "raised", None
    except RecursionError:
        return "too deep", None


def ours(data: bytes, **kwargs: Any) -> tuple[str, Any]:
    try:
        value = _core.json_loads(data, **kwargs)
    except ValueError:
        return "raised", None
    return ("declined", None) if value is NotImplemented else ("ok", value)


def check(data: bytes) -> None:
    expected, got = python(data), ours(data)
    if got[0] == "declined":
        return  # json.loads decides: fine whatever it does
    assert expected[0] == got[0], f"{data!r}: json.loads {expected[0]}, the reader {got[0]}"
    if expected[0] == "ok":
        assert_same(expected[1], got[1], repr(data))


EDGE_CASES = [
    b"{}",
    b"[]",
    b" \t\r\n{ } ",
    b'{"a": 1, "a": 2, "b": 3, "a": 4}',
    b'{"a": {"a": 1}, "a": null}',
    b"[NaN, Infinity, -Infinity]",
    b"[nan]",
    b"[-NaN]",
    b"[1e400, -1e400, 1E5, 1e-7, 5e-324, 0.1, -0.0, 0, -0, 1.0]",
    b"[123456789012345678, 1234567890123456789, 99999999999999999999999999]",
    b"[9007199254740993.0, 0.30000000000000004, 1.7976931348623157e308, 2.2250738585072014e-308]",
    b"[01]",
    b"[1.]",
    b"[.5]",
    b"[1e]",
    b"[1e+]",
    b"[-]",
    b"[+1]",
    b"[0x10]",
    b"[1,]",
    b'{"a":1,}',
    b"[,1]",
    b'{"a" 1}',
    b"{'a': 1}",
    b'{"a":1}}',
    b"[true, false, null]",
    b"[tru]",
    b"[True]",
    b"[nul]",
    b'"\\u00e9\\ud83d\\ude00 \\t\\n\\"\\\\\\/\\b\\f\\r"',
    b'"\\ud800"',
    b'"\\udc00\\ud800x"',
    b'"\\ud800\\u0041"',
    b'"\\ud800\\uzzzz"',
    b'"\\u12"',
    b'"\\x41"',
    b'"\\u0000"',
    '"é日本😀"'.encode(),
    b'"\x01"',
    b'"\x7f"',
    b'"\xff"',
    b'"\xc3"',
    b'"\xc0\xaf"',
    b'"\xed\xa0\x80"',
    b'"\xf4\x90\x80\x80"',
    b'"\xef\xbf\xbf"',
    b"\xef\xbb\xbf{}",
    b"",
    b"   ",
    b'"unterminated',
    b"[1] [2]",
    b"1 2",
    b"123",
    b'"top"',
    b"null",
    b"\x00",
    b'{"\\u0061": 1, "a": 2}',
    b"[" * 600 + b"]" * 600,
    b"[" * 100 + b"]" * 100,
    b"[" + b"9" * 601 + b"]",
    b"[" + b"9" * 600 + b"]",
]


@pytest.mark.parametrize("data", EDGE_CASES, ids=range(len(EDGE_CASES)))
def test_edge_cases_read_as_json_loads_reads_them(data: bytes) -> None:
    check(data)


def test_what_it_does_not_vouch_for_is_said() -> None:
    assert _core.json_loads(b"[" * 600 + b"]" * 600) is NotImplemented
    assert _core.json_loads(b"[" + b"9" * 601 + b"]") is NotImplemented
    assert _core.json_loads(b"[" + b"9" * 600 + b"]") == [int("9" * 600)]


def _document(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.25:
        return {
            rng.choice(["a", "b", "é", "k" * 9, ""]): _document(rng, depth + 1) for _ in range(3)
        }
    if depth < 4 and roll < 0.45:
        return [_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -17,
            2**64,
            1.5,
            -2.5e-300,
            1e300,
            0.1,
            float("nan"),
            float("inf"),
            "",
            "text",
            'tab\t"quote" \\ é 日本 😀 \x01',
        ]
    )


def test_random_documents_and_their_damaged_copies() -> None:
    rng = random.Random(2024)
    for _ in range(1500):
        text = json.dumps(
            _document(rng), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1])
        )
        data = text.encode()
        check(data)
        for damaged in mutations(data, rng, 3):
            check(damaged)


def test_objects_can_be_any_mapping_filled_in_order() -> None:
    data = b'{"b": 1, "a": {"z": [1, {"y": 2}], "x": null}, "b": 3}'
    expected = json.loads(data, object_pairs_hook=OrderedDict)
    got = _core.json_loads(data, mapping_type=OrderedDict)
    assert_same(expected, got)
    assert type(got["a"]["z"][1]) is OrderedDict


def test_a_long_read_calls_pause() -> None:
    calls = []
    data = json.dumps([{"k": "v" * 20, "n": list(range(20))} for _ in range(40000)]).encode()
    assert _core.json_loads(data, pause=lambda: calls.append(1)) == json.loads(data)
    assert calls  # every 3 ms of work
    with pytest.raises(KeyboardInterrupt):
        _core.json_loads(data, pause=_interrupt)


def _interrupt() -> None:
    raise KeyboardInterrupt


def test_botocore_model_files_read_as_json_loads_reads_them() -> None:
    data_dir = Path(botocore.__file__).parent / "data"
    for service in ("ec2", "s3", "dynamodb", "sagemaker"):
        for path in sorted((data_dir / service).glob("*/service-2.json*"))[-1:]:
            raw = path.read_bytes()
            if path.suffix == ".gz":
                raw = gzip.decompress(raw)
            expected = json.loads(raw.decode("utf-8"), object_pairs_hook=OrderedDict)
            assert_same(expected, _core.json_loads(raw, mapping_type=OrderedDict), service)
