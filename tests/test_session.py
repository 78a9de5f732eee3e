"""Clients created off the event loop: ``await aboto3.client(...)``, ``Session().client(...)``."""

from __future__ import annotations

import asyncio
import gc
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config

import aboto3
from tests.conftest import REGION, comparable
from tests.looplag import LoopLag
from tests.waits import LoopTurns


async def test_client_is_built_on_a_thread_and_works(moto_url: str) -> None:
    builders: list[str] = []

    def who_builds(**_: Any) -> None:
        builders.append(threading.current_thread().name)

    session = aboto3.Session(region_name=REGION)
    session.boto3_session.events.register("creating-client-class", who_builds)
    aio = await session.client("ssm", endpoint_url=moto_url)
    assert isinstance(aio, aboto3.AIOClient)
    assert builders and threading.main_thread().name not in builders
    await aio.put_parameter(Name="/s", Value="v", Type="String")
    sync = boto3.client("ssm", region_name=REGION, endpoint_url=moto_url)
    assert comparable(await aio.get_parameter(Name="/s")) == comparable(
        sync.get_parameter(Name="/s")
    )
    await aio.close()


async def test_module_level_client_takes_boto3_and_aioclient_arguments(moto_url: str) -> None:
    executor = ThreadPoolExecutor(max_workers=2)
    aio = await aboto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=moto_url,
        config=Config(max_pool_connections=3),
        thread_pool_executor=executor,
    )
    assert aio.meta.region_name == REGION
    assert aio.meta.config.max_pool_connections == 3
    assert aio.engine.pool is None  # calls run on the executor passed in
    assert (await aio.get_caller_identity())["Account"] == "123456789012"
    await aio.close()
    executor.shutdown()


@pytest.mark.parametrize("engine", ["threads", "native"])
async def test_engine_is_passed_through(moto_url: str, engine: str) -> None:
    async with await aboto3.client(
        "sts", region_name=REGION, endpoint_url=moto_url, engine=engine
    ) as aio:
        assert (await aio.get_caller_identity())["Account"] == "123456789012"
        assert type(aio.engine).__name__ == (
            "NativeEngine" if engine == "native" else "ThreadEngine"
        )


async def test_bad_engine_is_refused_before_building() -> None:
    session = aboto3.Session(region_name=REGION)
    with pytest.raises(ValueError, match="engine must be"):
        await session.client("s3", engine="greenlets")
    assert session._session is None  # nothing was built


async def test_boto3_errors_come_through(moto_url: str) -> None:
    from botocore.exceptions import UnknownServiceError

    with pytest.raises(UnknownServiceError):
        boto3.client("no-such-service", region_name=REGION)
    with pytest.raises(UnknownServiceError):
        await aboto3.client("no-such-service", region_name=REGION)


async def test_creating_clients_does_not_stall_the_loop(moto_url: str) -> None:
    # Building a client is Python work (client class, endpoint resolver, hooks)
    # that runs on a worker thread while the loop keeps turning. Parsing a
    # service model's JSON the first time holds the GIL in one C call
    # (README: Creating clients), so the models are loaded first, as a
    # long-lived Session would have them.
    session = aboto3.Session(region_name=REGION)
    services = ["sts", "sqs", "dynamodb", "ssm"]
    for service in services:
        await (await session.client(service, endpoint_url=moto_url)).close()
    # Each creation, halfway through, waits for the loop to turn: a creation
    # that kept the loop blocked until it was done would wait in vain.
    turns = LoopTurns()
    session.boto3_session.events.register("creating-client-class", lambda **_: turns.wait())
    gc.collect()  # start with no garbage from the model loading pending
    async with LoopLag(limit=0.05):
        clients = await asyncio.gather(
            *(session.client(s, endpoint_url=moto_url) for s in services * 2)
        )
    assert turns.outcomes == [True] * len(clients)
    assert [c.meta.service_model.service_name for c in clients] == services * 2
    for aio in clients:
        await aio.close()
