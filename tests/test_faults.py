"""Network faults: every engine fails exactly as synchronous boto3 fails.

Each case puts a ``FaultProxy`` (tests/faultproxy.py) between a client and the
moto server. A plain boto3 client tells what boto3 does (exception class and
message, or the response); an ``AIOClient`` of the engine under test must do
the same after the same number of attempts (counted at the proxy and by a
``before-send`` hook). The two run at once, each through a proxy of its own,
boto3 on a thread, so slow faults cost their time once.

Each case also states what boto3 is known to do, so a proxy that failed to
inject its fault (and let both clients succeed) fails the test rather than
passing it. Retries are botocore's standard mode with ``max_attempts=2`` (two
retries, three attempts); the ``fast_retry_backoff`` fixture makes each retry
delay a fixed 20 ms so the file stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
)

from .conftest import REGION, comparable
from .faultproxy import FaultProxy

PARAM = "/fault/param"
BUCKET = "fault-bucket"
KEY = "blob.bin"
BLOB = bytes(range(256)) * 256  # 64 KiB, so a truncated body is cut mid-stream

# Short timeouts for the faults that wait on them; generous ones for the rest,
# so a loaded machine cannot turn an answer (or a reset) into a timeout.
SHORT = {"connect_timeout": 0.15, "read_timeout": 0.25}
LONG = {"connect_timeout": 5, "read_timeout": 5}
RETRIES = {"max_attempts": 2, "mode": "standard"}  # 2 retries: 3 attempts


@dataclass(frozen=True)
class Call:
    service: str
    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


GET_PARAMETER = Call("ssm", "get_parameter", {"Name": PARAM})  # JSON protocol
CALLER_IDENTITY = Call("sts", "get_caller_identity")  # query protocol, XML answer
LIST_OBJECTS = Call("s3", "list_objects_v2", {"Bucket": BUCKET})  # REST-XML
PUT_OBJECT = Call("s3", "put_object", {"Bucket": BUCKET, "Key": "up.bin", "Body": BLOB})


@dataclass(frozen=True)
class Fault:
    mode: str
    call: Call
    expect: str  # the boto3 outcome this fault is known to cause: a class name or "ok"
    requests: int  # requests the proxy reads (none if the connection never opens)
    options: dict[str, Any] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=lambda: dict(SHORT))
    sends: int | None = None  # attempts botocore makes, if not ``requests``


FAULTS = {
    # Nothing listens: refused at once, retried, never reaches the proxy.
    "refuse": Fault("refuse", GET_PARAMETER, "EndpointConnectionError", 0, sends=3),
    # SYNs dropped by a full accept queue: connect() times out.
    "stall_connect": Fault("stall_connect", GET_PARAMETER, "ConnectTimeoutError", 0, sends=3),
    # The request arrives, then RST instead of an answer.
    "reset": Fault("reset", GET_PARAMETER, "ConnectionClosedError", 3, timeouts=LONG),
    "reset_upload": Fault("reset", PUT_OBJECT, "ConnectionClosedError", 3, timeouts=LONG),
    # The request arrives, then a clean close (FIN) instead of an answer.
    "drop": Fault("drop", GET_PARAMETER, "ConnectionClosedError", 3, timeouts=LONG),
    # The request arrives and nothing ever comes back.
    "stall": Fault("stall", GET_PARAMETER, "ReadTimeoutError", 3),
    # Headers and 10 bytes of the body, then nothing more.
    "stall_mid_body": Fault(
        "truncate", GET_PARAMETER, "ReadTimeoutError", 3, {"keep": 10, "then": "stall"}
    ),
    # Bodies cut short by a clean close: tests/test_truncation.py.
    # Bytes trickle in, each gap far shorter than read_timeout (a loaded machine
    # may stretch one), the whole answer longer: the read timeout is per read,
    # so the call succeeds.
    "slow_progress": Fault(
        "slow",
        GET_PARAMETER,
        "ok",
        1,
        {"chunk": 48, "interval": 0.12},  # about 15 chunks: 1.8 s in all
        {"connect_timeout": 5, "read_timeout": 1.0},
    ),
    # The answer starts (64 bytes of its head), then the next bytes come
    # later than read_timeout.
    "slow_gap": Fault("slow", GET_PARAMETER, "ReadTimeoutError", 3, {"interval": 0.6}),
    # Throttled once, then forwarded: one retry, success.
    "throttle_recovers": Fault("throttle", GET_PARAMETER, "ok", 2, {"count": 1}, LONG),
    # Throttled every time: retries exhausted, a ClientError (the modeled
    # ThrottlingException where the SSM model has it: botocore 1.38 on).
    "throttle_exhausted": Fault("throttle", GET_PARAMETER, "ClientError", 3, {"count": 10}, LONG),
    "s3_slowdown_recovers": Fault(
        "throttle", LIST_OBJECTS, "ok", 2, {"count": 1, "style": "s3"}, LONG
    ),
    "s3_slowdown_exhausted": Fault(
        "throttle", LIST_OBJECTS, "ClientError", 3, {"count": 10, "style": "s3"}, LONG
    ),
}


class SendCounter:
    """A ``before-send`` hook: counts HTTP attempts botocore makes."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, **_: Any) -> None:
        self.count += 1


