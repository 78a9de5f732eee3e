"""Request serialization's share of a DynamoDB write, timed in one process.

    python -m benchmarks.serialization [--rounds 10] [--calls 300]

Issue 22 asks whether botocore's JSON serializer deserves the C++ treatment the
response parsers get: yes if it is 25 % or more of the call. Two writes, each
timed in turns, ``calls`` calls per round, each part keeping its best round of
CPU time per call (``time.thread_time``, as ``benchmarks.signing`` does):

- ``PutItem`` of one item and ``BatchWriteItem`` of 25 items, each item about
  400 bytes of JSON (the attribute mix of the stub's Query items: S, N, BOOL, a
  nested M, an L of M, a B blob);
- the parts: botocore's serializer alone (``serialize_to_request`` of the
  client's JSON serializer), and with the parameter validation the client runs
  before it (the client's ``_serializer``: botocore wraps the serializer in its
  validator);
- the wholes: the botocore floor (the same client with its HTTP answered
  in-process from the stub's recorded response, as the benchmark's floor), the
  floor with aboto3's C++ signer (about what the native engine pays per call),
  and sync boto3 over HTTP to the stub.

A share is a part's CPU over a whole's. The same parts and wholes with aboto3's
C++ JSON writer (``aboto3._serializers``, what an ``AIOClient`` installs) follow,
with their ratios to botocore's.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

from .contenders import CannedHTTPSession, boto3_client
from .stub import StubServer

BATCH_ITEMS = 25
SHARE_LIMIT = 0.25  # issue 22: at or above this, the JSON serializers go C++
WHOLES = ("floor", "floor, C++ signer", "sync boto3")
PARTS = ("serializer", "validation + serializer")
# The same with aboto3's C++ JSON writer, each against botocore's counterpart.
OURS = {
    "C++ serializer": "serializer",
    "validation + C++ serializer": "validation + serializer",
    "floor, C++ signer + serializer": "floor, C++ signer",
}


def order_item(i: int) -> dict[str, Any]:
    """One order of about 400 bytes of JSON (as the stub's Query items)."""
    return {
        "pk": {"S": f"user#{i // 25}"},
        "sk": {"S": f"order#2025-01-{1 + i % 28:02d}T10:{i % 60:02d}:00Z#{i:06d}"},
        "status": {"S": ("PENDING", "SHIPPED", "DELIVERED", "RETURNED")[i % 4]},
        "total": {"N": f"{100 + i * 7 % 1900}.{i % 100:02d}"},
        "gift": {"BOOL": i % 2 == 0},
        "customer": {
            "M": {
                "id": {"S": f"cust-{i // 25:05d}"},
                "address": {
                    "M": {"city": {"S": "Springfield"}, "zip": {"S": f"{i * 37 % 100000:05d}"}}
                },
            }
        },
        "lines": {
            "L": [
                {
                    "M": {
                        "sku": {"S": f"SKU-{i * 13 % 100000:05d}"},
                        "qty": {"N": "2"},
                        "price": {"N": "19.99"},
                    }
                }
            ]
        },
        "thumbnail": {"B": bytes((i * 7 + k) % 256 for k in range(24))},
        "updated_at": {"N": str(1735689600 + i * 61)},
    }


def writes() -> dict[str, tuple[str, dict[str, Any]]]:
    """The two writes: (client method, parameters)."""
    items = [order_item(i) for i in range(BATCH_ITEMS)]
    return {
        "PutItem": ("put_item", {"TableName": "bench", "Item": items[0]}),
        "BatchWriteItem": (
            "batch_write_item",
            {"RequestItems": {"bench": [{"PutRequest": {"Item": item}} for item in items]}},
        ),
    }


def _timed_parts(
    endpoint_url: str, method: str, params: dict[str, Any]
) -> dict[str, Callable[[], object]]:
    """Every part and whole of one write, as zero-argument calls."""
    from aboto3._serializers import use_fast_serializing
    from aboto3._signing import use_fast_signing

    def floor(cpp_signer: bool, cpp_serializer: bool = False) -> Any:
        client = boto3_client("ddb", endpoint_url, 1)
        client._endpoint.http_session = CannedHTTPSession(client._endpoint.http_session)
        if cpp_signer and not use_fast_signing(client, True):
            raise RuntimeError("the C++ signer is not available in this install")
        if cpp_serializer and not use_fast_serializing(client, True):
            raise RuntimeError("the C++ JSON writer is not available in this install")
        return client

    plain = boto3_client("ddb", endpoint_url, 1)
    ours = floor(True, True)
    clients = {
        "floor": floor(False),
        "floor, C++ signer": floor(True),
        "sync boto3": plain,
        "floor, C++ signer + serializer": ours,
    }
    operation = plain.meta.service_model.operation_model(plain.meta.method_to_api_mapping[method])
    validating = plain._serializer
    # botocore wraps its serializer in the parameter validator (when
    # parameter_validation is on, the default): the bare one is inside.
    bare = getattr(validating, "_serializer", validating)
    calls: dict[str, Callable[[], object]] = {
        name: functools.partial(getattr(c, method), **params) for name, c in clients.items()
    }
    calls["serializer"] = lambda: bare.serialize_to_request(params, operation)
    calls["validation + serializer"] = lambda: validating.serialize_to_request(params, operation)
    ours_validating = ours._serializer
    ours_bare = getattr(ours_validating, "_serializer", ours_validating)
    calls["C++ serializer"] = lambda: ours_bare.serialize_to_request(params, operation)
    calls["validation + C++ serializer"] = lambda: ours_validating.serialize_to_request(
        params, operation
    )
    for call in calls.values():
        call()  # the floors record the stub's answer; caches warm up
    return calls


def measure(rounds: int, calls: int) -> dict[str, dict[str, float]]:
    """Best CPU microseconds per call of every part and whole, per write."""
    best: dict[str, dict[str, float]] = {}
    with StubServer() as stub:
        timed = {
            write: _timed_parts(stub.endpoint_url, method, params)
            for write, (method, params) in writes().items()
        }
        for write, parts in timed.items():
            best[write] = dict.fromkeys(parts, float("inf"))
            for _ in range(rounds):
                for name, call in parts.items():
                    started = time.thread_time()
                    for _ in range(calls):
                        call()
                    elapsed = (time.thread_time() - started) / calls * 1e6
                    best[write][name] = min(best[write][name], elapsed)
    return best


def shares(best: dict[str, dict[str, float]]) -> dict[str, dict[tuple[str, str], float]]:
    """Each part's CPU over each whole's, per write."""
    return {
        write: {(part, whole): cpu[part] / cpu[whole] for part in PARTS for whole in WHOLES}
        for write, cpu in best.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    best = measure(args.rounds, args.calls)
    for write, cpu in best.items():
        print(f"{write}:")
        for name, us in cpu.items():
            print(f"  {name:32s} {us:8.1f} us CPU per call")
        for (part, whole), share in shares(best)[write].items():
            verdict = "at or above" if share >= SHARE_LIMIT else "under"
            print(f"  {part} / {whole}: {share:.0%} ({verdict} {SHARE_LIMIT:.0%})")
        for ours, theirs in OURS.items():
            print(f"  {ours} / botocore's: {cpu[ours] / cpu[theirs]:.2f}x")
        share = cpu["C++ serializer"] / cpu["floor, C++ signer + serializer"]
        print(f"  C++ serializer / its floor call: {share:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
