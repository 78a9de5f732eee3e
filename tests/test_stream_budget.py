"""The native engine's process-wide bound on unread streaming-body bytes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

import aboto3
from aboto3 import _core
from benchmarks.stub import StubServer

from .conftest import REGION

MiB = 1 << 20


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with StubServer() as server:
        yield server


@pytest.fixture
def budget() -> Iterator[int]:
    previous = _core.set_stream_buffer_budget(2 * MiB)
    yield 2 * MiB
    _core.set_stream_buffer_budget(previous)


def s3_client(url: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


async def settled_buffered() -> int:
    """``stream_buffered()`` once the transfers have stopped receiving (paused)."""
    last, steady = -1, 0
    for _ in range(400):
        now = _core.stream_buffered()
        steady = steady + 1 if now == last else 0
        if steady == 5:
            return now
        last = now
        await asyncio.sleep(0.02)
    raise AssertionError("the buffered byte count never settled")


async def test_unread_bodies_stay_within_the_budget_and_never_stall_other_calls(
    stub: StubServer, budget: int
) -> None:
    hoarder = s3_client(stub.endpoint_url, max_pool_connections=16)
    reader = s3_client(stub.endpoint_url)
    async with (
        aboto3.AIOClient(hoarder, engine="native") as hoarding,
        aboto3.AIOClient(reader, engine="native") as reading,
    ):
        before = await settled_buffered()
        # 16 bodies of 8 MiB that nobody reads: alone, each would buffer 1 MiB.
        held = await asyncio.gather(
            *(hoarding.get_object(Bucket="b", Key=f"held{i}-{8 * MiB}") for i in range(16))
        )
        hoarded = await settled_buffered() - before
        # Over the budget, each holds at most its guaranteed 128 KiB plus one
        # network chunk of libcurl's.
        assert hoarded <= budget + 16 * 256 * 1024, f"{hoarded / MiB:.1f} MiB buffered"

        # Another client's bodies are still read to the end, the budget
        # notwithstanding (the wait_for is a hang guard, not a timing).
        async def fetch(key: str) -> int:
            response = await reading.get_object(Bucket="b", Key=key)
            return len(await response["Body"].read())

        sizes = await asyncio.wait_for(
            asyncio.gather(*(fetch(f"read{i}-{8 * MiB}") for i in range(4))), 60
        )
        assert sizes == [8 * MiB] * 4
        # The hoarded bodies are intact: read now, they arrive whole.
        assert len(await held[0]["Body"].read()) == 8 * MiB
        for response in held:
            response["Body"].close()
    assert await settled_buffered() <= before
