"""The native engine's process-wide bound on unread streaming-body bytes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

import aboto3
from aboto3 import _core
from benchmarks.stub import StubServer

from .conftest import REGION
from .rss import UNDER_ASAN, peak_rss_growth
from .waits import wait_until

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


async def settled_buffered(above: int = -1) -> int:
    """``stream_buffered()`` once the transfers have stopped receiving (paused),
    waiting first until it is above ``above`` (bytes have come in)."""
    await wait_until(lambda: _core.stream_buffered() > above, "bytes buffered")
    last, steady = -1, 0
    for _ in range(400):
        now = _core.stream_buffered()
        steady = steady + 1 if now == last else 0
        if steady == 5:
            return now
        last = now
        await asyncio.sleep(0.02)
    raise AssertionError("the buffered byte count never settled")


def stub_object(size: int) -> bytes:
    """The stub's object of ``size`` bytes: byte i is i & 0xff."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


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
    await wait_until(lambda: _core.stream_buffered() <= before, "the closed bodies' bytes freed")


async def test_bodies_coming_in_stay_within_the_pool(stub: StubServer) -> None:
    # 32 readers, far slower than the network, share a pool of 4: a body keeps
    # its slot until it has been read, so at most 4 bodies are buffered at once
    # instead of every one the network can bring in meanwhile.
    pool = 4
    s3 = s3_client(stub.endpoint_url, max_pool_connections=pool)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        before = await settled_buffered()
        peak = 0
        done = False

        async def sample() -> None:
            nonlocal peak
            while not done:
                peak = max(peak, _core.stream_buffered() - before)
                await asyncio.sleep(0)

        async def fetch(i: int) -> int:
            response = await aio.get_object(Bucket="b", Key=f"pool{i}-{MiB}")
            await asyncio.sleep(0.01)  # the reader comes late
            return len(await response["Body"].read())

        sampler = asyncio.ensure_future(sample())
        sizes = await asyncio.wait_for(asyncio.gather(*(fetch(i) for i in range(32))), 60)
        done = True
        await sampler
    assert sizes == [MiB] * 32
    # A whole body per slot, and one network chunk of libcurl's each.
    assert 0 < peak <= pool * (MiB + 256 * 1024), f"{peak / MiB:.1f} MiB buffered"


@pytest.mark.parametrize("first_read", [1024, 0], ids=["read-in-part", "never-read"])
async def test_bodies_held_beyond_the_pool_never_stall_the_next_calls(
    stub: StubServer, first_read: int
) -> None:
    # Bodies read in part (or not at all) and then held beyond the pool's size:
    # their slots go to the next calls once their readers have stayed away a
    # while, as urllib3 would open another connection (the wait_for is a hang
    # guard).
    s3 = s3_client(stub.endpoint_url, max_pool_connections=2)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        held = []
        for i in range(4):
            response = await asyncio.wait_for(
                aio.get_object(Bucket="b", Key=f"part{first_read}-{i}-{8 * MiB}"), 30
            )
            if first_read:
                assert len(await response["Body"].read(first_read)) == first_read
            held.append(response["Body"])
        rest = await asyncio.wait_for(aio.get_object(Bucket="b", Key="small"), 30)
        assert len(await rest["Body"].read()) == 1024
        # The held bodies are intact.
        assert await held[0].read() == stub_object(8 * MiB)[first_read:]
        for body in held:
            body.close()


async def test_closing_an_unread_body_frees_its_slot(stub: StubServer) -> None:
    # A pool of one: a finished body that is closed unread gives its slot to
    # the next call, and the next call's body is whole.
    s3 = s3_client(stub.endpoint_url, max_pool_connections=1)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        for i in range(20):
            response = await asyncio.wait_for(aio.get_object(Bucket="b", Key=f"c{i}-65536"), 30)
            if i % 2:
                assert len(await response["Body"].read()) == 65536
            else:
                response["Body"].close()
    await wait_until(lambda: _core.stream_buffered() == 0, "every buffered byte freed")


