"""Event streams read through the engine equal boto3's, event by event.

S3 SelectObjectContent is served by moto; the streams of other services come
from a scripted endpoint that sends real event-stream frames.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.eventstream import NoInitialResponseError
from botocore.exceptions import EventStreamError

import aboto3

from .conftest import REGION, comparable, requires_operation
from .scripted_server import Reply, ScriptedServer, event_frame, event_message
from .waits import InFlight, wait_until

EVENTSTREAM = {"Content-Type": "application/vnd.amazon.eventstream"}


def without(result: dict[str, Any], member: str) -> Any:
    return comparable({k: v for k, v in result.items() if k != member})


# S3 Select, over moto.

CSV = b"name,colour,size\n" + b"".join(
    b"item%d,%s,%d\n" % (i, (b"red", b"green", b"blue")[i % 3], i * 7) for i in range(500)
)


@pytest.mark.parametrize(
    "output", [{"CSV": {}}, {"JSON": {"RecordDelimiter": "\n"}}], ids=["csv", "json"]
)
async def test_s3_select_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any], output: dict[str, Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    s3.create_bucket(Bucket="select")
    s3.put_object(Bucket="select", Key="data.csv", Body=CSV)
    request = {
        "Bucket": "select",
        "Key": "data.csv",
        "ExpressionType": "SQL",
        "Expression": "SELECT * FROM S3Object s",
        "InputSerialization": {"CSV": {"FileHeaderInfo": "USE"}},
        "OutputSerialization": output,
    }
    expected = s3.select_object_content(**request)
    result = await aio.select_object_content(**request)
    stream = result["Payload"]
    assert isinstance(stream, aboto3.AIOEventStream)
    assert without(result, "Payload") == without(expected, "Payload")
    events = [event async for event in stream]
    assert events == list(expected["Payload"])
    assert [next(iter(event)) for event in events][-1] == "End"
    assert b"item499" in b"".join(e["Records"]["Payload"] for e in events if "Records" in e)
    # like boto3's, an exhausted stream stays exhausted
    assert [event async for event in stream] == []
    stream.close()


# Streams that moto does not serve: a scripted endpoint.


def converse_frames() -> list[bytes]:
    def event(event_type: str, body: dict[str, Any]) -> bytes:
        return event_message(event_type, json.dumps(body).encode())

    frames = [event("messageStart", {"role": "assistant"})]
    for i, word in enumerate(["Hello", ", ", "async", " world", "!"]):
        frames.append(event("contentBlockDelta", {"delta": {"text": word}, "contentBlockIndex": 0}))
        if i == 2:
            frames.append(b"")  # marks where a stalled server pauses
    frames += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        event(
            "metadata",
            {
                "usage": {"inputTokens": 3, "outputTokens": 5, "totalTokens": 8},
                "metrics": {"latencyMs": 42},
            },
        ),
    ]
    return frames


class EventServer:
    """Answers every request with ``frames`` as a chunked event stream, each
    frame in its own chunk (an empty frame: wait for ``go`` first)."""

    def __init__(self, frames: list[bytes], status: int = 200) -> None:
        self.frames = frames
        self.status = status
        self.go = threading.Event()
        self.go.set()

    def __call__(self, reply: Reply) -> None:
        reply.start(self.status, EVENTSTREAM, chunked=True)
        for frame in self.frames:
            if frame:
                reply.write(frame)
            else:
                self.go.wait(60)
        reply.end()


def client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def serve(make_aio: Callable[..., Any]) -> Iterator[Callable[..., tuple[Any, Any, EventServer]]]:
    servers: list[ScriptedServer] = []
    scripts: list[EventServer] = []

    def start(service: str, frames: list[bytes]) -> tuple[Any, Any, EventServer]:
        script = EventServer(frames)
        scripts.append(script)
        servers.append(ScriptedServer(script))
        sync_client = client(service, servers[-1].url)
        return sync_client, make_aio(sync_client), script

    yield start
    for script in scripts:
        script.go.set()
    for server in servers:
        server.close()


needs_converse_stream = requires_operation("bedrock-runtime", "ConverseStream")
CONVERSE = {"modelId": "any-model", "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}


@needs_converse_stream
async def test_bedrock_converse_stream_like_boto3(serve: Callable[..., Any]) -> None:
    sync_client, aio, _ = serve("bedrock-runtime", converse_frames())
    expected = sync_client.converse_stream(**CONVERSE)
    result = await aio.converse_stream(**CONVERSE)
    assert without(result, "stream") == without(expected, "stream")
    events = [event async for event in result["stream"]]
    assert events == list(expected["stream"])
    assert len(events) == 9
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert "".join(deltas) == "Hello, async world!"


async def test_kinesis_subscribe_to_shard_like_boto3(serve: Callable[..., Any]) -> None:
    def shard_event(n: int) -> bytes:
        records = [
            {
                "SequenceNumber": str(n * 10 + i),
                "ApproximateArrivalTimestamp": 1_700_000_000.25 + n,
                "Data": "cmVjb3Jk",  # base64 of b"record"
                "PartitionKey": f"pk{i}",
            }
            for i in range(3)
        ]
        body = {"Records": records, "ContinuationSequenceNumber": str(n), "MillisBehindLatest": 0}
        return event_message("SubscribeToShardEvent", json.dumps(body).encode())

    frames = [event_message("initial-response", b"{}")] + [shard_event(n) for n in range(4)]
    sync_client, aio, _ = serve("kinesis", frames)
    request = {
        "ConsumerARN": "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1",
        "ShardId": "shardId-000000000000",
        "StartingPosition": {"Type": "LATEST"},
    }
    expected = sync_client.subscribe_to_shard(**request)
    result = await aio.subscribe_to_shard(**request)
    assert without(result, "EventStream") == without(expected, "EventStream")
    events = [event async for event in result["EventStream"]]
    assert events == list(expected["EventStream"])
    assert len(events) == 4
    assert events[0]["SubscribeToShardEvent"]["Records"][0]["Data"] == b"record"


@requires_operation("lambda", "InvokeWithResponseStream")
async def test_lambda_response_stream_like_boto3(serve: Callable[..., Any]) -> None:
    frames = [
        event_message("PayloadChunk", b'{"part": %d}' % i, "application/octet-stream")
        for i in range(5)
    ]
    frames.append(event_message("InvokeComplete", b"{}"))
    sync_client, aio, _ = serve("lambda", frames)
    expected = sync_client.invoke_with_response_stream(FunctionName="f")
    result = await aio.invoke_with_response_stream(FunctionName="f")
    assert without(result, "EventStream") == without(expected, "EventStream")
    events = [event async for event in result["EventStream"]]
    assert events == list(expected["EventStream"])
    assert events[0] == {"PayloadChunk": {"Payload": b'{"part": 0}'}}


@needs_converse_stream
@pytest.mark.parametrize("kind", ["exception", "error"])
async def test_error_event_raises_like_boto3(serve: Callable[..., Any], kind: str) -> None:
    if kind == "exception":
        failure = event_frame(
            {
                ":message-type": "exception",
                ":exception-type": "throttlingException",
                ":content-type": "application/json",
            },
            b'{"message": "Too many tokens, please wait."}',
        )
    else:
        failure = event_frame(
            {
                ":message-type": "error",
                ":error-code": "InternalFailure",
                ":error-message": "The stream broke.",
            },
            b"",
        )
    frames = [f for f in converse_frames()[:4] if f] + [failure]
    sync_client, aio, _ = serve("bedrock-runtime", frames)
    sync_events = []
    with pytest.raises(EventStreamError) as sync_error:
        for event in sync_client.converse_stream(**CONVERSE)["stream"]:
            sync_events.append(event)
    aio_events = []
    stream = (await aio.converse_stream(**CONVERSE))["stream"]
    with pytest.raises(EventStreamError) as aio_error:
        async for event in stream:
            aio_events.append(event)
    assert aio_events == sync_events
    assert len(aio_events) == 4
    assert str(aio_error.value) == str(sync_error.value)
    assert aio_error.value.response == sync_error.value.response
    assert [event async for event in stream] == []  # ended, as boto3's


@needs_converse_stream
async def test_get_initial_response_like_boto3(serve: Callable[..., Any]) -> None:
    sync_client, aio, _ = serve("bedrock-runtime", converse_frames())
    sync_stream = sync_client.converse_stream(**CONVERSE)["stream"]
    stream = (await aio.converse_stream(**CONVERSE))["stream"]
    # converse_stream has no initial-response event: both raise, consuming the first event
    with pytest.raises(NoInitialResponseError):
        sync_stream.get_initial_response()
    with pytest.raises(NoInitialResponseError):
        await stream.get_initial_response()
    assert [event async for event in stream] == list(sync_stream)


@needs_converse_stream
async def test_cancelled_wait_loses_no_event(serve: Callable[..., Any]) -> None:
    _, aio, script = serve("bedrock-runtime", converse_frames())
    script.go.clear()  # the server pauses after the third delta, for a minute at most
    stream = (await aio.converse_stream(**CONVERSE))["stream"]
    # The events sent before the pause come without waiting for the rest (the
    # wait_for is a hang guard).
    events = [await asyncio.wait_for(stream.__anext__(), 30) for _ in range(4)]
    reads = InFlight(stream._events.__next__)  # what the engine runs for each event
    stream._events = iter(reads, object())
    waiting = asyncio.ensure_future(stream.__anext__())  # the fourth delta is not sent yet
    # This task runs while the read waits: waiting for an event does not block the loop.
    await wait_until(lambda: reads.calls, "a read waiting for the fourth delta")
    assert not waiting.done()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    script.go.set()
    events += [event async for event in stream]
    deltas = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert deltas == ["Hello", ", ", "async", " world", "!"]
    assert len(events) == 9


@needs_converse_stream
async def test_close(serve: Callable[..., Any]) -> None:
    _, aio, _ = serve("bedrock-runtime", converse_frames())
    async with (await aio.converse_stream(**CONVERSE))["stream"] as stream:
        first = await stream.__anext__()
        assert first == {"messageStart": {"role": "assistant"}}
    assert stream.closed


async def test_aclose(make_client: Callable[..., Any], make_aio: Callable[..., Any]) -> None:
    # aiobotocore's spelling: await stream.aclose() closes the connection.
    s3 = make_client("s3")
    aio = make_aio(s3)
    s3.create_bucket(Bucket="select")
    s3.put_object(Bucket="select", Key="data.csv", Body=CSV)
    result = await aio.select_object_content(
        Bucket="select",
        Key="data.csv",
        ExpressionType="SQL",
        Expression="SELECT * FROM S3Object s",
        InputSerialization={"CSV": {"FileHeaderInfo": "USE"}},
        OutputSerialization={"CSV": {}},
    )
    stream = result["Payload"]
    assert "Records" in await stream.__anext__()
    await stream.aclose()
    assert stream.closed
    assert stream.event_stream._raw_stream.closed
    await stream.aclose()  # twice is fine, as close() is
