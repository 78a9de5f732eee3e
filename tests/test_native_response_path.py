"""The native engine's response path where it must wait as botocore waits:
``StreamingBody.set_socket_timeout`` and the adaptive retry mode's token bucket."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ReadTimeoutError
from botocore.retries.bucket import Clock, TokenBucket

import aboto3

from .conftest import ENGINES, REGION
from .scripted_server import Reply, ScriptedServer


@pytest.fixture
def stalled_body() -> Iterator[ScriptedServer]:
    """An object whose body stops after 10 of its 100 bytes until the test ends."""
    release = threading.Event()

    def answer(reply: Reply) -> None:
        reply.start(200, {"Content-Length": "100", "ETag": '"e"'})
        reply.write(b"x" * 10)
        release.wait(60)

    with ScriptedServer(answer) as server:
        yield server
        release.set()


def _s3(url: str) -> Any:
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=url,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("engine", ENGINES)
async def test_set_socket_timeout_ends_a_stalled_read_as_boto3s_does(
    stalled_body: ScriptedServer, engine: str
) -> None:
    # The client's own read timeout (60 s) would let the read hang; the
    # body's socket timeout set afterwards is what ends it.
    sync_body = _s3(stalled_body.url).get_object(Bucket="b", Key="k")["Body"]
    sync_body.set_socket_timeout(0.3)
    with pytest.raises(ReadTimeoutError) as sync_error:
        sync_body.read()

    executor = None
    if engine == "executor":
        from concurrent.futures import ThreadPoolExecutor

        executor = ThreadPoolExecutor(2)
    options: dict[str, Any] = {"thread_pool_executor": executor} if executor else {"engine": engine}
    async with aboto3.AIOClient(_s3(stalled_body.url), **options) as aio:
        body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
        body.set_socket_timeout(0.3)
        with pytest.raises(ReadTimeoutError) as aio_error:
            await asyncio.wait_for(body.read(), 30)
    if executor:
        executor.shutdown()
    assert str(aio_error.value) == str(sync_error.value)


@pytest.mark.native
async def test_set_socket_timeout_refuses_what_a_socket_refuses(
    stalled_body: ScriptedServer,
) -> None:
    async with aboto3.AIOClient(_s3(stalled_body.url), engine="native") as aio:
        body = (await aio.get_object(Bucket="b", Key="k"))["Body"]
        with pytest.raises(ValueError, match="out of range"):
            body.set_socket_timeout(-1)
        for refused in ("soon", b"1", float("nan"), -0.5, 1e300):
            with socket.socket() as probe, pytest.raises(Exception) as expected:
                probe.settimeout(refused)
            with pytest.raises(type(expected.value), match=re.escape(str(expected.value))):
                body.set_socket_timeout(refused)
        body.set_socket_timeout(None)  # no timeout, as on a socket
        body.close()


class _Clock:
    """A clock that moves only when told, for both ways of waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def current_time(self) -> float:
        return self.now

    def sleep(self, amount: float) -> None:
        self.now += amount


def _bucket(clock: _Clock, rate: float, tokens: float) -> TokenBucket:
    bucket = TokenBucket(max_rate=rate, clock=clock)
    bucket._refill()  # the first refill only stamps the time
    bucket._current_capacity = tokens
    return bucket


def _blocking_waits(rate: float, tokens: float, amount: int) -> list[float]:
    """What botocore's own acquire waits for, each wait advancing the clock."""
    clock = _Clock()
    bucket = _bucket(clock, rate, tokens)
    waits: list[float] = []
    condition = bucket._new_fill_rate_condition

    def wait(timeout: float) -> bool:
        waits.append(timeout)
        clock.now += timeout
        return False

    condition.wait = wait  # type: ignore[method-assign]
    assert bucket.acquire(amount) is True
    return waits


