"""Checks the C++ stub endpoint with real boto3 clients and raw sockets.

Run with ``pytest benchmarks/stub/test_stub_server.py``.  Set
``STUB_SERVER_BINARY`` to test a prebuilt (e.g. sanitizer) binary.
"""

from __future__ import annotations

import io
import json
import resource
import selectors
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from .launcher import StubServer

MIB = 1024 * 1024


def pattern(offset: int, length: int) -> bytes:
    """The bytes the stub serves for an object slice: byte i is ``i & 0xff``."""
    block = bytes(range(256)) * ((length + offset % 256) // 256 + 2)
    start = offset % 256
    return block[start : start + length]


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


def make_client(service: str, server: StubServer, **config: Any) -> Any:
    if service == "s3":
        config.setdefault("s3", {"addressing_style": "path"})
    return boto3.session.Session().client(
        service,
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config),
    )


# -- raw HTTP helpers --------------------------------------------------------


class RawResponse:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def read_response(reader: io.BufferedReader, *, head: bool = False) -> RawResponse:
    status_line = reader.readline()
    assert status_line.startswith(b"HTTP/1.1 "), status_line
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while True:
        line = reader.readline()
        assert line.endswith(b"\r\n"), line
        if line == b"\r\n":
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    length = 0 if head or status == 100 else int(headers["content-length"])
    body = reader.read(length) if length else b""
    assert len(body) == length
    return RawResponse(status, headers, body)


def raw_connect(server: StubServer) -> tuple[socket.socket, io.BufferedReader]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock, sock.makefile("rb")