async def test_a_body_nobody_reads_yet_waits_in_the_socket(stub: StubServer) -> None:
    # Until its reader comes, a body holds 128 KiB (and at most one 16 KiB
    # network chunk more) and leaves the rest in the socket, as aiohttp and
    # urllib3 do: calls whose readers the loop has not run yet do not each
    # hold a whole body.
    s3 = s3_client(stub.endpoint_url, max_pool_connections=4)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        before = await settled_buffered()
        responses = await asyncio.gather(
            *(aio.get_object(Bucket="b", Key=f"early{i}-{4 * MiB}") for i in range(4))
        )
        held = await settled_buffered(above=before) - before
        assert 0 < held <= 4 * (128 + 16) * 1024, f"{held / 1024:.0f} KiB buffered"
        # Each body, once read, is whole and in order.
        for response in responses:
            assert await response["Body"].read() == stub_object(4 * MiB)


async def test_a_whole_read_holds_the_body_once(stub: StubServer) -> None:
    # read() of a body of known length gets one bytes object that the I/O
    # thread fills as the body arrives: not windows joined at the end, which
    # would hold the body twice.
    if UNDER_ASAN:
        pytest.skip("AddressSanitizer's allocator, not glibc's, decides the peak here")
    size = 256 * MiB
    s3 = s3_client(stub.endpoint_url)
    async with aboto3.AIOClient(s3, engine="native") as aio:
        response = await aio.get_object(Bucket="b", Key=f"whole-{size}")
        with peak_rss_growth() as growth:
            data = await response["Body"].read()
            grown = growth()
        assert len(data) == size
        assert data[:4096] == data[-4096:] == stub_object(4096)
        assert data[size // 2 + 7] == (size // 2 + 7) & 0xFF
        del data
    assert grown <= size + 32 * MiB, f"a {size >> 20} MiB read grew peak RSS by {grown >> 20} MiB"


def raw_get(session: Any, url: str) -> Any:
    """A streaming GET straight through the engine's binding, its headers in."""
    transfer = session.send("GET", url, [], None, True)
    transfer.wait(0)
    assert transfer.status == 200
    return transfer


def test_one_whole_read_at_a_time(stub: StubServer) -> None:
    # The I/O thread may be writing into the first read's bytes object: a
    # second one is refused rather than let the first be dropped.
    session = _core.HttpSession(1, 10.0, 10.0)
    transfer = raw_get(session, f"{stub.endpoint_url}/b/one-{4 * MiB}")
    assert transfer.start_whole_read()
    assert not transfer.start_whole_read()
    transfer.wait(3)  # (a want, not a timeout: _WHOLE, then _DONE)
    assert transfer.end_whole_read() == stub_object(4 * MiB)
    transfer.wait(2)
    assert transfer.at_eof and transfer.read() == b""


def test_a_filled_whole_read_nobody_claims_gives_its_slot_back(stub: StubServer) -> None:
    # A pool of one: a whole read filled and never ended keeps its slot only
    # for the reader's grace, then the next call gets it (the 30 s are a hang
    # guard, not a timing).
    session = _core.HttpSession(1, 10.0, 10.0)
    first = raw_get(session, f"{stub.endpoint_url}/b/first-{2 * MiB}")
    assert first.start_whole_read()
    first.wait(3)
    second = session.send("GET", f"{stub.endpoint_url}/b/second", [], None, True)
    answered = threading.Event()

    def wait_for_second() -> None:
        second.wait(2)
        answered.set()

    waiter = threading.Thread(target=wait_for_second, daemon=True)
    waiter.start()
    got_slot = answered.wait(30)
    second.cancel()  # wakes the waiter if it is still waiting
    waiter.join(5)
    assert got_slot, "the next call never got the slot"
    assert first.end_whole_read() == stub_object(2 * MiB)
