"""The thread engine: pool sizing, shared executors, cancellation, context, lifecycle."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest

import aboto3

from .waits import wait_until


class InFlight:
    """A before-send hook that counts calls inside the HTTP layer at once.

    With ``gate=N`` every call waits inside the hook until N are in at once (or
    10 s pass), so the peak does not depend on how fast the machine starts
    threads: a pool that lets fewer than N in shows a lower peak after 10 s,
    one that lets more in shows a higher one.
    """

    def __init__(self, hold: float = 0.05, gate: int = 0) -> None:
        self.hold = hold
        self.gate = gate
        self.now = 0
        self.peak = 0
        self.started = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        if not gate:
            self.release.set()

    def __call__(self, **_: Any) -> None:
        with self.lock:
            self.now += 1
            self.started += 1
            self.peak = max(self.peak, self.now)
            if self.gate and self.now >= self.gate:
                self.release.set()
        self.release.wait(10)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send", self)
        return client


def live_threads() -> int:
    """OS threads of this process, native workers included."""
    return len(os.listdir("/proc/self/task"))


@pytest.mark.parametrize("max_pool_connections", [1, 4, 10])
async def test_peak_concurrency_is_max_pool_connections(
    make_client: Callable[..., Any], max_pool_connections: int
) -> None:
    ssm = make_client("ssm", max_pool_connections=max_pool_connections)
    ssm.put_parameter(Name="/c", Value="v", Type="String")
    probe = InFlight(gate=max_pool_connections)
    probe.attach(ssm)
    async with aboto3.AIOClient(ssm) as aio:
        await asyncio.gather(
            *(aio.get_parameter(Name="/c") for _ in range(3 * max_pool_connections))
        )
        assert probe.peak == max_pool_connections
        assert aio.engine.pool is not None
        assert aio.engine.pool.max_workers == max_pool_connections
        assert aio.engine.pool.thread_count == max_pool_connections


async def test_default_pool_size_is_ten(make_client: Callable[..., Any]) -> None:
    async with aboto3.AIOClient(make_client("sts")) as aio:
        assert aio.engine.pool is not None
        assert aio.engine.pool.max_workers == 10
        assert aio.engine.pool.thread_count == 0  # threads start lazily
        await aio.get_caller_identity()
        assert aio.engine.pool.thread_count == 1


@pytest.mark.parametrize("kind", ["executor", "aboto3-pool"])
async def test_shared_pool_bounds_several_clients(
    make_client: Callable[..., Any], kind: str
) -> None:
    probe = InFlight(gate=3)
    pool: Any = ThreadPoolExecutor(max_workers=3) if kind == "executor" else aboto3.ThreadPool(3)
    clients = [probe.attach(make_client(s, max_pool_connections=10)) for s in ("sts", "sts", "ssm")]
    aios = [aboto3.AIOClient(c, thread_pool_executor=pool) for c in clients]
    calls = [a.get_caller_identity() for a in aios[:2] for _ in range(6)]
    calls += [aios[2].describe_parameters() for _ in range(6)]
    await asyncio.gather(*calls)
    assert probe.peak == 3
    for aio in aios:
        await aio.close()
    # Closing the clients leaves a pool they were given running.
    assert await aboto3.AIOClient(clients[0], thread_pool_executor=pool).get_caller_identity()
    pool.shutdown(wait=True)


async def test_seed_keyword_thread_pool_executor(make_client: Callable[..., Any]) -> None:
    pool = ThreadPoolExecutor(max_workers=16)
    aio = aboto3.AIOClient(boto3_client=make_client("sts"), thread_pool_executor=pool)
    assert (await aio.get_caller_identity())["Account"] == "123456789012"
    assert aio.engine.pool is None
    pool.shutdown()


async def test_cancelled_before_start_never_runs(make_client: Callable[..., Any]) -> None:
    probe = InFlight(hold=0)
    probe.release.clear()
    sts = probe.attach(make_client("sts", max_pool_connections=1))
    async with aboto3.AIOClient(sts) as aio:
        first = asyncio.ensure_future(aio.get_caller_identity())
        while probe.started == 0:
            await asyncio.sleep(0.01)
        queued = asyncio.ensure_future(aio.get_caller_identity())
        await asyncio.sleep(0.05)
        queued.cancel()
        probe.release.set()
        assert (await first)["Account"] == "123456789012"
        with pytest.raises(asyncio.CancelledError):
            await queued
        await aio.get_caller_identity()  # the pool still works
        assert probe.started == 2  # the cancelled call never reached the HTTP layer


async def test_cancelled_while_running_is_discarded_quietly(
    make_client: Callable[..., Any], recwarn: pytest.WarningsRecorder
) -> None:
    probe = InFlight(hold=0)
    probe.release.clear()
    sts = probe.attach(make_client("sts", max_pool_connections=1))
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    async with aboto3.AIOClient(sts) as aio:
        running = asyncio.ensure_future(aio.get_caller_identity())
        while probe.started == 0:
            await asyncio.sleep(0.01)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        probe.release.set()
        assert (await aio.get_caller_identity())["Account"] == "123456789012"
        assert probe.started == 2  # the cancelled call did run to the end in its thread
    gc.collect()
    assert errors == []
    assert not [w for w in recwarn if "never retrieved" in str(w.message)]


async def test_contextvars_are_copied_into_the_worker(make_client: Callable[..., Any]) -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")
    seen: list[str] = []

    def hook(**_: Any) -> None:
        seen.append(request_id.get())
        request_id.set("changed-in-worker")

    sts = make_client("sts")
    sts.meta.events.register("before-send", hook)
    async with aboto3.AIOClient(sts) as aio:

        async def call(tag: str) -> None:
            request_id.set(tag)
            await aio.get_caller_identity()
            assert request_id.get() == tag  # the worker's change does not leak back

        await asyncio.gather(*(call(f"task-{i}") for i in range(5)))
    assert sorted(seen) == [f"task-{i}" for i in range(5)]


async def test_close_refuses_calls_and_stops_owned_threads(make_client: Callable[..., Any]) -> None:
    sts = make_client("sts", max_pool_connections=4)
    aio = aboto3.AIOClient(sts)
    await asyncio.gather(*(aio.get_caller_identity() for _ in range(8)))
    pool = aio.engine.pool
    assert pool is not None and 1 <= pool.thread_count <= 4  # started as needed
    await aio.close()
    assert aio.closed
    assert pool.thread_count == 0
    with pytest.raises(RuntimeError, match="closed"):
        await aio.get_caller_identity()
    await aio.close()  # closing twice is harmless
    assert sts.get_caller_identity()["Account"] == "123456789012"  # boto3 client untouched


async def test_close_waits_for_calls_in_flight(make_client: Callable[..., Any]) -> None:
    probe = InFlight(hold=0.2)
    sts = probe.attach(make_client("sts", max_pool_connections=2))
    aio = aboto3.AIOClient(sts)
    calls = [asyncio.ensure_future(aio.get_caller_identity()) for _ in range(4)]
    await wait_until(lambda: probe.started, "a call in flight")
    await aio.close()
    results = await asyncio.gather(*calls)
    assert all(r["Account"] == "123456789012" for r in results)


async def test_async_with_closes(make_client: Callable[..., Any]) -> None:
    async with aboto3.AIOClient(make_client("sts")) as aio:
        await aio.get_caller_identity()
    assert aio.closed


async def test_sync_client_keeps_working(make_client: Callable[..., Any]) -> None:
    ssm = make_client("ssm")
    aio = aboto3.AIOClient(ssm)
    await aio.put_parameter(Name="/s", Value="1", Type="String")
    assert ssm.get_parameter(Name="/s")["Parameter"]["Value"] == "1"
    # the sync client in threads while the async one runs
    results = await asyncio.gather(
        asyncio.to_thread(ssm.get_parameter, Name="/s"), aio.get_parameter(Name="/s")
    )
    assert results[0]["Parameter"] == results[1]["Parameter"]
    await aio.close()
    assert ssm.get_parameter(Name="/s")["Parameter"]["Value"] == "1"


def test_no_running_loop_is_a_clear_runtime_error(make_client: Callable[..., Any]) -> None:
    aio = aboto3.AIOClient(make_client("sts"))
    coro = aio.get_caller_identity()
    with pytest.raises(RuntimeError, match="running asyncio event loop"):
        coro.send(None)
    coro.close()


def test_not_a_client_is_a_type_error() -> None:
    import boto3

    with pytest.raises(TypeError, match="boto3 client"):
        aboto3.AIOClient(object())  # type: ignore[type-var]
    with pytest.raises(TypeError, match="boto3 client"):
        aboto3.AIOClient(boto3.Session())  # type: ignore[type-var]
    with pytest.raises(TypeError, match="thread_pool_executor"):
        aboto3.AIOClient(boto3.client("sts"), thread_pool_executor=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="engine"):
        aboto3.AIOClient(boto3.client("sts"), engine="fibers")
    with pytest.raises(TypeError):
        aboto3.ThreadPool("8")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        aboto3.ThreadPool(0)


def test_methods_mirror_boto3(make_client: Callable[..., Any]) -> None:
    ssm = make_client("ssm")
    aio = aboto3.AIOClient(ssm)
    method = aio.get_parameter
    assert method is aio.get_parameter  # created once, then cached
    assert inspect.iscoroutinefunction(method)
    assert method.__name__ == "get_parameter"
    assert method.__doc__ is ssm.get_parameter.__doc__
    assert inspect.signature(method) == inspect.signature(ssm.get_parameter)
    for name in ssm.meta.method_to_api_mapping:
        assert inspect.iscoroutinefunction(getattr(aio, name)), name
    assert aio.meta is ssm.meta
    assert aio.exceptions is ssm.exceptions
    assert not inspect.iscoroutinefunction(aio.can_paginate)
    assert inspect.iscoroutinefunction(aio.generate_presigned_url)
    assert aio.waiter_names == ssm.waiter_names
    assert "get_parameter" in dir(aio)
    s3 = aboto3.AIOClient(make_client("s3"))
    for name in ("upload_file", "download_file", "upload_fileobj", "download_fileobj", "copy"):
        assert inspect.iscoroutinefunction(getattr(s3, name)), name


async def test_no_thread_leak_over_many_clients(make_client: Callable[..., Any]) -> None:
    sts = make_client("sts", max_pool_connections=3)
    baseline = live_threads()
    for _ in range(20):
        async with aboto3.AIOClient(sts) as aio:
            await asyncio.gather(*(aio.get_caller_identity() for _ in range(3)))
    # A joined Python thread (the pure-Python pool's) may linger in the OS for
    # a moment after join() returns; a leaked one never goes.
    await wait_until(lambda: live_threads() == baseline, "the thread count back to its baseline")