def raise_nofile(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


# -- JSON protocol: SSM ------------------------------------------------------


def test_ssm_get_parameter(stub: StubServer) -> None:
    ssm = make_client("ssm", stub)
    resp = ssm.get_parameter(Name="/bench/some-param")
    param = resp["Parameter"]
    assert param["Name"] == "/bench/some-param"
    assert param["Value"] == "stub-value"
    assert param["Type"] == "String"
    assert param["Version"] == 1
    assert param["ARN"] == "arn:aws:ssm:us-east-1:123456789012:parameter/bench/some-param"
    assert param["LastModifiedDate"].year == 2023
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["RequestId"]


def test_ssm_describe_parameters_paginator(stub: StubServer) -> None:
    ssm = make_client("ssm", stub)
    paginator = ssm.get_paginator("describe_parameters")

    pages = list(paginator.paginate())
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert names == [f"/stub/p{i:03d}" for i in range(100)]
    assert len(pages) == 10  # default MaxResults is 10
    assert "NextToken" not in pages[-1]

    for page_size, expected_pages in ((25, 4), (50, 2), (7, 15)):
        pages = list(paginator.paginate(PaginationConfig={"PageSize": page_size}))
        assert len(pages) == expected_pages
        assert [len(p["Parameters"]) for p in pages[:-1]] == [page_size] * (expected_pages - 1)
        names = [p["Name"] for page in pages for p in page["Parameters"]]
        assert names == [f"/stub/p{i:03d}" for i in range(100)]

    # MaxResults above the service maximum is clamped to 50.
    assert len(ssm.describe_parameters(MaxResults=200)["Parameters"]) == 50
    page = ssm.describe_parameters(MaxResults=10, NextToken="t95")
    assert [p["Name"] for p in page["Parameters"]] == [f"/stub/p{i:03d}" for i in range(95, 100)]
    assert "NextToken" not in page


def test_unknown_target_is_client_error(stub: StubServer) -> None:
    ssm = make_client("ssm", stub, retries={"max_attempts": 1})
    with pytest.raises(ClientError) as info:
        ssm.get_parameters(Names=["/a"])
    assert info.value.response["Error"]["Code"] == "UnknownOperationException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# -- JSON protocol: DynamoDB -------------------------------------------------


def test_dynamodb_get_item(stub: StubServer) -> None:
    ddb = make_client("dynamodb", stub, retries={"max_attempts": 1})
    resp = ddb.get_item(TableName="bench", Key={"pk": {"S": "user#42"}})
    assert resp["Item"] == {
        "pk": {"S": "user#42"},
        "payload": {"S": "stub-payload"},
        "n": {"N": "42"},
    }
    # The table resource API goes through the same call.
    table = (
        boto3.session.Session()
        .resource(
            "dynamodb",
            endpoint_url=stub.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        .Table("bench")
    )
    assert table.get_item(Key={"pk": "x"})["Item"]["n"] == 42


def test_dynamodb_crc32_header_matches_body(stub: StubServer) -> None:
    body = b'{"TableName":"t","Key":{"pk":{"S":"abc"}}}'
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n"
            b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        resp = read_response(reader)
    assert resp.status == 200
    assert resp.headers["content-type"] == "application/x-amz-json-1.0"
    assert int(resp.headers["x-amz-crc32"]) == zlib.crc32(resp.body)
    assert json.loads(resp.body)["Item"]["pk"] == {"S": "abc"}
    assert resp.headers["x-amzn-requestid"]


# -- S3 ----------------------------------------------------------------------


def test_s3_get_object_sizes(stub: StubServer) -> None:
    s3 = make_client("s3", stub)
    resp = s3.get_object(Bucket="bench", Key="obj-1048576")
    data = resp["Body"].read()
    assert len(data) == MIB
    assert data == pattern(0, MIB)
    assert resp["ContentLength"] == MIB
    assert resp["ContentType"] == "binary/octet-stream"
    assert len(resp["ETag"].strip('"')) == 32

    small = s3.get_object(Bucket="bench", Key="small")["Body"].read()
    assert small == pattern(0, 1024)
    assert s3.get_object(Bucket="bench", Key="dir/obj-0")["Body"].read() == b""
    assert len(s3.get_object(Bucket="bench", Key="a/b/c-5000")["Body"].read()) == 5000


def test_s3_ranges_and_download(stub: StubServer, tmp_path: Any) -> None:
    s3 = make_client("s3", stub)
    resp = s3.get_object(Bucket="bench", Key="obj-4096", Range="bytes=1000-1999")
    assert resp["ContentRange"] == "bytes 1000-1999/4096"
    assert resp["Body"].read() == pattern(1000, 1000)
    assert s3.get_object(Bucket="b", Key="obj-4096", Range="bytes=-10")["Body"].read() == (
        pattern(4086, 10)
    )
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket="b", Key="obj-10", Range="bytes=10-")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416

    # s3transfer: HEAD then parallel ranged GETs for a multi-part download.
    size = 20 * MIB + 123
    target = tmp_path / "download.bin"
    s3.download_file("bench", f"big-{size}", str(target))
    assert target.read_bytes() == pattern(0, size)


def test_s3_head_object(stub: StubServer) -> None:
    s3 = make_client("s3", stub)
    resp = s3.head_object(Bucket="bench", Key="obj-1048576")
    assert resp["ContentLength"] == MIB
    assert resp["AcceptRanges"] == "bytes"
    assert resp["LastModified"].year == 2025
    assert len(resp["ETag"].strip('"')) == 32
    assert s3.head_object(Bucket="bench", Key="small")["ContentLength"] == 1024


def test_s3_put_object(stub: StubServer, tmp_path: Any) -> None:
    s3 = make_client("s3", stub)
    payload = bytes(range(256)) * (2 * MIB // 256)
    resp = s3.put_object(Bucket="bench", Key="put-bytes", Body=payload)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert len(resp["ETag"].strip('"')) == 32

    # File-like bodies make botocore send "Expect: 100-continue".
    resp = s3.put_object(Bucket="bench", Key="put-stream", Body=io.BytesIO(payload))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200

    path = tmp_path / "upload.bin"
    path.write_bytes(payload)
    with path.open("rb") as fh:
        resp = s3.put_object(Bucket="bench", Key="put-file", Body=fh)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200

    assert s3.put_object(Bucket="bench", Key="empty", Body=b"")["ETag"]
    # The connection is still usable afterwards.
    assert len(s3.get_object(Bucket="bench", Key="small")["Body"].read()) == 1024


def test_s3_unknown_is_no_such_key(stub: StubServer) -> None:
    s3 = make_client("s3", stub, retries={"max_attempts": 1})
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket="bench")
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    with pytest.raises(ClientError) as info:
        s3.delete_object(Bucket="bench", Key="k")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- raw HTTP behaviour ------------------------------------------------------


def test_pipelined_and_fragmented_requests(stub: StubServer) -> None:
    chunked_put = (
        b"PUT /bench/chunky HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Encoding: aws-chunked\r\n\r\n"
        b"5;chunk-signature=abc\r\nhello\r\n"
        b"A\r\n0123456789\r\n"
        b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    )
    json_post = b'{"Name": "/pipe/1"}'
    requests = [
        b"GET /bench/obj-10 HTTP/1.1\r\nHost: x\r\n\r\n",
        chunked_put,
        b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: AmazonSSM.GetParameter\r\n"
        b"content-length: " + str(len(json_post)).encode() + b"\r\n\r\n" + json_post,
        b"HEAD /bench/obj-77 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /__stats HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    stream = b"".join(requests)

    def check(reader: io.BufferedReader) -> None:
        r = read_response(reader)
        assert (r.status, r.body) == (200, pattern(0, 10))
        r = read_response(reader)
        assert (r.status, r.body, r.headers["content-length"]) == (200, b"", "0")
        r = read_response(reader)
        assert json.loads(r.body)["Parameter"]["Name"] == "/pipe/1"
        r = read_response(reader, head=True)
        assert (r.status, r.headers["content-length"]) == (200, "77")
        r = read_response(reader)
        assert json.loads(r.body)["requests"] > 0

    # Everything in one write (pipelining) ...
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.sendall(stream)
        check(reader)
    # ... and one byte at a time (partial reads everywhere).
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(stream)):
            sock.send(stream[i : i + 1])
        check(reader)


def test_expect_100_continue(stub: StubServer) -> None:
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.sendall(
            b"PUT /bench/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = read_response(reader)
        assert interim.status == 100
        sock.sendall(b"hello")
        assert read_response(reader).status == 200
        # Chunked body with Expect as well.
        sock.sendall(
            b"PUT /bench/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert read_response(reader).status == 100
        sock.sendall(b"3\r\nabc\r\n0\r\n\r\n")
        assert read_response(reader).status == 200


def test_connection_close_and_http10(stub: StubServer) -> None:
    for request in (
        b"GET /bench/small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /bench/small HTTP/1.0\r\n\r\n",
    ):
        sock, reader = raw_connect(stub)
        with sock, reader:
            sock.sendall(request)
            resp = read_response(reader)
            assert resp.status == 200
            assert resp.headers["connection"] == "close"
            assert reader.read() == b""  # server closed the connection


def test_bad_request(stub: StubServer) -> None:
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.sendall(b"GET /x HTTP/1.1\r\nbroken header line\r\n\r\n")
        assert read_response(reader).status == 400
        assert reader.read() == b""
    sock, reader = raw_connect(stub)
    with sock, reader:
        sock.sendall(b"PUT /b/k HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        assert read_response(reader).status == 400


def test_stats_counts_requests(stub: StubServer) -> None:
    before = stub.stats()
    s3 = make_client("s3", stub)
    for _ in range(5):
        s3.head_object(Bucket="b", Key="small")
    after = stub.stats()
    assert after["requests"] - before["requests"] == 6  # 5 HEADs + this stats call
    assert after["connections"] >= 1
    assert after["cpu_user_s"] >= 0.0 and after["cpu_sys_s"] >= 0.0
    assert after["cpu_user_s"] + after["cpu_sys_s"] >= before["cpu_user_s"] + before["cpu_sys_s"]


# -- concurrency -------------------------------------------------------------


def test_latency_uses_timers_not_sleep() -> None:
    calls, latency = 50, 0.2
    with StubServer(latency_ms=int(latency * 1000)) as slow:
        ssm = make_client("ssm", slow, max_pool_connections=calls)
        start = time.perf_counter()
        ssm.get_parameter(Name="/warm")
        assert time.perf_counter() - start >= latency  # no answer comes early

        barrier = threading.Barrier(calls)

        def call(i: int) -> float:
            barrier.wait()
            t0 = time.perf_counter()
            resp = ssm.get_parameter(Name=f"/lat/{i}")
            assert resp["Parameter"]["Name"] == f"/lat/{i}"
            return time.perf_counter() - t0

        with ThreadPoolExecutor(calls) as pool:
            start = time.perf_counter()
            durations = list(pool.map(call, range(calls)))
            total = time.perf_counter() - start
    assert min(durations) >= latency
    # Concurrent, not one after the other: that would take 50 x 200 ms = 10 s,
    # twice this bound, where timers take 200 ms and a loaded machine's client
    # threads well under a second more.
    assert total < calls * latency / 2, total


def test_thousands_of_keepalive_connections() -> None:
    # A server of its own: the module's shared one also holds the pooled
    # connections of earlier tests' clients until the garbage collector takes
    # them, which made the count at the end depend on test order and timing.
    with StubServer() as stub:
        keepalive_connections(stub)


def keepalive_connections(stub: StubServer) -> None:
    count = 2000
    raise_nofile(count + 256)
    request = b"GET /bench/small HTTP/1.1\r\nHost: x\r\n\r\n"
    expected_len = 1024
    socks: list[socket.socket] = []
    buffers: dict[int, bytearray] = {}
    done = 0
    sel = selectors.DefaultSelector()
    try:
        for _ in range(count):
            new_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            new_sock.setblocking(False)
            new_sock.connect_ex(("127.0.0.1", stub.port))
            socks.append(new_sock)
            sel.register(new_sock, selectors.EVENT_WRITE)
        deadline = time.monotonic() + 60
        while done < count:
            assert time.monotonic() < deadline, f"only {done}/{count} responses"
            for key, events in sel.select(timeout=1):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                if events & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    assert err == 0, f"connect failed: {err}"
                    s.sendall(request)  # tiny: fits the fresh socket buffer
                    buffers[s.fileno()] = bytearray()
                    sel.modify(s, selectors.EVENT_READ)
                    continue
                chunk = s.recv(65536)
                assert chunk, "server closed a keep-alive connection"
                buf = buffers[s.fileno()]
                buf += chunk
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0 and len(buf) >= head_end + 4 + expected_len:
                    assert buf.startswith(b"HTTP/1.1 200 OK\r\n")
                    assert len(buf) == head_end + 4 + expected_len
                    sel.unregister(s)
                    done += 1
        # All of them are still open on the server side.
        assert stub.stats()["connections"] >= count
    finally:
        sel.close()
        for s in socks:
            s.close()
    deadline = time.monotonic() + 30  # a hang guard
    while stub.stats()["connections"] > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    # This stats request's connection, and perhaps the last one's, not yet seen closed.
    assert stub.stats()["connections"] <= 2


def test_multiple_threads() -> None:
    with StubServer(threads=2) as server:
        ssm = make_client("ssm", server, max_pool_connections=8)
        with ThreadPoolExecutor(8) as pool:
            names = list(
                pool.map(
                    lambda i: ssm.get_parameter(Name=f"/t/{i}")["Parameter"]["Name"], range(64)
                )
            )
        assert names == [f"/t/{i}" for i in range(64)]
        assert server.stats()["requests"] >= 64


def test_clean_exit_on_sigterm() -> None:
    server = StubServer().start()
    sock, reader = raw_connect(server)  # an open connection must not block exit
    with sock, reader:
        sock.sendall(b"GET /b/small HTTP/1.1\r\nHost: x\r\n\r\n")
        read_response(reader)
        server.stop()
    assert server.returncode == 0