@dataclass
class Outcome:
    error: type[BaseException] | None
    message: str
    result: Any  # comparable() response, or the ClientError's response
    sends: int
    requests: int

    def describe(self) -> str:
        what = "ok" if self.error is None else self.error.__name__
        return f"{what} after {self.sends} sends / {self.requests} requests: {self.message[:200]}"


def new_client(url: str, service: str, **config: Any) -> tuple[Any, SendCounter]:
    options: dict[str, Any] = {"retries": dict(RETRIES), **config}
    if service == "s3":
        options["s3"] = {"addressing_style": "path"}
    client = boto3.client(service, region_name=REGION, endpoint_url=url, config=Config(**options))
    counter = SendCounter()
    client.meta.events.register("before-send", counter)
    return client, counter


def seed(moto_url: str) -> None:
    """State the calls need, written straight to moto (not through a proxy)."""
    ssm = boto3.client("ssm", region_name=REGION, endpoint_url=moto_url)
    ssm.put_parameter(Name=PARAM, Value="v" * 200, Type="String")
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=moto_url,
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=BLOB)
    for client in (ssm, s3):
        client.close()


def outcome_of(
    error: BaseException | None, result: Any, counter: SendCounter, proxy: FaultProxy
) -> Outcome:
    if error is None:
        return Outcome(None, "", comparable(result), counter.count, proxy.requests)
    # Messages name the endpoint; each client has a proxy (a port) of its own.
    message = str(error).replace(proxy.url, "<endpoint>")
    response = getattr(error, "response", None)
    return Outcome(type(error), message, comparable(response), counter.count, proxy.requests)


def run_sync(client: Any, counter: SendCounter, proxy: FaultProxy, call: Call) -> Outcome:
    try:
        result = getattr(client, call.method)(**call.kwargs)
    except Exception as error:
        return outcome_of(error, None, counter, proxy)
    return outcome_of(None, result, counter, proxy)


async def run_async(aio: Any, counter: SendCounter, proxy: FaultProxy, call: Call) -> Outcome:
    try:
        result = await asyncio.wait_for(getattr(aio, call.method)(**call.kwargs), 30)
    except Exception as error:
        return outcome_of(error, None, counter, proxy)
    return outcome_of(None, result, counter, proxy)


def assert_same_outcome(expected: Outcome, actual: Outcome) -> None:
    assert actual.error is expected.error, (
        f"boto3: {expected.describe()}\naboto3: {actual.describe()}"
    )
    assert actual.message == expected.message
    assert actual.result == expected.result
    assert (actual.sends, actual.requests) == (expected.sends, expected.requests), (
        f"boto3: {expected.describe()}\naboto3: {actual.describe()}"
    )


