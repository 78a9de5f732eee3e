"""The big-response workloads (issue 22): the stub answers them as AWS does, plain
boto3 parses its answers, every contender parses them as boto3 does, and the
worker, the modes and the report carry them. No timing is asserted."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import time
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from dateutil.tz import tzutc

from .contenders import (
    BIG_CALLS,
    CONTENDERS,
    TABLE_KEY,
    Cell,
    boto3_client,
    check_big_response,
)
from .parity import comparable, first_difference
from .run import BIG_CONTENDERS, BIG_RESPONSES, full_mode, quick_mode
from .stub import StubServer
from .worker import LoopLag, measure, reference_response

ATTRIBUTE_TYPES = {"S", "N", "BOOL", "M", "L", "B"}


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def client(service: str, stub: StubServer) -> Any:
    config: dict[str, Any] = {"retries": {"max_attempts": 1}}
    if service == "s3":
        config["s3"] = {"addressing_style": "path"}
    return boto3.session.Session().client(
        service,
        endpoint_url=stub.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(**config),
    )


def raw_post(stub: StubServer, target: str, body: dict[str, Any]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    connection.request(
        "POST",
        "/",
        json.dumps(body),
        {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"},
    )
    return connection.getresponse()


def attribute_types(value: dict[str, Any]) -> Iterator[str]:
    """Every AttributeValue type in an item, nested ones included."""
    for kind, inner in value.items():
        yield kind
        if kind == "M":
            for nested in inner.values():
                yield from attribute_types(nested)
        elif kind == "L":
            for nested in inner:
                yield from attribute_types(nested)


# -- the stub's answers, parsed by plain boto3 -------------------------------


def test_query_returns_a_hundred_items_of_every_attribute_type(stub: StubServer) -> None:
    ddb = client("dynamodb", stub)
    response = ddb.query(**BIG_CALLS["ddbquery"][1])
    items = response["Items"]
    assert len(items) == response["Count"] == response["ScannedCount"] == 100
    assert "LastEvaluatedKey" not in response
    assert all(item["pk"] == TABLE_KEY["pk"] for item in items)
    assert len({item["sk"]["S"] for item in items}) == 100
    kinds = {kind for item in items for value in item.values() for kind in attribute_types(value)}
    assert kinds == ATTRIBUTE_TYPES
    assert all(isinstance(item["thumbnail"]["B"], bytes) for item in items)
    assert {type(item["gift"]["BOOL"]) for item in items} == {bool}
    # About 400 bytes of JSON an item.
    length = int(response["ResponseMetadata"]["HTTPHeaders"]["content-length"])
    assert 350 <= length / 100 <= 450
    check_big_response(response, "ddbquery")
    # The same bytes every time (the request id is in a header).
    again = ddb.query(**BIG_CALLS["ddbquery"][1])
    assert first_difference(comparable(again), comparable(response)) is None


def test_scan_pages_stop_at_one_megabyte(stub: StubServer) -> None:
    ddb = client("dynamodb", stub)
    first = ddb.scan(TableName="bench")
    length = int(first["ResponseMetadata"]["HTTPHeaders"]["content-length"])
    assert 1_000_000 <= length <= 1024 * 1024
    items = first["Items"]
    assert len(items) == first["Count"] == first["ScannedCount"]
    assert 2000 <= len(items) <= 3000
    last = items[-1]
    assert first["LastEvaluatedKey"] == {"pk": last["pk"], "sk": last["sk"]}
    assert len({item["pk"]["S"] for item in items}) > 1  # a Scan crosses partitions
    check_big_response(first, "ddbscan")

    rest = ddb.scan(TableName="bench", ExclusiveStartKey=first["LastEvaluatedKey"])
    assert "LastEvaluatedKey" not in rest
    assert len(rest["Items"]) == rest["Count"] == 100
    assert not {i["sk"]["S"] for i in rest["Items"]} & {i["sk"]["S"] for i in items}
    pages = list(ddb.get_paginator("scan").paginate(TableName="bench"))
    assert [len(page["Items"]) for page in pages] == [len(items), 100]


def test_dynamodb_answers_carry_their_crc32(stub: StubServer) -> None:
    for target, body in (
        ("DynamoDB_20120810.Query", {"TableName": "bench"}),
        ("DynamoDB_20120810.Scan", {"TableName": "bench"}),
        ("DynamoDB_20120810.Scan", {"TableName": "bench", "ExclusiveStartKey": {}}),
        ("DynamoDB_20120810.PutItem", {"TableName": "bench", "Item": {}}),
        ("DynamoDB_20120810.BatchWriteItem", {"RequestItems": {}}),
    ):
        response = raw_post(stub, target, body)
        data = response.read()
        assert response.status == 200
        assert int(response.headers["x-amz-crc32"]) == zlib.crc32(data)
        assert response.headers["x-amzn-RequestId"]
        json.loads(data)


def test_writes_are_acknowledged(stub: StubServer) -> None:
    ddb = client("dynamodb", stub)
    item = {"pk": {"S": "user#1"}, "n": {"N": "1"}}
    put = ddb.put_item(TableName="bench", Item=item)
    assert set(put) == {"ResponseMetadata"}
    batch = ddb.batch_write_item(RequestItems={"bench": [{"PutRequest": {"Item": item}}] * 25})
    assert batch["UnprocessedItems"] == {}


def test_list_objects_v2_lists_a_thousand_keys_in_order(stub: StubServer) -> None:
    s3 = client("s3", stub)
    page = s3.list_objects_v2(Bucket="bench-logs")
    contents = page["Contents"]
    keys = [entry["Key"] for entry in contents]
    assert len(keys) == page["KeyCount"] == page["MaxKeys"] == 1000
    assert keys == sorted(set(keys))
    assert page["IsTruncated"] is True and page["NextContinuationToken"]
    assert page["Name"] == "bench-logs" and page["Prefix"] == ""
    # botocore asks for URL-encoded keys, and the answer says they are.
    assert page["EncodingType"] == "url"
    for entry in contents:
        assert "Owner" not in entry  # ListObjectsV2 leaves it out unless asked
        assert entry["ETag"].startswith('"') and entry["ETag"].endswith('"')
        assert isinstance(entry["Size"], int)
        assert isinstance(entry["LastModified"], datetime.datetime)
        assert entry["LastModified"].utcoffset() == datetime.timedelta(0)
        assert entry["StorageClass"]
    assert any("-" in entry["ETag"] for entry in contents)  # multipart uploads
    assert any(entry.get("ChecksumAlgorithm") == ["CRC64NVME"] for entry in contents)
    check_big_response(page, "s3list")

    owned = s3.list_objects_v2(Bucket="bench-logs", FetchOwner=True, MaxKeys=3)
    assert [entry["Key"] for entry in owned["Contents"]] == keys[:3]
    assert all(entry["Owner"]["ID"] for entry in owned["Contents"])

    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket="bench-logs", PaginationConfig={"MaxItems": 2500}
        )
    )
    listed = [entry["Key"] for p in pages for entry in p["Contents"]]
    assert [len(p["Contents"]) for p in pages] == [1000, 1000, 500]
    assert listed[:1000] == keys and listed == sorted(set(listed))
    assert pages[1]["ContinuationToken"] == page["NextContinuationToken"]


def test_list_objects_v2_last_page_and_refusals(stub: StubServer) -> None:
    s3 = client("s3", stub)
    # The stub's tokens name the first key's index (AWS's are opaque).
    page = s3.list_objects_v2(Bucket="bench-logs", ContinuationToken=f"1{9500:015x}")
    assert page["KeyCount"] == 500 and page["IsTruncated"] is False
    assert "NextContinuationToken" not in page
    assert page["Contents"][-1]["Key"].endswith("part-09999.json.gz")
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket="bench-logs", Prefix="logs/")
    assert refused.value.response["Error"]["Code"] == "NotImplemented"
    with pytest.raises(ClientError) as bad_token:
        s3.list_objects_v2(Bucket="bench-logs", ContinuationToken="not-a-token")
    assert bad_token.value.response["Error"]["Code"] == "InvalidArgument"


def test_listing_is_s3_xml_with_its_namespace(stub: StubServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", stub.port, timeout=10)
    connection.request("GET", "/bench-logs?list-type=2&max-keys=2")
    response = connection.getresponse()
    body = response.read().decode()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/xml"
    assert response.headers["x-amz-request-id"] and response.headers["x-amz-id-2"]
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' in body
    assert "<ETag>&quot;" in body
    assert "<EncodingType>" not in body  # only when asked for
    assert body.count("<Contents>") == 2


# -- the contenders agree ----------------------------------------------------


def _one_response(key: str, cell: Cell, endpoint_url: str) -> Any:
    """One call of the workload made by contender ``key``."""
    contender = CONTENDERS[key]
    if not contender.is_async:
        call = contender.open_sync(cell, endpoint_url)
        call()  # the floor records the stub's answer here, and replays it next
        return call()

    async def once() -> Any:
        call = await contender.open(cell, endpoint_url)
        try:
            return await call()
        finally:
            await contender.close()

    return asyncio.run(once())


@pytest.fixture(scope="module")
def contenders() -> list[str]:
    """The contenders of the big workloads that can run in this environment."""
    keys = ["boto3", "floor", "aboto3-threads"]
    if CONTENDERS["aiobotocore"].unavailable() is None:
        keys.append("aiobotocore")
    if CONTENDERS["aboto3-native"].unavailable() is None:
        keys.append("aboto3-native")
    return keys


@pytest.mark.parametrize("workload", sorted(BIG_CALLS))
def test_every_contender_parses_as_boto3_does(
    workload: str, stub: StubServer, contenders: list[str]
) -> None:
    expected = comparable(reference_response(workload, stub.endpoint_url))
    for key in contenders:
        cell = Cell(key, workload, 0, 2, 2)
        response = _one_response(key, cell, stub.endpoint_url)
        assert first_difference(comparable(response), expected) is None, key


def test_parity_finds_what_differs() -> None:
    utc = datetime.datetime(2025, 1, 1, tzinfo=tzutc())
    assert first_difference({"a": 1, "b": [b"x"]}, {"a": 1, "b": [b"x"]}) is None
    assert first_difference({"a": 1}, {"a": 1.0}) == "response['a']: int 1, boto3 has float 1.0"
    assert first_difference({"a": True}, {"a": 1}) is not None
    assert first_difference({"a": 1, "b": 2}, {"b": 2, "a": 1}) is not None  # key order
    assert first_difference({"a": [1]}, {"a": [1, 2]}) is not None
    assert first_difference({"a": "x"}, {"a": b"x"}) is not None
    assert first_difference({"t": utc}, {"t": utc.replace(tzinfo=datetime.timezone.utc)})
    metadata = {"RequestId": "1", "HTTPStatusCode": 200, "HTTPHeaders": {"x-amzn-requestid": "1"}}
    other = {"RequestId": "2", "HTTPStatusCode": 200, "HTTPHeaders": {"x-amzn-RequestId": "2"}}
    assert (
        first_difference(
            comparable({"ResponseMetadata": metadata}), comparable({"ResponseMetadata": other})
        )
        is None
    )


# -- the worker --------------------------------------------------------------


def test_loop_lag_sees_a_stalled_loop() -> None:
    async def stall() -> LoopLag:
        lag = LoopLag()
        lag.start()
        await asyncio.sleep(0.01)
        time.sleep(0.05)  # holds the loop, as a parse on the loop would
        await asyncio.sleep(0.01)
        lag.stop()
        return lag

    summary = asyncio.run(stall()).summary()
    assert summary["loop_lag_ticks"] > 1
    # A blocking sleep cannot be shorter than asked: a lower bound, not a timing.
    assert summary["loop_lag_max_ms"] >= 45
    assert summary["loop_lag_own_max_ms"] >= 45


def test_worker_reports_loop_lag_and_parity(stub: StubServer) -> None:
    threads = measure(Cell("aboto3-threads", "ddbquery", 0, 4, 4), stub.endpoint_url, 0.05, 0.02)
    assert threads["calls"] > 0
    assert threads["loop_lag_ticks"] > 0
    assert threads["loop_lag_max_ms"] >= threads["loop_lag_p99_ms"] >= 0
    assert threads["parsed_same_as_boto3"] is True
    sync = measure(Cell("boto3", "ddbquery", 0, 1, 4), stub.endpoint_url, 0.02, 0.0)
    assert "loop_lag_max_ms" not in sync
    assert sync["parsed_same_as_boto3"] is True
    off = measure(
        Cell("aboto3-threads", "ssm", 0, 2, 2), stub.endpoint_url, 0.02, 0.0, loop_lag=False
    )
    assert "loop_lag_max_ms" not in off


def test_worker_notices_a_contender_that_parses_differently(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from . import worker

    real = worker.reference_response

    def reference_with_a_float(workload: str, endpoint_url: str | None) -> Any:
        response = real(workload, endpoint_url)
        response["Count"] = float(response["Count"])
        return response

    monkeypatch.setattr(worker, "reference_response", reference_with_a_float)
    result = measure(Cell("boto3", "ddbquery", 0, 1, 4), stub.endpoint_url, 0.02, 0.0)
    assert result["parsed_same_as_boto3"] is False
    assert "['Count']" in result["parsed_difference"]


# -- the modes and the report ------------------------------------------------


def test_modes_carry_the_big_workloads() -> None:
    full = {cell.key for cell in full_mode().cells}
    for workload, concurrency in BIG_RESPONSES.items():
        assert f"boto3/{workload}/lat0/c1/pool10" in full
        assert f"floor/{workload}/lat0/c1/pool10" in full
        for key in BIG_CONTENDERS:
            assert f"{key}/{workload}/lat0/c{concurrency}/pool10" in full
    quick = {cell.key for cell in quick_mode().cells}
    assert "aboto3-native/ddbquery/lat0/c64/pool10" in quick
    assert "aiobotocore/ddbquery/lat0/c64/pool10" in quick
    assert "boto3/ddbquery/lat0/c1/pool10" in quick


def _run(contender: str, workload: str, concurrency: int, **metrics: float) -> dict[str, Any]:
    return {
        "contender": contender,
        "workload": workload,
        "latency_ms": 0,
        "concurrency": concurrency,
        "pool": 10,
        "rep": 1,
        **metrics,
    }


def test_report_shows_the_big_responses_and_their_targets() -> None:
    from . import report

    lag = {"loop_lag_max_ms": 12.0, "loop_lag_own_max_ms": 4.0, "loop_lag_p99_ms": 1.0}
    runs = [
        _run("boto3", "ddbquery", 1, calls_per_s=100, cpu_us_per_call=10_000),
        _run("floor", "ddbquery", 1, calls_per_s=120, cpu_us_per_call=8_000),
        _run("aiobotocore", "ddbquery", 64, calls_per_s=100, cpu_us_per_call=10_000, **lag),
        _run("aboto3-native", "ddbquery", 64, calls_per_s=350, cpu_us_per_call=6_000, **lag),
        _run("boto3", "ddbscan", 1, calls_per_s=4, cpu_us_per_call=200_000),
        _run(
            "aboto3-native",
            "ddbscan",
            4,
            calls_per_s=20,
            cpu_us_per_call=60_000,
            loop_lag_own_max_ms=30.0,
            parsed_same_as_boto3=False,
            parsed_difference="response['Count']: float 1.0, boto3 has int 1",
        ),
        _run("boto3", "s3get16k", 1, calls_per_s=1000, cpu_us_per_call=900),
        _run("aboto3-native", "s3get16k", 64, calls_per_s=2000, cpu_us_per_call=500),
        _run("obstore", "s3get16k", 64, calls_per_s=8000, cpu_us_per_call=200),
    ]
    entries = report.summarise(runs)
    found = {t["target"]: t for t in report.targets(entries)}

    def target(words: str) -> dict[str, Any]:
        (name,) = [name for name in found if all(w in name for w in words.split("|"))]
        return found[name]

    assert target("Query c=64: calls/s ≥ 3")["met"] is True  # 3.5x aiobotocore
    assert target("Query c=64: CPU")["met"] is False  # 0.6x sync boto3
    assert target("Scan 1 MB c=4: CPU")["met"] is True  # 0.3x
    assert target("ListObjectsV2 c=4: CPU")["met"] is None  # not measured
    query_lag = target("Query c=64: loop lag")
    assert (query_lag["value"], query_lag["met"]) == (4.0, True)
    assert target("Scan 1 MB c=4: loop lag")["met"] is False
    obstore = target("16 KiB|obstore")
    assert obstore["ratio"] == pytest.approx(0.25) and obstore.get("report_only")

    data = {
        "meta": {"loop_lag": True},
        "targets": list(found.values()),
        "cells": entries,
    }
    section = "\n".join(report._big_responses(entries, data["meta"]))
    assert "## Big responses" in section
    assert "| **no** |" in section  # the Scan run parsed differently
    assert f"3.50{report.X}" in section  # native Query against aiobotocore


def test_serialization_share_runs() -> None:
    from .serialization import OURS, PARTS, WHOLES, measure, shares

    best = measure(rounds=1, calls=2)
    assert set(best) == {"PutItem", "BatchWriteItem"}
    for cpu in best.values():
        assert set(cpu) == {*PARTS, *WHOLES, *OURS}
        assert set(OURS.values()) <= set(cpu)  # each of ours has botocore's beside it
        assert all(0 < us < float("inf") for us in cpu.values())
    assert set(shares(best)["PutItem"]) == {(p, w) for p in PARTS for w in WHOLES}


def test_every_contender_serves_the_big_workloads() -> None:
    for key in ("boto3", "floor", "aiobotocore", "aboto3-threads", "aboto3-native"):
        assert set(BIG_CALLS) <= CONTENDERS[key].workloads
    assert boto3_client("s3list", None, 1).meta.service_model.service_name == "s3"
