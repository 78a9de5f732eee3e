"""``close()`` during a read ends the read instead of waiting for it, even when
the server has stalled and there is no read timeout to end it otherwise."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from .conftest import REGION, requires_operation
from .looplag import LoopLag
from .scripted_server import Reply, ScriptedServer, event_message
from .waits import InFlight, wait_until


@pytest.fixture
def stalled() -> Iterator[Callable[[Callable[[Reply], None]], ScriptedServer]]:
    """A server whose script sends a first part, then stalls until the test ends."""
    release = threading.Event()
    servers: list[ScriptedServer] = []

    def start(first_part: Callable[[Reply], None]) -> ScriptedServer:
        def script(reply: Reply) -> None:
            first_part(reply)
            release.wait(30)

        servers.append(ScriptedServer(script))
        return servers[-1]

    yield start
    release.set()
    for server in servers:
        server.close()


def no_read_timeout(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=Config(
            read_timeout=None, retries={"max_attempts": 1}, s3={"addressing_style": "path"}
        ),
    )


async def close_while_reading(
    stream: Any, read: Callable[[], Any], engine_reads: InFlight
) -> asyncio.Task[Any]:
    """Close ``stream`` once ``read()`` waits in the engine (``engine_reads``
    wraps what the engine runs) for bytes that never come."""
    reader = asyncio.ensure_future(read())
    await wait_until(lambda: engine_reads.calls, "the read reaching the engine")
    assert not reader.done()
    async with LoopLag(limit=0.05):
        stream.close()
        # Generous: a read that waited for the server would wait forever.
        await asyncio.wait((reader,), timeout=10)
    assert reader.done(), "close() waited for the read"
    return reader


async def test_close_ends_a_stalled_body_read(
    stalled: Callable[..., ScriptedServer], make_aio: Callable[..., Any]
) -> None:
    def first_part(reply: Reply) -> None:
        # No Content-Length (the body ends when the connection does), so that
        # each read asks for exactly what it reads, not a larger batch.
        reply.start(200, {})
        reply.write(b"x" * 1000)

    server = stalled(first_part)
    async with make_aio(no_read_timeout("s3", server.url)) as aio:
        body = (await aio.get_object(Bucket="bucket", Key="key"))["Body"]
        assert await body.read(1000) == b"x" * 1000
        reads = body.streaming_body.read = InFlight(body.streaming_body.read)
        reader = await close_while_reading(body, body.read, reads)
        # What a read after close gives on boto3: an error, or no more bytes.
        assert reader.exception() is not None or reader.result() == b""
        assert body.closed


async def test_close_ends_a_stalled_whole_read_of_a_sized_body(
    stalled: Callable[..., ScriptedServer], make_aio: Callable[..., Any]
) -> None:
    # With a Content-Length, a whole read waits on the one bytes object the
    # I/O thread fills (on the native engine): close() detaches it and ends the read.
    def first_part(reply: Reply) -> None:
        reply.start(200, {"Content-Length": "4000"})
        reply.write(b"x" * 1000)

    server = stalled(first_part)
    async with make_aio(no_read_timeout("s3", server.url)) as aio:
        body = (await aio.get_object(Bucket="bucket", Key="key"))["Body"]
        reads = body.streaming_body.read = InFlight(body.streaming_body.read)
        reader = await close_while_reading(body, body.read, reads)
        assert reader.exception() is not None or reader.result() == b""
        assert body.closed


@requires_operation("bedrock-runtime", "ConverseStream")
async def test_close_ends_a_stalled_event_stream_read(
    stalled: Callable[..., ScriptedServer], make_aio: Callable[..., Any]
) -> None:
    def first_part(reply: Reply) -> None:
        reply.start(200, {"Content-Type": "application/vnd.amazon.eventstream"}, chunked=True)
        reply.write(event_message("messageStart", b'{"role": "assistant"}'))

    server = stalled(first_part)
    async with make_aio(no_read_timeout("bedrock-runtime", server.url)) as aio:
        result = await aio.converse_stream(
            modelId="m", messages=[{"role": "user", "content": [{"text": "Hi"}]}]
        )
        stream = result["stream"]
        assert await stream.__anext__() == {"messageStart": {"role": "assistant"}}
        reads = InFlight(stream._events.__next__)  # what the engine runs for each event
        stream._events = iter(reads, object())
        await close_while_reading(stream, stream.__anext__, reads)
        assert stream.closed