def check_fault_happened(fault: Fault, expected: Outcome) -> None:
    """The fault did to boto3 what it is known to do (else the proxy is broken)."""
    names = ["ok"] if expected.error is None else [c.__name__ for c in expected.error.__mro__]
    assert fault.expect in names, f"boto3 under {fault}: {expected.describe()}"
    sends = fault.requests if fault.sends is None else fault.sends
    assert (expected.sends, expected.requests) == (sends, fault.requests), expected.describe()


@pytest.mark.parametrize("name", list(FAULTS))
async def test_fault_like_boto3(
    name: str,
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
    fast_retry_backoff: float,
) -> None:
    fault = FAULTS[name]
    seed(moto_url)
    # boto3 and aboto3 each get a proxy of their own and run at the same time
    # (boto3 on a thread), which halves the time the slow faults take.
    sync_proxy = make_proxy(fault.mode, **fault.options)
    sync_client, sync_counter = new_client(sync_proxy.url, fault.call.service, **fault.timeouts)
    proxy = make_proxy(fault.mode, **fault.options)
    client, counter = new_client(proxy.url, fault.call.service, **fault.timeouts)
    aio = make_aio(client)
    expected, actual = await asyncio.gather(
        asyncio.to_thread(run_sync, sync_client, sync_counter, sync_proxy, fault.call),
        run_async(aio, counter, proxy, fault.call),
    )
    await aio.close()
    check_fault_happened(fault, expected)
    assert_same_outcome(expected, actual)
    if fault.call is PUT_OBJECT:  # every attempt sent the whole body again
        assert proxy.log == [("PUT", f"/{BUCKET}/up.bin")] * fault.requests
    sync_client.close()
    client.close()


# -- streaming bodies (S3 GetObject) -----------------------------------------


async def maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def read_body(body: Any, how: str) -> bytes:
    """Read a GetObject body whole (``read()``) or in pieces (``read(8192)``);
    awaits the reads if the engine's body is asynchronous."""
    if how == "whole":
        data: bytes = await maybe_await(body.read())
        return data
    parts = []
    while True:
        chunk = await maybe_await(body.read(8192))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


