"""Waiters: botocore's acceptors and errors, with no thread held between polls."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest
from botocore.exceptions import WaiterError

import aboto3

from .conftest import comparable

FAST = {"Delay": 0.05, "MaxAttempts": 3}


def count_calls(client: Any, event: str) -> list[str]:
    calls: list[str] = []
    client.meta.events.register(event, lambda **kwargs: calls.append(event))
    return calls


async def assert_same_waiter_error(
    sync_client: Any, aio: Any, waiter_name: str, **kwargs: Any
) -> WaiterError:
    with pytest.raises(WaiterError) as sync_error:
        sync_client.get_waiter(waiter_name).wait(**kwargs)
    with pytest.raises(WaiterError) as aio_error:
        await aio.get_waiter(waiter_name).wait(**kwargs)
    assert str(aio_error.value) == str(sync_error.value)
    assert aio_error.value.kwargs["name"] == sync_error.value.kwargs["name"]
    assert comparable(aio_error.value.last_response) == comparable(sync_error.value.last_response)
    return aio_error.value


async def test_waiter_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    waiter = aio.get_waiter("bucket_exists")
    sync_waiter = s3.get_waiter("bucket_exists")
    assert isinstance(waiter, aboto3.AIOWaiter)
    assert waiter.name == sync_waiter.name == "BucketExists"
    assert waiter.config.delay == sync_waiter.config.delay
    assert waiter.config.max_attempts == sync_waiter.config.max_attempts
    assert [a.explanation for a in waiter.config.acceptors] == [
        a.explanation for a in sync_waiter.config.acceptors
    ]
    s3.create_bucket(Bucket="there")
    heads = count_calls(s3, "before-call.s3.HeadBucket")
    assert await waiter.wait(Bucket="there") is None
    assert len(heads) == 1


async def test_waiter_polls_until_success(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    heads = count_calls(s3, "before-call.s3.HeadBucket")
    waiting = asyncio.ensure_future(
        aio.get_waiter("bucket_exists").wait(
            Bucket="late", WaiterConfig={"Delay": 0.05, "MaxAttempts": 100}
        )
    )
    while len(heads) < 3:  # polled, found nothing, slept, polled again...
        await asyncio.sleep(0.01)
    assert not waiting.done()
    await aio.create_bucket(Bucket="late")
    await asyncio.wait_for(waiting, 30)  # ...until the bucket exists (a hang guard)
    assert waiting.result() is None


async def test_waiter_times_out_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    s3 = make_client("s3")
    aio = make_aio(s3)
    s3.create_bucket(Bucket="here")
    heads = count_calls(s3, "before-call.s3.HeadObject")
    started = time.monotonic()
    error = await assert_same_waiter_error(
        s3, aio, "object_exists", Bucket="here", Key="never", WaiterConfig=FAST
    )
    assert "Max attempts exceeded" in str(error)
    assert len(heads) == 2 * FAST["MaxAttempts"]  # as many polls as boto3
    assert time.monotonic() - started >= 2 * 2 * FAST["Delay"]  # and the same delays


async def test_waiter_failure_state_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    ec2 = make_client("ec2")
    aio = make_aio(ec2)
    # moto takes any image id (and listing its images is slow)
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    ec2.terminate_instances(InstanceIds=[instance["InstanceId"]])
    error = await assert_same_waiter_error(
        ec2, aio, "instance_running", InstanceIds=[instance["InstanceId"]], WaiterConfig=FAST
    )
    assert "terminal failure state" in str(error)


async def test_waiter_unexpected_error_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    ecs = make_client("ecs")
    aio = make_aio(ecs)
    error = await assert_same_waiter_error(
        ecs, aio, "services_stable", cluster="missing", services=["web"], WaiterConfig=FAST
    )
    assert "ClusterNotFoundException" in str(error)


async def test_unknown_waiter_like_boto3(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    for service in ("s3", "sts"):  # sts has no waiters at all
        client = make_client(service)
        aio = make_aio(client)
        with pytest.raises(ValueError) as sync_error:
            client.get_waiter("bucket_existz")
        with pytest.raises(ValueError) as aio_error:
            aio.get_waiter("bucket_existz")
        assert str(aio_error.value) == str(sync_error.value)


async def test_waiting_holds_no_thread(
    make_client: Callable[..., Any], make_aio: Callable[..., Any]
) -> None:
    # One worker thread: calls made while the waiter sleeps get it at once.
    # (The waiter is cancelled in its first delay: a long one costs nothing and
    # outlasts the calls however slow the machine.)
    s3 = make_client("s3", max_pool_connections=1)
    aio = make_aio(s3)
    heads = count_calls(s3, "before-call.s3.HeadBucket")
    waiting = asyncio.ensure_future(
        aio.get_waiter("bucket_exists").wait(
            Bucket="slow", WaiterConfig={"Delay": 60, "MaxAttempts": 3}
        )
    )
    while not heads:
        await asyncio.sleep(0.01)
    for _ in range(5):  # the first poll is done; the waiter sleeps for 60 s
        await aio.list_buckets()
    # Had the waiter held the only thread, these calls would have waited for
    # its next poll.
    assert len(heads) == 1
    assert not waiting.done()
    waiting.cancel()  # a waiter can be cancelled mid-delay
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await aio.list_buckets())["Buckets"] == []
