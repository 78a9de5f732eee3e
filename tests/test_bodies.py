"""Streaming bodies read through the engine equal boto3's, byte for byte."""

from __future__ import annotations

import asyncio
import base64
import io
import random
import threading
import zlib
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.httpchecksum import StreamingChecksumBody

import aboto3

from .conftest import REGION, comparable
from .scripted_server import Reply, ScriptedServer
from .waits import InFlight, wait_until

BIG = 9 * 1024 * 1024 + 12345  # more than 8 MiB, and not a multiple of any chunk size


def random_bytes(size: int, seed: int = 3) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture
def s3_pair(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> tuple[Any, aboto3.AIOClient[Any]]:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="bodies")
    return s3, make_aio(s3)


async def test_big_body_read_all(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    data = random_bytes(BIG)
    s3.put_object(Bucket="bodies", Key="big", Body=data)
    expected = s3.get_object(Bucket="bodies", Key="big")
    result = await aio.get_object(Bucket="bodies", Key="big")
    body = result["Body"]
    assert isinstance(body, aboto3.AIOStreamingBody)
    assert {k: v for k, v in comparable(result).items() if k != "Body"} == {
        k: v for k, v in comparable(expected).items() if k != "Body"
    }
    async with body:
        got = await body.read()
        assert await body.read() == b""
        assert await body.read(10) == b""
    assert body.closed
    assert got == expected["Body"].read() == data
    assert body.tell() == len(data)


async def test_big_body_in_reads_of_any_size(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    data = random_bytes(BIG, seed=4)
    s3.put_object(Bucket="bodies", Key="big", Body=data)
    sync_body = s3.get_object(Bucket="bodies", Key="big")["Body"]
    body = (await aio.get_object(Bucket="bodies", Key="big"))["Body"]
    sizes = [1, 10, 1000, 65536, 131071, 131072, 131073, 3 * 1024 * 1024, 7]
    sync_pieces, aio_pieces = [], []
    for i in range(200):
        size = sizes[i % len(sizes)]
        sync_pieces.append(sync_body.read(size))
        aio_pieces.append(await body.read(size))
        if not sync_pieces[-1]:
            break
    assert aio_pieces == sync_pieces
    assert b"".join(aio_pieces) == data
    assert [len(piece) for piece in aio_pieces[:-2]] == [
        sizes[i % len(sizes)] for i in range(len(aio_pieces) - 2)
    ]
    rest = bytearray(10)
    assert await body.readinto(rest) == 0


@pytest.mark.parametrize("chunk_size", [None, 1000, 65536, 1 << 20])
async def test_iter_chunks_like_boto3(s3_pair: tuple[Any, Any], chunk_size: int | None) -> None:
    s3, aio = s3_pair
    data = random_bytes(BIG if chunk_size == 65536 else 1_500_001, seed=5)
    s3.put_object(Bucket="bodies", Key="chunks", Body=data)
    sync_body = s3.get_object(Bucket="bodies", Key="chunks")["Body"]
    body = (await aio.get_object(Bucket="bodies", Key="chunks"))["Body"]
    if chunk_size is None:  # plain iteration: 1 KiB chunks, as boto3's body
        expected = list(sync_body)
        got = [chunk async for chunk in body]
    else:
        expected = list(sync_body.iter_chunks(chunk_size))
        got = [chunk async for chunk in body.iter_chunks(chunk_size)]
    assert len(got) == len(expected) > 1
    assert got == expected
    assert b"".join(got) == data


@pytest.mark.parametrize("keepends", [False, True])
@pytest.mark.parametrize("chunk_size", [3, 1024, 1 << 20])
async def test_iter_lines_like_boto3(
    s3_pair: tuple[Any, Any], chunk_size: int, keepends: bool
) -> None:
    s3, aio = s3_pair
    rng = random.Random(chunk_size)
    ends = [b"\n", b"\r\n", b"\r", b"\n\n", b""]
    text = b"".join(
        b"line %d " % i + b"x" * rng.randrange(0, 40) + rng.choice(ends) for i in range(2000)
    )
    s3.put_object(Bucket="bodies", Key="lines.txt", Body=text)
    sync_body = s3.get_object(Bucket="bodies", Key="lines.txt")["Body"]
    body = (await aio.get_object(Bucket="bodies", Key="lines.txt"))["Body"]
    expected = list(sync_body.iter_lines(chunk_size, keepends))
    got = [line async for line in body.iter_lines(chunk_size, keepends)]
    assert len(got) > 2000
    assert got == expected

    body = (await aio.get_object(Bucket="bodies", Key="lines.txt"))["Body"]
    # boto3's readlines is urllib3's, which is IOBase's: lines split at b"\n" only.
    assert await body.readlines() == io.BytesIO(text).readlines()


async def test_checksum_validated_as_in_boto3(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    data = random_bytes(200_000, seed=6)
    s3.put_object(Bucket="bodies", Key="summed", Body=data, ChecksumAlgorithm="SHA256")
    expected = s3.get_object(Bucket="bodies", Key="summed", ChecksumMode="ENABLED")
    result = await aio.get_object(Bucket="bodies", Key="summed", ChecksumMode="ENABLED")
    assert isinstance(result["Body"].streaming_body, StreamingChecksumBody)
    assert result["ChecksumSHA256"] == expected["ChecksumSHA256"]
    assert [c async for c in result["Body"].iter_chunks(4096)] == list(
        expected["Body"].iter_chunks(4096)
    )


# Bodies that moto serves whole and well; these come from a scripted endpoint.


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.fixture
def make_aio_for(make_aio: Callable[..., Any]) -> Callable[[str], tuple[Any, Any]]:
    def make(url: str) -> tuple[Any, Any]:
        client = s3_client(url)
        return client, make_aio(client)

    return make


async def test_bad_checksum_raises_like_boto3(make_aio_for: Callable[[str], Any]) -> None:
    data = random_bytes(50_000, seed=7)
    wrong = base64.b64encode((zlib.crc32(data) ^ 1).to_bytes(4, "big")).decode()

    def answer(reply: Reply) -> None:
        reply.start(200, {"Content-Length": str(len(data)), "x-amz-checksum-crc32": wrong})
        reply.write(data)

    with ScriptedServer(answer) as server:
        s3, aio = make_aio_for(server.url)
        with pytest.raises(Exception) as sync_error:
            s3.get_object(Bucket="b", Key="k", ChecksumMode="ENABLED")["Body"].read()
        body = (await aio.get_object(Bucket="b", Key="k", ChecksumMode="ENABLED"))["Body"]
        with pytest.raises(type(sync_error.value)) as aio_error:
            async for _ in body.iter_chunks(8192):
                pass
        assert str(aio_error.value) == str(sync_error.value)
        assert "checksum" in str(aio_error.value)


async def whole_read_fails_like_boto3(
    make_aio_for: Callable[[str], Any], answer: Callable[[Reply], None]
) -> None:
    """read() of the body ``answer`` sends fails with boto3's error and message."""
    with ScriptedServer(answer) as server:
        s3, aio = make_aio_for(server.url)
        with pytest.raises(Exception) as sync_error:
            s3.get_object(Bucket="b", Key="k")["Body"].read()
        body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
        with pytest.raises(type(sync_error.value)) as aio_error:
            await body.read()
        assert str(aio_error.value) == str(sync_error.value)


async def test_truncated_body_raises_like_boto3(make_aio_for: Callable[[str], Any]) -> None:
    data = random_bytes(100_000, seed=8)

    def answer(reply: Reply) -> None:
        reply.start(200, {"Content-Length": str(len(data))})
        reply.write(data[:60_000])  # then hang up

    await whole_read_fails_like_boto3(make_aio_for, answer)


@pytest.mark.parametrize("spelling", ["chunked", "Chunked"])
async def test_chunked_body_longer_than_its_content_length_like_boto3(
    make_aio_for: Callable[[str], Any], spelling: str
) -> None:
    # Chunked encoding decides where the body ends, whatever Content-Length
    # says (and however "chunked" is spelt); botocore's own length check then
    # sees the difference.
    data = random_bytes(300_000, seed=10)

    def answer(reply: Reply) -> None:
        reply.start(200, {"Content-Length": "100000", "Transfer-Encoding": spelling})
        for start in range(0, len(data), 50_000):
            piece = data[start : start + 50_000]
            reply.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        reply.write(b"0\r\n\r\n")

    await whole_read_fails_like_boto3(make_aio_for, answer)


class Stalled:
    """A body sent in two halves, the second only once ``go`` is set (or a
    minute has passed: ``released`` then says it never was)."""

    def __init__(self, size: int, with_length: bool) -> None:
        self.data = random_bytes(size, seed=9)
        self.half = size // 2
        self.go = threading.Event()
        self.released: bool | None = None
        self.with_length = with_length

    def __call__(self, reply: Reply) -> None:
        # Without a Content-Length the body ends when the connection closes.
        reply.start(200, {"Content-Length": str(len(self.data))} if self.with_length else {})
        reply.write(self.data[: self.half])
        self.released = self.go.wait(60)
        reply.write(self.data[self.half :])


@pytest.fixture(params=["content-length", "unknown-length"])
def stalled(
    make_aio_for: Callable[[str], Any], request: pytest.FixtureRequest
) -> Iterator[tuple[Stalled, Any]]:
    script = Stalled(400_000, with_length=request.param == "content-length")
    with ScriptedServer(script) as server:
        yield script, make_aio_for(server.url)[1]
        script.go.set()


async def test_cancelled_read_loses_no_data(stalled: tuple[Stalled, Any]) -> None:
    script, aio = stalled
    body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
    first = await body.read(1000)
    assert first == script.data[:1000]
    reads = body.streaming_body.read = InFlight(body.streaming_body.read)
    read = asyncio.ensure_future(body.read(len(script.data)))  # needs the second half
    await wait_until(lambda: reads.calls, "the read waiting in the engine")
    assert not read.done()
    read.cancel()
    with pytest.raises(asyncio.CancelledError):
        await read
    script.go.set()
    rest = await body.read()
    assert first + rest == script.data


async def test_unknown_length_read_returns_what_has_come(stalled: tuple[Stalled, Any]) -> None:
    script, aio = stalled
    if script.with_length:
        pytest.skip("reads of a body of known length are batched")
    body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
    # Every byte asked for has arrived: no read may wait for the second half,
    # which comes only after a minute (the wait_for is a hang guard).
    pieces = [await asyncio.wait_for(body.read(10_000), 30) for _ in range(script.half // 10_000)]
    assert b"".join(pieces) == script.data[: script.half]
    script.go.set()
    assert await body.read() == script.data[script.half :]


async def test_reading_never_blocks_the_loop(stalled: tuple[Stalled, Any]) -> None:
    script, aio = stalled
    body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
    reads = InFlight(body.streaming_body.read)  # the reads the engine runs
    body.streaming_body.read = reads

    def waiting_for_the_second_half() -> bool:
        got = sum(map(len, reads.returned))
        return any(not a or a[0] is None or got + a[0] > script.half for a in reads.calls.values())

    async def read_all() -> list[bytes]:
        return [chunk async for chunk in body.iter_chunks(10_000)]

    reading = asyncio.ensure_future(read_all())
    # This task sends the second half once a read waits for it: were the loop
    # blocked by that read, this task could not run until the server gave up.
    await wait_until(waiting_for_the_second_half, "a read waiting for the second half")
    script.go.set()
    assert b"".join(await reading) == script.data
    assert script.released, "the read blocked the loop until the server gave up"


async def test_close_while_reading(stalled: tuple[Stalled, Any]) -> None:
    script, aio = stalled
    body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
    await body.read(script.half)
    read = asyncio.ensure_future(body.read(10))
    await asyncio.sleep(0.05)
    read.cancel()
    body.close()  # must not wait for the read in flight
    assert body.closed
    script.go.set()
    await asyncio.sleep(0.05)


async def test_sync_reads_refused_unknown_names_like_boto3(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    s3.put_object(Bucket="bodies", Key="k", Body=b"abc\ndef\n")
    sync_body = s3.get_object(Bucket="bodies", Key="k")["Body"]
    body = (await aio.get_object(Bucket="bodies", Key="k"))["Body"]
    # A sync read would bypass the body's buffer: refused, with its async twin named.
    with pytest.raises(AttributeError, match=r"'next'; use .*async for chunk in body"):
        body.next()
    with pytest.raises(TypeError):
        iter(body)
    # An unknown name: boto3's AttributeError, naming aboto3's class instead.
    with pytest.raises(AttributeError) as sync_error:
        sync_body.no_such_attribute  # noqa: B018
    with pytest.raises(AttributeError) as error:
        body.no_such_attribute  # noqa: B018
    owner = type(sync_body).__name__
    assert str(error.value) == str(sync_error.value).replace(owner, "AIOStreamingBody")
    assert str(error.value) == "'AIOStreamingBody' object has no attribute 'no_such_attribute'"
    # No-I/O methods pass through as they are.
    assert body.readable() is sync_body.readable() is True
    assert await body.readline() == sync_body.readline() == b"abc\n"
    assert await body.read() == sync_body.read() == b"def\n"
    sync_body.close()


@pytest.mark.parametrize("size", [None, 1, 7, 4096])
async def test_readline_like_boto3(s3_pair: tuple[Any, Any], size: int | None) -> None:
    s3, aio = s3_pair
    rng = random.Random(5)
    # Lines short and long (past the 128 KiB batch), empty ones, no final newline.
    text = b"".join(b"x" * rng.choice([0, 1, 80, 200_000]) + b"\n" for _ in range(40)) + b"tail"
    s3.put_object(Bucket="bodies", Key="lines", Body=text)
    sync_body = s3.get_object(Bucket="bodies", Key="lines")["Body"]
    expected = []
    while line := sync_body.readline(-1 if size is None else size):
        expected.append(line)
    body = (await aio.get_object(Bucket="bodies", Key="lines"))["Body"]
    got = []
    while line := await body.readline(size):
        got.append(line)
    assert got == expected
    assert b"".join(got) == text
    assert body.tell() == len(text)


async def test_passed_through_method_runs_on_the_engine(s3_pair: tuple[Any, Any]) -> None:
    # A method of botocore's body that aboto3 does not know (as a newer botocore
    # may add) may do I/O: it is awaited, and runs off the event loop.
    s3, aio = s3_pair
    s3.put_object(Bucket="bodies", Key="k", Body=b"data")
    body = (await aio.get_object(Bucket="bodies", Key="k"))["Body"]
    loop_thread = threading.get_ident()
    seen: list[bool] = []

    def new_method(value: int) -> int:
        from aboto3._suspend import in_engine_greenlet

        seen.append(threading.get_ident() != loop_thread or in_engine_greenlet())
        return value * 2

    body.streaming_body.new_method = new_method
    assert await body.new_method(21) == 42
    assert seen == [True]
    await body.aclose()


async def test_aclose(s3_pair: tuple[Any, Any]) -> None:
    s3, aio = s3_pair
    s3.put_object(Bucket="bodies", Key="k", Body=random_bytes(BIG))
    body = (await aio.get_object(Bucket="bodies", Key="k"))["Body"]
    assert await body.read(10) == random_bytes(BIG)[:10]
    await body.aclose()  # as aiobotocore's bodies
    assert body.closed
    assert body.streaming_body._raw_stream.closed
    await body.aclose()  # closing twice is fine, as close() is