STREAM_FAULTS = {
    # Bodies cut short by a clean close: tests/test_truncation.py.
    # Half arrives, then nothing more: a read timeout in the middle of the body.
    "stall-mid-body": (
        "truncate",
        {"keep": len(BLOB) // 2, "then": "stall"},
        "pieces",
        "ReadTimeoutError",
    ),
    # The body trickles in, 4 KiB every 10 ms: slow but complete.
    "slow-body": ("slow", {"chunk": 4096, "interval": 0.01}, "pieces", "ok"),
}


@pytest.mark.parametrize("name", list(STREAM_FAULTS))
async def test_streaming_body_fault_like_boto3(
    name: str,
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
) -> None:
    mode, options, how, expect = STREAM_FAULTS[name]
    seed(moto_url)
    proxy = make_proxy(mode, **options)
    timeouts = {"connect_timeout": 5, "read_timeout": 0.5}

    sync_client, _ = new_client(proxy.url, "s3", **timeouts)
    response = sync_client.get_object(Bucket=BUCKET, Key=KEY)
    assert response["ContentLength"] == len(BLOB)
    try:
        data = await read_body(response["Body"], how)
    except Exception as error:
        expected: tuple[Any, ...] = (type(error), str(error))
    else:
        expected = (None, data)
    sync_requests = proxy.requests
    assert (expected[0].__name__ if expected[0] else "ok") == expect, expected
    if expect == "ok":
        assert expected[1] == BLOB

    proxy.reset_counts()
    client, _ = new_client(proxy.url, "s3", **timeouts)
    aio = make_aio(client)
    response = await aio.get_object(Bucket=BUCKET, Key=KEY)
    assert response["ContentLength"] == len(BLOB)
    try:
        data = await asyncio.wait_for(read_body(response["Body"], how), 30)
    except Exception as error:
        actual: tuple[Any, ...] = (type(error), str(error))
    else:
        actual = (None, data)
    assert actual[0] is expected[0], (expected, actual)
    if expected[0] is None or expected[0] is IncompleteReadError:
        # The data, or botocore's own length check ("N read, but total bytes
        # expected is M"). Other body errors embed the HTTP library's own words
        # (urllib3's IncompleteRead repr; a ReadTimeoutError whose URL urllib3
        # leaves as None): only their class is part of the contract.
        assert actual[1] == expected[1]
    assert proxy.requests == sync_requests == 1  # body errors are never retried
    await aio.close()
    sync_client.close()
    client.close()


# -- a server that goes away and comes back -------------------------------------


async def test_recovers_when_the_server_comes_back(
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
    fast_retry_backoff: float,
) -> None:
    """Pooled connections the server dropped are not reused, whatever happened."""
    seed(moto_url)
    proxy = make_proxy("forward")
    # The stall waits out read_timeout; the answers must come well within it.
    client, _ = new_client(
        proxy.url, "ssm", retries={"max_attempts": 0}, connect_timeout=5, read_timeout=2
    )
    aio = make_aio(client)
    first = await aio.get_parameter(Name=PARAM)
    for mode, error in [
        ("refuse", EndpointConnectionError),
        ("reset", ConnectionClosedError),
        ("stall", ReadTimeoutError),
        ("refuse", EndpointConnectionError),
    ]:
        proxy.set_mode(mode)
        with pytest.raises(error):
            await aio.get_parameter(Name=PARAM)
        proxy.set_mode("forward")
        again = await aio.get_parameter(Name=PARAM)
        assert comparable(again) == comparable(first)
    await aio.close()
    client.close()


# -- cancellation, closing, leaks ------------------------------------------------


async def test_close_releases_connections(
    moto_url: str, make_proxy: Callable[..., FaultProxy], make_aio: Callable[..., Any]
) -> None:
    """Once the AIOClient and its boto3 client are closed (and dropped), no
    connection of theirs stays open, as with a boto3 client alone."""
    seed(moto_url)
    proxy = make_proxy("forward")

    async def connections_left(use: Callable[[Any], Any]) -> int:
        client, _ = new_client(proxy.url, "ssm")
        await use(client)
        client.close()
        del client
        gc.collect()
        await settle(lambda: proxy.active_connections == 0, 30)
        return proxy.active_connections

    async def sync_calls(client: Any) -> None:
        for _ in range(3):
            client.get_parameter(Name=PARAM)

    async def aio_calls(client: Any) -> None:
        aio = make_aio(client)
        await asyncio.gather(*(aio.get_parameter(Name=PARAM) for _ in range(3)))
        await aio.close()

    expected = await connections_left(sync_calls)
    assert expected == 0
    assert await connections_left(aio_calls) == expected


def live_threads() -> int:
    """aboto3's worker threads (the C++ names them "aboto3-worker") and
    Python's, less the fault proxies' own, which come and go with the
    connections they serve. Not counted: aboto3's once-per-process threads
    ("aboto3-io", "aboto3-grow"), which start on first need (so whether this
    test starts them depends on what ran before it), and native threads of
    other libraries, whose exit the OS may report late."""
    python_threads = [t for t in threading.enumerate() if not t.name.startswith("faultproxy")]
    return len(python_threads) + thread_names().count("aboto3-worker")


def thread_names() -> list[str]:
    """What the OS calls each thread: to tell which one is left over."""
    names = []
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/comm") as comm:
            names.append(comm.read().strip())
    return sorted(names)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def settle(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def wait_for_requests(proxy: FaultProxy, count: int, timeout: float = 10) -> None:
    assert await settle(lambda: proxy.requests >= count, timeout), (
        f"the call never reached the proxy ({proxy.requests} requests)"
    )


READ_TIMEOUT = 2.0  # how long a stalled call takes to fail on its own
SHORT_LEAK = {"connect_timeout": 0.2, "read_timeout": 0.2}


async def test_cancel_during_stall_releases_the_caller(
    moto_url: str, make_proxy: Callable[..., FaultProxy], make_aio: Callable[..., Any]
) -> None:
    """Cancelling the awaiting task returns at once, before the abandoned call
    ends; that call ends by its read timeout at the latest, and leaves no
    connection behind."""
    seed(moto_url)
    proxy = make_proxy("stall")
    client, _ = new_client(proxy.url, "ssm", retries={"max_attempts": 0}, read_timeout=READ_TIMEOUT)
    ended: list[int] = []  # attempts that ended (on their read timeout, or aborted)
    client.meta.events.register("needs-retry.ssm.GetParameter", lambda **_: ended.append(1))
    aio = make_aio(client)
    task = asyncio.ensure_future(aio.get_parameter(Name=PARAM))
    await wait_for_requests(proxy, 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)  # a hang guard
    assert not ended, "cancelling waited for the call to end"
    # The loop is free meanwhile, and the client still works.
    proxy.set_mode("forward")
    assert (await asyncio.wait_for(aio.get_parameter(Name=PARAM), 30))["Parameter"]["Name"] == PARAM
    # The abandoned call lets go of its connection by its read timeout at the
    # latest (an engine may abort it sooner), and close() does not hang on it.
    assert await settle(lambda: proxy.stalled_connections == 0, READ_TIMEOUT + 30), (
        "the cancelled call's connection is still open"
    )
    await asyncio.wait_for(aio.close(), READ_TIMEOUT + 30)
    client.close()


async def test_close_with_a_call_in_flight(
    moto_url: str, make_proxy: Callable[..., FaultProxy], make_aio: Callable[..., Any]
) -> None:
    """``close()`` while a call is stalled: close neither hangs nor breaks the
    call, which ends as boto3's does (the README: calls in flight finish)."""
    seed(moto_url)
    proxy = make_proxy("stall")
    config = {"retries": {"max_attempts": 0}, "read_timeout": READ_TIMEOUT}
    sync_client, sync_counter = new_client(proxy.url, "ssm", **config)
    expected = run_sync(sync_client, sync_counter, proxy, GET_PARAMETER)
    assert expected.error is ReadTimeoutError

    client, _ = new_client(proxy.url, "ssm", **config)
    aio = make_aio(client)
    proxy.reset_counts()
    task = asyncio.ensure_future(aio.get_parameter(Name=PARAM))
    await wait_for_requests(proxy, 1)
    await asyncio.wait_for(aio.close(), READ_TIMEOUT + 30)
    assert aio.closed
    with pytest.raises(RuntimeError):
        await aio.get_parameter(Name=PARAM)
    done, _ = await asyncio.wait([task], timeout=READ_TIMEOUT + 30)
    assert done, "the call in flight never finished after close()"
    error = task.exception()
    assert type(error) is expected.error, repr(error)
    assert str(error).replace(proxy.url, "<endpoint>") == expected.message
    assert await settle(lambda: proxy.stalled_connections == 0, 30)
    sync_client.close()
    client.close()


async def test_no_fd_or_thread_leak(
    engine: str,
    moto_url: str,
    make_proxy: Callable[..., FaultProxy],
    make_aio: Callable[..., Any],
    fast_retry_backoff: float,
) -> None:
    """Rounds of concurrent faulted calls leave open files and threads as they were."""
    seed(moto_url)
    modes: list[tuple[str, dict[str, Any]]] = [
        ("refuse", {}),
        ("reset", {}),
        ("drop", {}),
        ("stall", {}),
        ("truncate", {"keep": 10, "then": "stall"}),
        ("throttle", {"count": 10**6}),
        ("forward", {}),
    ]
    proxies = [make_proxy(mode, **options) for mode, options in modes]
    # Whatever an engine starts once per process (an I/O thread) starts here.
    warm_client = new_client(proxies[-1].url, "ssm")[0]
    warm_aio = make_aio(warm_client)
    await warm_aio.get_parameter(Name=PARAM)
    await warm_aio.close()
    warm_client.close()
    threads_before_clients = live_threads()
    # Short timeouts make the faults quick; the one answering proxy gets long
    # ones, so a loaded machine cannot turn its answers into timeouts.
    clients = [
        new_client(p.url, "ssm", **(LONG if mode == "forward" else SHORT_LEAK))[0]
        for p, (mode, _) in zip(proxies, modes)
    ]
    aios = [make_aio(c) for c in clients]

    async def one_round() -> None:
        calls = [aio.get_parameter(Name=PARAM) for aio in aios for _ in range(3)]
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 60)
        ok = [o for o in outcomes if not isinstance(o, BaseException)]
        assert len(ok) == 3, outcomes  # only the "forward" proxy answers

    def quiet() -> bool:
        return all(p.active_connections <= 3 for p in proxies)

    await one_round()  # warm up: connection pools, worker threads, greenlets
    assert await settle(quiet, 30)
    gc.collect()
    fds, threads = open_fds(), live_threads()
    for _ in range(2):
        await one_round()
    assert await settle(quiet, 30)
    gc.collect()
    # Pooled keep-alive connections (each one an fd here and one in the proxy)
    # may differ by a few; a leak of one per faulted call would be 36.
    assert await settle(lambda: open_fds() <= fds + 6, 30), (open_fds(), fds)
    assert live_threads() <= threads + 2, (live_threads(), threads)

    for aio in aios:
        await asyncio.wait_for(aio.close(), 30)
    for client in clients:
        client.close()
    assert all(p.stalled_connections == 0 for p in proxies)
    if engine != "executor":  # an executor the caller passed in keeps its threads
        # Closed clients give their worker threads back.
        assert await settle(lambda: live_threads() <= threads_before_clients, 30), (
            live_threads(),
            threads_before_clients,
            thread_names(),
            [t.name for t in threading.enumerate()],
        )


# -- the proxy itself ------------------------------------------------------------


def test_fault_proxy_switches_modes_and_cleans_up(moto_url: str) -> None:
    """Listener modes switch at runtime on the same port, and closing the proxy
    leaves no thread and no open file behind."""
    fds = open_fds()
    with FaultProxy(moto_url) as proxy:
        address = ("127.0.0.1", proxy.port)
        sts = boto3.client("sts", region_name=REGION, endpoint_url=proxy.url)

        def connect(timeout: float = 0.3) -> None:
            socket.create_connection(address, timeout=timeout).close()

        for _ in range(2):
            assert sts.get_caller_identity()["Account"] == "123456789012"
            proxy.set_mode("refuse")
            with pytest.raises(ConnectionRefusedError):
                connect()
            proxy.set_mode("stall_connect")
            started = time.monotonic()
            with pytest.raises((socket.timeout, TimeoutError)):
                connect(0.3)
            assert time.monotonic() - started >= 0.25
            proxy.set_mode("forward")
        assert sts.get_caller_identity()["Account"] == "123456789012"
        assert proxy.requests == 3
        with pytest.raises(ValueError):
            proxy.set_mode("no-such-mode")
        with pytest.raises(TypeError):
            proxy.set_mode("reset", keep=3)
        sts.close()
        del sts
    assert not [t.name for t in threading.enumerate() if t.name.startswith("faultproxy")]
    gc.collect()  # urllib3 2.8 closes pooled sockets only when the pool is collected
    assert open_fds() <= fds
