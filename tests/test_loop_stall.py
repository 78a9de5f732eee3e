"""The event loop keeps turning while native-engine calls wait: every place
where botocore would block (back-off, waiter delays, long polls, credential
refresh, stream reads, close) suspends instead. Each block fails if a 1 ms
ticker is ever late by more than 50 ms."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import ClientError, WaiterError
from botocore.retries import standard

import aboto3

from .conftest import REGION
from .looplag import LoopLag
from .scripted_server import Reply, ScriptedServer, event_message
from .waits import wait_until

NATIVE = "native"


def client_of(url: str, service: str, **config: Any) -> Any:
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


@pytest.mark.parametrize("mode", ["standard", "adaptive", "legacy"])
async def test_retry_back_off(mode: str, make_proxy: Callable[..., Any], moto_url: str) -> None:
    client_of(moto_url, "ssm").put_parameter(Name="/p", Value="v", Type="String")
    proxy = make_proxy("throttle", count=2)  # two throttling errors, then moto's answer
    ssm = client_of(proxy.url, "ssm", retries={"mode": mode, "max_attempts": 3})
    async with aboto3.AIOClient(ssm, engine=NATIVE) as aio, LoopLag(limit=0.05):
        result = await aio.get_parameter(Name="/p")
    assert result["ResponseMetadata"]["RetryAttempts"] == 2
    assert proxy.throttled == 2


def retry_handler(client: Any, event: str) -> standard.RetryHandler:
    handlers = client.meta.events._emitter._handlers.prefix_search(event)
    return next(
        h.__self__
        for h in handlers
        if isinstance(getattr(h, "__self__", None), standard.RetryHandler)
    )


@pytest.mark.skipif(
    not hasattr(standard.RetryHandler, "_is_long_polling_operation"),
    reason="the installed botocore has no long-polling back-off "
    "(the retry behaviour AWS_NEW_RETRIES_2026 introduced)",
)
async def test_long_polling_back_off_without_retry_quota(
    make_proxy: Callable[..., Any], moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the retry quota spent, botocore does not retry a long poll but
    # sleeps its back-off before failing, with a sleep bound as a default
    # argument (``sleep=time.sleep``): it must suspend too.
    delay = 0.3
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, ctx: delay)
    # What AWS_NEW_RETRIES_2026 turns on where it is opt-in (botocore reads it at import).
    if hasattr(standard, "NEW_RETRIES_ENABLED"):
        monkeypatch.setattr(standard, "NEW_RETRIES_ENABLED", True)
    queue_url = client_of(moto_url, "sqs").create_queue(QueueName="q")["QueueUrl"]
    proxy = make_proxy("throttle", count=1)
    sqs = client_of(proxy.url, "sqs", retries={"mode": "standard", "max_attempts": 3})
    retry_handler(sqs, "needs-retry.sqs.ReceiveMessage")._retry_quota._quota._available_capacity = 0
    async with aboto3.AIOClient(sqs, engine=NATIVE) as aio, LoopLag(limit=0.05):
        started = time.monotonic()
        with pytest.raises(ClientError, match="Throttling"):
            await aio.receive_message(QueueUrl=queue_url)
        assert time.monotonic() - started >= delay  # the back-off did happen
    assert proxy.throttled == 1  # and no retry


async def test_waiter_delays(make_client: Callable[..., Any]) -> None:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="bucket")
    async with aboto3.AIOClient(s3, engine=NATIVE) as aio:
        waiter = aio.get_waiter("bucket_not_exists")  # loads the waiter model: not a wait
        async with LoopLag(limit=0.05):
            with pytest.raises(WaiterError):
                await waiter.wait(Bucket="bucket", WaiterConfig={"Delay": 0.2, "MaxAttempts": 3})


async def test_sqs_long_polling(make_client: Callable[..., Any]) -> None:
    sqs = make_client("sqs")
    queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
    async with aboto3.AIOClient(sqs, engine=NATIVE) as aio, LoopLag(limit=0.05):
        polls = [aio.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1) for _ in range(4)]
        results = await asyncio.gather(*polls)
    assert all("Messages" not in result for result in results)


async def test_credential_refresh_through_sts(moto_url: str) -> None:
    # botocore's own assume-role credentials, their STS client pointed at moto
    # explicitly (botocore before 1.31 ignores AWS_ENDPOINT_URL_STS).
    source = botocore.session.get_session()

    def create_client(service: str, **kwargs: Any) -> Any:
        kwargs.setdefault("region_name", REGION)
        return source.create_client(service, endpoint_url=moto_url, **kwargs)

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=create_client,
        source_credentials=source.get_credentials(),
        role_arn="arn:aws:iam::123456789012:role/tester",
    )
    credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )
    session = botocore.session.get_session()
    session._credentials = credentials  # what boto3.Session(...) would resolve
    ssm = session.create_client("ssm", region_name=REGION, endpoint_url=moto_url)
    assert ssm._request_signer._credentials is credentials
    credentials.get_frozen_credentials()  # the first AssumeRole
    # Expire them: the next call refreshes them (an STS call of its own) first.
    expired = datetime.datetime.now(datetime.timezone.utc)
    credentials._expiry_time = expired
    async with aboto3.AIOClient(ssm, engine=NATIVE) as aio, LoopLag(limit=0.05):
        await aio.describe_parameters()
    assert credentials._expiry_time > expired  # refreshed from STS's answer


async def test_streaming_reads(make_client: Callable[..., Any]) -> None:
    s3 = make_client("s3")
    s3.create_bucket(Bucket="bucket")
    s3.put_object(Bucket="bucket", Key="big", Body=b"x" * (8 << 20))
    async with aboto3.AIOClient(s3, engine=NATIVE) as aio, LoopLag(limit=0.05):
        body = (await aio.get_object(Bucket="bucket", Key="big"))["Body"]
        size = 0
        async for chunk in body.iter_chunks(64 * 1024):
            size += len(chunk)
    assert size == 8 << 20


@pytest.fixture
def event_server() -> Iterator[ScriptedServer]:
    def script(reply: Reply) -> None:
        reply.start(200, {"Content-Type": "application/vnd.amazon.eventstream"}, chunked=True)
        for n in range(200):
            reply.write(event_message("PayloadChunk", b"%d" % n, "application/octet-stream"))
            if n % 20 == 0:
                time.sleep(0.01)  # events arrive over time, not in one read
        reply.write(event_message("InvokeComplete", b"{}"))
        reply.end()

    with ScriptedServer(script) as server:
        yield server


async def test_event_streams(event_server: ScriptedServer) -> None:
    lam = client_of(event_server.url, "lambda", retries={"max_attempts": 1})
    async with aboto3.AIOClient(lam, engine=NATIVE) as aio, LoopLag(limit=0.05):
        result = await aio.invoke_with_response_stream(FunctionName="f")
        events = [event async for event in result["EventStream"]]
    assert len(events) == 201


async def test_close_with_calls_in_flight(make_client: Callable[..., Any]) -> None:
    sqs = make_client("sqs")
    queue_url = sqs.create_queue(QueueName="q")["QueueUrl"]
    aio = aboto3.AIOClient(sqs, engine=NATIVE)
    polls = [
        asyncio.ensure_future(aio.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1))
        for _ in range(8)
    ]
    from aboto3 import _core

    # The polls are waiting on the server (a second each) once all are in flight.
    await wait_until(lambda: _core.curl_in_flight() >= len(polls), "the polls in flight")
    async with LoopLag(limit=0.05):
        await aio.close()
    assert all(poll.done() for poll in polls)