@pytest.mark.native
@pytest.mark.parametrize(("rate", "tokens", "amount"), [(0.5, 0.9, 1), (2.0, 0.0, 1), (4, 1.5, 3)])
async def test_adaptive_token_bucket_waits_what_botocore_waits(
    monkeypatch: pytest.MonkeyPatch, rate: float, tokens: float, amount: int
) -> None:
    # With 0.9 tokens at 0.5 a second botocore waits 0.2 s for the missing
    # tenth; the native engine used to wait amount / rate, 2 s, after each miss.
    expected = _blocking_waits(rate, tokens, amount)
    assert expected and expected[0] == pytest.approx((amount - tokens) / rate)

    clock = _Clock()
    bucket = _bucket(clock, rate, tokens)
    waits: list[float] = []
    real_wait = asyncio.wait

    async def timed_out(futures: Any, *, timeout: float) -> Any:
        waits.append(timeout)
        clock.now += timeout
        return await real_wait(futures, timeout=0)

    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    async with aboto3.AIOClient(s3, engine="native") as aio:
        monkeypatch.setattr(asyncio, "wait", timed_out)
        acquired = await aio.engine.run(bucket.acquire, amount)
        monkeypatch.undo()
    assert acquired is True
    assert waits == pytest.approx(expected)
    assert bucket._current_capacity == pytest.approx(0.0, abs=1e-9)


@pytest.mark.native
async def test_a_raised_max_rate_wakes_a_waiting_acquire() -> None:
    # 30 tokens at 1 a second: half a minute; at 100 a second, a fraction of
    # one. botocore's setter notifies its blocked threads; a native waiter
    # must be woken too, not sleep out the half minute.
    bucket = TokenBucket(max_rate=1, clock=Clock())
    bucket._current_capacity = 0
    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    async with aboto3.AIOClient(s3, engine="native") as aio:
        waiting = asyncio.ensure_future(aio.engine.run(bucket.acquire, 30))
        for _ in range(100):
            if bucket.__dict__.get("_aboto3_waiters"):
                break
            await asyncio.sleep(0.01)
        assert bucket.__dict__.get("_aboto3_waiters"), "the acquire never waited"
        bucket.max_rate = 100
        assert await asyncio.wait_for(waiting, 10) is True


@pytest.mark.native
async def test_a_rate_raised_from_another_thread_wakes_the_waiter() -> None:
    bucket = TokenBucket(max_rate=1, clock=Clock())
    bucket._current_capacity = 0
    s3 = boto3.client("s3", region_name=REGION, endpoint_url="http://127.0.0.1:9")
    async with aboto3.AIOClient(s3, engine="native") as aio:
        waiting = asyncio.ensure_future(aio.engine.run(bucket.acquire, 30))
        for _ in range(100):
            if bucket.__dict__.get("_aboto3_waiters"):
                break
            await asyncio.sleep(0.01)
        await asyncio.to_thread(setattr, bucket, "max_rate", 100)
        assert await asyncio.wait_for(waiting, 10) is True


@pytest.mark.native
async def test_answers_arriving_together_resume_over_several_turns() -> None:
    # Twenty answers arrive while the loop is blocked, so one drain wakes all
    # twenty calls; each call's resumed work (here an after-call hook of 1 ms,
    # standing in for botocore's parsing) runs on the loop. They must not all
    # run in one turn: other tasks get turns in between.
    from benchmarks.stub import StubServer

    events: list[str] = []

    def parse_slowly(**_: Any) -> None:
        events.append("call")
        end = time.perf_counter() + 0.001
        while time.perf_counter() < end:
            pass

    async def other_task() -> None:
        while True:
            await asyncio.sleep(0)
            events.append("tick")

    with StubServer(latency_ms=0) as stub:
        ssm = boto3.client(
            "ssm",
            region_name=REGION,
            endpoint_url=stub.endpoint_url,
            config=Config(max_pool_connections=20),
        )
        async with aboto3.AIOClient(ssm, engine="native") as aio:
            await aio.get_parameter(Name="/warm")  # connections and botocore warm
            ssm.meta.events.register("after-call.ssm.GetParameter", parse_slowly)
            calls = [asyncio.ensure_future(aio.get_parameter(Name=f"/{i}")) for i in range(20)]
            for _ in range(3):
                await asyncio.sleep(0)  # the calls go out
            time.sleep(0.5)  # meanwhile every answer arrives
            ticker = asyncio.ensure_future(other_task())
            await asyncio.gather(*calls)
            ticker.cancel()
    calls_seen = [i for i, event in enumerate(events) if event == "call"]
    assert len(calls_seen) == 20
    between = events[calls_seen[0] : calls_seen[-1]]
    assert between.count("tick") >= 3, "the loop ran every resumed call in one turn"
