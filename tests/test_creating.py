"""Both forms of making a client or resource: ``await aboto3.client(...)`` and
``async with aboto3.client(...) as aio:``, as aiobotocore and aioboto3 code
writes them, for aboto3.client, aboto3.resource and Session's two."""

from __future__ import annotations

import gc
import threading
import warnings
from typing import Any, Callable

import botocore.loaders
import pytest
from botocore.exceptions import UnknownServiceError

import aboto3

from .conftest import REGION


def _makers(url: str) -> dict[str, Callable[[], Any]]:
    session = aboto3.Session(region_name=REGION)
    return {
        "aboto3.client": lambda: aboto3.client("sts", region_name=REGION, endpoint_url=url),
        "Session.client": lambda: session.client("sts", endpoint_url=url),
        "aboto3.resource": lambda: aboto3.resource("sqs", region_name=REGION, endpoint_url=url),
        "Session.resource": lambda: session.resource("sqs", endpoint_url=url),
    }


async def _works(made: Any) -> None:
    if isinstance(made, aboto3.AIOClient):
        assert (await made.get_caller_identity())["Account"] == "123456789012"
    else:
        assert isinstance(made, aboto3.AIOResource)
        queue = await made.create_queue(QueueName="made")
        assert queue.url.endswith("/made")


@pytest.mark.parametrize(
    "maker", ["aboto3.client", "Session.client", "aboto3.resource", "Session.resource"]
)
async def test_async_with_makes_then_closes(moto_url: str, maker: str) -> None:
    async with _makers(moto_url)[maker]() as made:
        await _works(made)
        client = made if isinstance(made, aboto3.AIOClient) else made.meta.client
        assert not client.closed
    assert client.closed


@pytest.mark.parametrize(
    "maker", ["aboto3.client", "Session.client", "aboto3.resource", "Session.resource"]
)
async def test_await_makes_and_leaves_it_open(moto_url: str, maker: str) -> None:
    made = await _makers(moto_url)[maker]()
    await _works(made)
    await made.close()


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_async_with_takes_the_engine(moto_url: str, engine: str) -> None:
    if engine not in aboto3.engines():
        pytest.skip("this install has no native engine")
    async with aboto3.Session(region_name=REGION).resource(
        "sqs", endpoint_url=moto_url, engine=engine
    ) as sqs:
        assert type(sqs.meta.client.engine).__name__ == (
            "NativeEngine" if engine == "native" else "ThreadEngine"
        )
        await _works(sqs)


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_models_are_read_off_the_loop_paginators_and_waiters_too(
    moto_url: str, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # botocore reads a client's paginator and waiter models on first use, and
    # get_paginator and get_waiter are synchronous calls made on the loop.
    if engine not in aboto3.engines():
        pytest.skip("this build has no native engine")
    read: list[tuple[str, str, bool]] = []  # (service, model, read on the loop thread)
    loop_thread = threading.get_ident()
    load_service_model = botocore.loaders.Loader.load_service_model

    def recording(self: Any, service: str, model: str, api_version: Any = None) -> Any:
        read.append((service, model, threading.get_ident() == loop_thread))
        return load_service_model(self, service, model, api_version)

    monkeypatch.setattr(botocore.loaders.Loader, "load_service_model", recording)
    session = aboto3.Session(region_name=REGION)
    making_ec2 = session.client("ec2", endpoint_url=moto_url, engine=engine)
    making_s3 = session.resource("s3", endpoint_url=moto_url, engine=engine)
    async with making_ec2 as ec2, making_s3 as s3:
        made = list(read)
        assert {("ec2", "paginators-1"), ("s3", "waiters-2")} <= {m[:2] for m in made}
        assert not [m for m in made if m[2]]  # all on the worker
        read.clear()
        ec2.get_paginator("describe_instances")
        ec2.get_waiter("instance_running")
        bucket = await s3.create_bucket(Bucket=f"models-{engine}")
        assert [o async for o in bucket.objects.all()] == []  # boto3 asks can_paginate
        assert read == []


async def test_the_block_raising_still_closes(moto_url: str) -> None:
    creating = aboto3.client("sts", region_name=REGION, endpoint_url=moto_url)
    with pytest.raises(ZeroDivisionError):
        async with creating as aio:
            1 / 0  # noqa: B018
    assert aio.closed


def test_nothing_is_made_until_awaited_or_entered(moto_url: str) -> None:
    made: list[str] = []
    session = aboto3.Session(region_name=REGION)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn
        session.client("sts", endpoint_url=moto_url)
        aboto3.resource("s3", region_name=REGION, endpoint_url=moto_url)
        gc.collect()
    assert session._session is None and made == []


async def test_entering_twice_is_refused(moto_url: str) -> None:
    creating = aboto3.client("sts", region_name=REGION, endpoint_url=moto_url)
    async with creating:
        with pytest.raises(RuntimeError, match="already entered"):
            async with creating:
                pass


async def test_errors_come_through_both_forms() -> None:
    with pytest.raises(UnknownServiceError):
        await aboto3.client("no-such-service", region_name=REGION)
    with pytest.raises(UnknownServiceError):
        async with aboto3.Session(region_name=REGION).client("no-such-service"):
            pass
    from boto3.exceptions import ResourceNotExistsError

    with pytest.raises(ResourceNotExistsError):
        async with aboto3.resource("ssm", region_name=REGION):
            pass
    with pytest.raises(ValueError, match="engine must be"):
        aboto3.resource("s3", region_name=REGION, engine="greenlets")


async def test_the_rest_of_boto3s_session_is_there(moto_url: str) -> None:
    session = aboto3.Session(region_name="eu-west-3")
    assert session.region_name == "eu-west-3"
    assert "dynamodb" in session.get_available_resources()
    assert session.get_available_regions("s3")  # reads botocore's endpoint data
    credentials = await session.get_credentials()  # awaited, as in aioboto3
    assert credentials.access_key == "testing"
    with pytest.raises(AttributeError):
        session.no_such_thing  # noqa: B018
