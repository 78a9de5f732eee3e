"""Streaming request bodies: a file body is sent in chunks as libcurl asks for
them, never read whole, and still means the same to botocore and the server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.server
import io
import os
import re
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

import aboto3

from .conftest import REGION, serving
from .rss import peak_rss_growth


class SinkHandler(http.server.BaseHTTPRequestHandler):
    """Reads each request body in small pieces, keeps only its MD5 and length,
    and answers as S3 answers a PutObject or UploadPart: an ETag, no body."""

    protocol_version = "HTTP/1.1"  # keep-alive, and 100 Continue for an Expect header
    server: SinkServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle_expect_100(self) -> bool:
        status = self.server.expect_answer
        if status == 100:
            return super().handle_expect_100()
        self._answer(status, b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>")
        self.server.bodies.append(self._leftover())  # what came after the refusal
        return False

    def _leftover(self) -> int:
        # Whatever a client sends although it was refused (it should send nothing).
        self.connection.settimeout(0.5)
        try:
            return len(self.connection.recv(1 << 16))
        except OSError:
            return 0

    def _answer(self, status: int, body: bytes = b"", etag: str = "") -> None:
        self.send_response(status)
        if etag:
            self.send_header("ETag", f'"{etag}"')
        self.send_header("Content-Length", str(len(body)))
        if status >= 400:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:
        digest = hashlib.md5()
        size = 0
        remaining = int(self.headers.get("Content-Length", "0"))
        while remaining:
            piece = self.rfile.read(min(remaining, 1 << 20))
            if not piece:
                break
            digest.update(piece)
            size += len(piece)
            remaining -= len(piece)
        self.server.bodies.append(size)
        failures = self.server.fail_first
        if failures:
            self.server.fail_first -= 1
            self._answer(500, b"<Error><Code>InternalError</Code><Message>x</Message></Error>")
        else:
            self._answer(200, etag=digest.hexdigest())


class SinkServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SinkHandler)
        self.bodies: list[int] = []  # the body size of each request, in order
        self.fail_first = 0  # answer this many requests with a 500 first
        self.expect_answer = 100  # how to answer Expect: 100-continue

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def sink() -> Iterator[SinkServer]:
    with serving(SinkServer()) as server:
        yield server


def s3_client(url: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def write_file(path: Path, size: int) -> str:
    """A file of ``size`` bytes on disk (not sparse); returns its MD5."""
    digest = hashlib.md5()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for offset in range(0, size, len(block)):
            piece = block[: size - offset]
            f.write(piece)
            digest.update(piece)
    return digest.hexdigest()


GiB = 1 << 30


async def test_a_1_gib_file_is_streamed_with_bounded_memory(
    sink: SinkServer, tmp_path: Path
) -> None:
    # The sink (a thread of this process) keeps nothing of the body, so the
    # peak is the client's: botocore's hashing reads, the engine's window.
    path = tmp_path / "1gib.bin"
    md5 = write_file(path, GiB)
    try:
        async with aboto3.AIOClient(s3_client(sink.url), engine="native") as aio:
            with open(path, "rb") as body, peak_rss_growth() as growth:
                put = await aio.put_object(Bucket="bucket", Key="big", Body=body)
                put_growth = growth()
            with open(path, "rb") as body, peak_rss_growth() as growth:
                part = await aio.upload_part(
                    Bucket="bucket", Key="big", UploadId="upload", PartNumber=1, Body=body
                )
                part_growth = growth()
    finally:
        path.unlink()
    assert put["ETag"] == part["ETag"] == f'"{md5}"'  # every byte arrived, in order
    assert sink.bodies == [GiB, GiB]
    assert put_growth <= 32 << 20, f"put_object grew peak RSS by {put_growth >> 20} MiB"
    assert part_growth <= 32 << 20, f"upload_part grew peak RSS by {part_growth >> 20} MiB"


async def test_a_seekable_body_is_sent_again_whole_on_retry(
    sink: SinkServer, tmp_path: Path
) -> None:
    path = tmp_path / "body.bin"
    md5 = write_file(path, 3 << 20)  # over the size read whole
    outcomes = []
    for engine in (None, "native"):
        sink.fail_first = 1
        client = s3_client(sink.url, retries={"mode": "standard", "max_attempts": 3})
        with open(path, "rb") as body:
            if engine is None:
                outcomes.append(client.put_object(Bucket="b", Key="k", Body=body))
            else:
                async with aboto3.AIOClient(client, engine=engine) as aio:
                    outcomes.append(await aio.put_object(Bucket="b", Key="k", Body=body))
    sync, native = outcomes
    assert native["ETag"] == sync["ETag"] == f'"{md5}"'
    assert native["ResponseMetadata"]["RetryAttempts"] == sync["ResponseMetadata"]["RetryAttempts"]
    assert sink.bodies == [3 << 20] * 4


async def test_100_continue_refused_sends_no_body(sink: SinkServer, tmp_path: Path) -> None:
    # botocore asks for 100-continue on S3 uploads of file bodies; a server
    # that refuses gets no body, and the file is not read past botocore's hashing.
    path = tmp_path / "body.bin"
    write_file(path, 3 << 20)
    sink.expect_answer = 403
    errors = []
    for engine in (None, "native"):
        with open(path, "rb") as body:
            client = s3_client(sink.url, retries={"max_attempts": 1})
            with pytest.raises(Exception) as caught:
                if engine is None:
                    client.put_object(Bucket="b", Key="k", Body=body)
                else:
                    async with aboto3.AIOClient(client, engine=engine) as aio:
                        await aio.put_object(Bucket="b", Key="k", Body=body)
            errors.append((type(caught.value), str(caught.value)))
    assert errors[1] == errors[0]
    # The handler records what followed the refusal after its answer has gone out.
    deadline = time.monotonic() + 30  # a hang guard
    while len(sink.bodies) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert sink.bodies == [0, 0]  # neither client sent a byte of the body


@pytest.mark.parametrize("kind", ["generator", "pipe", "bytesio"])
async def test_non_file_bodies_behave_as_on_sync_boto3(
    kind: str, make_client: Callable[..., Any]
) -> None:
    data = os.urandom((2 << 20) + 123)

    def body() -> Any:
        if kind == "bytesio":
            return io.BytesIO(data)
        if kind == "generator":
            return (data[i : i + 100_000] for i in range(0, len(data), 100_000))
        read, write = os.pipe()

        def writer() -> None:
            with contextlib.suppress(BrokenPipeError), os.fdopen(write, "wb") as w:
                w.write(data)  # botocore may refuse the pipe and close it unread

        threading.Thread(target=writer, daemon=True).start()
        return os.fdopen(read, "rb")

    def failure(error: Exception) -> Any:
        return type(error), re.sub(r"0x[0-9a-f]+", "0x", str(error))  # a generator's address

    def outcome(call: Callable[[], Any]) -> Any:
        try:
            call()
        except Exception as error:
            return failure(error)
        return "ok"

    client = make_client("s3")
    client.create_bucket(Bucket="bucket")
    expected = outcome(lambda: client.put_object(Bucket="bucket", Key="sync", Body=body()))
    got: Any
    async with aboto3.AIOClient(make_client("s3"), engine="native") as aio:
        try:
            await aio.put_object(Bucket="bucket", Key="native", Body=body())
            got = "ok"
        except Exception as error:
            got = failure(error)
        assert got == expected
        if got == "ok":
            stored = await aio.get_object(Bucket="bucket", Key="native")
            assert await stored["Body"].read() == data
